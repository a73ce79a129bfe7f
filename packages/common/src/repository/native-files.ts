// Whole-file writes and fsyncs as one job each on libuv's pool (native/ferry-files.c): a chunk
// file took ten round trips between the pool and the JavaScript thread through node:fs.
import { requiredAddon } from "./native-addon.js";

interface FilesAddon {
  /** "" when done, else "CODE syscall message" (the temp file removed). */
  writeFileAtomic(
    temp: string,
    path: string,
    data: Uint8Array,
    size: number,
    direct: boolean,
    sync: boolean,
  ): Promise<string>;
  /** "" when done, else "CODE syscall message". */
  syncPath(path: string): Promise<string>;
  /** The size (-1: not a regular file), the first bytes in `into`; or "CODE syscall message". */
  readHead(path: string, into: Uint8Array): Promise<number | string>;
}

const files = requiredAddon<FilesAddon>("ferry-files", "Ferry's file addon", "a C compiler");

/** An error shaped like node:fs's (code, syscall, path), so callers classify both alike. */
function errnoError(outcome: string, path: string): NodeJS.ErrnoException {
  const [code = "EIO", syscall = "unknown", ...message] = outcome.split(" ");
  const err: NodeJS.ErrnoException = new Error(
    `${code}: ${message.join(" ").toLowerCase()}, ${syscall} '${path}'`,
  );
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

/** Options of {@link writeNewFile}. */
export interface NewFileOptions {
  /** O_DIRECT: `data` must start on a block boundary and span whole blocks past `size`. */
  direct: boolean;
  /** fsync the file before the rename. */
  sync: boolean;
}

/**
 * Creates `temp` (never an existing file), writes `data` to it, cuts it to `size` bytes,
 * renames it to `path`. Rejects with node:fs's kind of error (`code`, `syscall`); the
 * temporary file is gone then. `data` must not change until this settles.
 */
export async function writeNewFile(
  temp: string,
  path: string,
  data: Uint8Array,
  size: number,
  options: NewFileOptions,
): Promise<void> {
  const outcome = await files().writeFileAtomic(
    temp,
    path,
    data,
    size,
    options.direct,
    options.sync,
  );
  if (outcome !== "") throw errnoError(outcome, outcome.split(" ")[1] === "rename" ? path : temp);
}

/** fsyncs a file or directory by path; rejects with node:fs's kind of error. */
export async function syncPath(path: string): Promise<void> {
  const outcome = await files().syncPath(path);
  if (outcome !== "") throw errnoError(outcome, path);
}

/** What {@link readHead} found. */
export interface FileHead {
  /** The file's size; -1 when the path is not a regular file (nothing was read then). */
  sizeBytes: number;
}

/**
 * The first bytes of the file at `path` into `into` (as many as it has) and its size, in one
 * job: undefined when there is no such file, which is no error here (a chunk not yet stored).
 * Other failures reject with node:fs's kind of error.
 */
export async function readHead(path: string, into: Uint8Array): Promise<FileHead | undefined> {
  const outcome = await files().readHead(path, into);
  if (typeof outcome === "number") return { sizeBytes: outcome };
  if (outcome.startsWith("ENOENT ")) return undefined;
  throw errnoError(outcome, path);
}
