import { randomBytes } from "node:crypto";
import { type FileHandle, link, open, rename, rm, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { FerryError } from "../errors/ferry-error.js";
import type { DirectIo } from "./direct-io.js";
import { TEMP_PREFIX } from "./format.js";
import { fsError } from "./fs-errors.js";
import { syncPath, writeNewFile } from "./native-files.js";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** fsync the file before the rename and its directory after it (a durable write). */
  fsync: boolean;
  /** fsync the file before the rename even without `fsync`: the caller syncs the directory. */
  syncFile?: boolean;
  /** What is being written, for error messages ("chunk 1a2b…"). */
  what: string;
  /** Write around the page cache where the filesystem allows it. */
  direct?: DirectIo | undefined;
}

/** Writes every byte of `parts` at the handle's current position (writev may be partial). */
async function writeAll(fh: FileHandle, parts: readonly Uint8Array[]): Promise<void> {
  let pending = parts.filter((p) => p.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await fh.writev(pending);
    const rest: Uint8Array[] = [];
    for (const part of pending) {
      if (bytesWritten >= part.length) {
        bytesWritten -= part.length;
      } else {
        rest.push(part.subarray(bytesWritten));
        bytesWritten = 0;
      }
    }
    pending = rest;
  }
}

/**
 * Writes `parts` to `path` atomically: a temporary file in the same directory (so the rename
 * never crosses filesystems), written, optionally fsynced, renamed onto `path`, and the
 * directory optionally fsynced. Readers see the old file or the whole new one, never a part.
 * The temporary file is removed on any error. Returns the bytes written.
 */
export async function writeFileAtomic(
  path: string,
  parts: readonly Uint8Array[],
  options: AtomicWriteOptions,
): Promise<number> {
  const dir = dirname(path);
  const temp = join(dir, `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString("hex")}`);
  const syncFile = options.fsync || options.syncFile === true;
  const whole = parts.length === 1 ? (parts[0] as Uint8Array) : undefined;
  // A whole file in aligned memory, or one the page cache takes: one job on libuv's pool
  // instead of a round trip per step. Other direct writes are staged below.
  if (whole && (await writeWhole(temp, path, whole, syncFile, options))) {
    if (options.fsync) await fsyncPath(dir, `syncing the directory of ${options.what}`);
    return whole.length;
  }
  let fh: FileHandle | undefined;
  try {
    // Exclusive create: never reuse a file someone else is writing.
    fh = await options.direct?.createFile(temp, parts, 0o644);
    if (!fh) {
      fh = await open(temp, "wx", 0o644);
      await writeAll(fh, parts);
    }
    if (syncFile) await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(temp, path);
  } catch (err) {
    await fh?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw fsError(err, `writing ${options.what}`, path);
  }
  if (options.fsync) await fsyncPath(dir, `syncing the directory of ${options.what}`);
  return parts.reduce((n, p) => n + p.length, 0);
}

/** writeFileAtomic's one-job write of `data`; false when it needs staging for O_DIRECT. */
async function writeWhole(
  temp: string,
  path: string,
  data: Uint8Array,
  sync: boolean,
  options: AtomicWriteOptions,
): Promise<boolean> {
  const { direct } = options;
  try {
    if (await direct?.writeNewFile(temp, path, data, sync)) return true;
    if (direct?.usable) return false;
    await writeNewFile(temp, path, data, data.length, { direct: false, sync });
    return true;
  } catch (err) {
    throw fsError(err, `writing ${options.what}`, path);
  }
}

/**
 * Like {@link writeFileAtomic} with fsync, but never replaces an existing file: the complete
 * temporary file is hard-linked to `path`, which fails when `path` exists. Returns false (and
 * writes nothing) when it existed, so two processes creating the same file agree on one.
 */
export async function writeFileExclusive(
  path: string,
  parts: readonly Uint8Array[],
  what: string,
  mode = 0o644,
): Promise<boolean> {
  const dir = dirname(path);
  const temp = join(dir, `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString("hex")}`);
  let fh: FileHandle | undefined;
  let created = true;
  try {
    fh = await open(temp, "wx", mode);
    await writeAll(fh, parts);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await link(temp, path).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== "EEXIST") throw err;
      created = false;
    });
  } catch (err) {
    throw fsError(err, `writing ${what}`, path);
  } finally {
    await fh?.close().catch(() => {});
    await unlink(temp).catch(() => {});
  }
  if (created) await fsyncPath(dir, `syncing the directory of ${what}`);
  return created;
}

/**
 * fsyncs a file or directory by path (Linux flushes an inode through any descriptor, also a
 * read-only one). Used for directories after a rename and for files written without fsync.
 */
export async function fsyncPath(path: string, what: string): Promise<void> {
  try {
    await syncPath(path);
  } catch (err) {
    throw fsError(err, what, path);
  }
}

/** Removes a file or directory tree; a missing one is fine. */
export async function removeTree(path: string, what: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (err) {
    throw fsError(err, `removing ${what}`, path);
  }
}

/**
 * Reads `lengthBytes` at `position`. A file shorter than that yields fewer bytes (no error), so
 * the caller can report it as damage of that file.
 */
export async function readAt(
  fh: FileHandle,
  lengthBytes: number,
  position: number,
): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(lengthBytes);
  let done = 0;
  while (done < lengthBytes) {
    const { bytesRead } = await fh.read(buf, done, lengthBytes - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === lengthBytes ? buf : buf.subarray(0, done);
}

/**
 * Reads a small file whole, refusing it (CORRUPT_DATA naming `what` and the sizes) when it is
 * over `maxBytes`, before anything is allocated: a damaged or planted file must not make a
 * reader allocate gigabytes. Size and bytes come from one handle. Filesystem errors are
 * thrown as they are (callers map ENOENT their own way).
 */
export async function readBoundedFile(
  path: string,
  maxBytes: number,
  what: string,
): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) {
      throw new FerryError("CORRUPT_DATA", `${what} ${path} is ${size} bytes, over ${maxBytes}`);
    }
    return await readAt(fh, size, 0);
  } finally {
    await fh.close().catch(() => {});
  }
}
