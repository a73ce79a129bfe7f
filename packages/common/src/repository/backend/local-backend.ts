// A repository backend on a local directory: one file per object, at the key's path, so a
// repository keeps the layout of docs/repository-format.md. Writes are durable when they
// return: temp file in the same directory, fsync, rename (or, create-only, hard link), fsync
// the directory (durable-fs.ts).
import type { Dirent } from "node:fs";
import { type FileHandle, mkdir, open, readdir, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { FerryError } from "../../errors/ferry-error.js";
import { throwIfAborted } from "../../util/signals.js";
import { fsyncPath, readAt, writeFileAtomic, writeFileExclusive } from "../durable-fs.js";
import { TEMP_PREFIX } from "../format.js";
import { errnoOf, fsError } from "../fs-errors.js";
import { assertByteRange, tooLarge } from "./byte-range.js";
import { assertObjectKey, assertObjectPrefix, compareKeys } from "./object-keys.js";
import type {
  BackendCapabilities,
  GetObjectOptions,
  ListEntry,
  ListObjectsOptions,
  ObjectInfo,
  RepositoryBackend,
} from "./repository-backend.js";

/** Options of {@link createLocalBackend}. */
export interface LocalBackendOptions {
  /** The repository's directory; created (with its parents) on the first write. */
  root: string;
}

const CAPABILITIES: BackendCapabilities = {
  kind: "local",
  // Enough to keep a disk's queue busy, few descriptors.
  preferredConcurrency: 16,
  maxCreateOnlyBytes: Number.MAX_SAFE_INTEGER,
  touchableModifiedTimes: true,
};

// errno codes of a path that names no file: missing, or a component is not a directory.
const ABSENT = new Set(["ENOENT", "ENOTDIR"]);

/** A backend over the directory `root`. Does no I/O until used. */
export function createLocalBackend(options: LocalBackendOptions): RepositoryBackend {
  return new LocalBackend(resolve(options.root));
}

class LocalBackend implements RepositoryBackend {
  readonly capabilities = CAPABILITIES;
  private closed = false;

  constructor(readonly location: string) {}

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    const path = this.begin(key, signal, "stat");
    try {
      const st = await stat(path);
      return st.isFile() ? { key, sizeBytes: st.size, modifiedMs: st.mtimeMs } : undefined;
    } catch (err) {
      if (ABSENT.has(errnoOf(err) ?? "")) return undefined;
      throw this.error(err, `looking up ${key}`, path, key);
    }
  }

  async get(key: string, options: GetObjectOptions = {}): Promise<Buffer> {
    const path = this.begin(key, options.signal, "read");
    if (options.range) assertByteRange(options.range);
    let fh: FileHandle | undefined;
    try {
      fh = await open(path, "r");
      // Size and bytes from the one handle: a replaced file is read whole, old or new.
      const st = await fh.stat();
      if (!st.isFile()) throw notFound(this.location, key);
      const start = Math.min(options.range?.offsetBytes ?? 0, st.size);
      const end = options.range ? Math.min(st.size, start + options.range.lengthBytes) : st.size;
      if (options.maxBytes !== undefined && end - start > options.maxBytes) {
        throw tooLarge(this.location, key, end - start, options.maxBytes);
      }
      throwIfAborted(options.signal, `reading ${key}`);
      return await readAt(fh, end - start, start);
    } catch (err) {
      const errno = errnoOf(err) ?? "";
      if (ABSENT.has(errno) || errno === "EISDIR") throw notFound(this.location, key, err);
      throw this.error(err, `reading ${key}`, path, key);
    } finally {
      await fh?.close().catch(() => {});
    }
  }

  async put(key: string, parts: readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    const path = this.begin(key, signal, "write");
    await this.ensureParent(path, key);
    try {
      await writeFileAtomic(path, parts, { fsync: true, what: key });
    } catch (err) {
      throw this.error(err, `writing ${key}`, path, key);
    }
  }

  async putIfAbsent(
    key: string,
    parts: readonly Uint8Array[],
    signal?: AbortSignal,
  ): Promise<void> {
    const path = this.begin(key, signal, "create");
    await this.ensureParent(path, key);
    let created: boolean;
    try {
      created = await writeFileExclusive(path, parts, key);
    } catch (err) {
      throw this.error(err, `creating ${key}`, path, key);
    }
    if (!created) {
      throw new FerryError("ALREADY_EXISTS", `object ${key} already exists in ${this.location}`, {
        details: { key },
      });
    }
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    const path = this.begin(key, signal, "delete");
    try {
      await unlink(path);
    } catch (err) {
      if (ABSENT.has(errnoOf(err) ?? "")) return;
      throw this.error(err, `deleting ${key}`, path, key);
    }
  }

  async *list(prefix: string, options: ListObjectsOptions = {}): AsyncGenerator<ListEntry> {
    this.assertOpen();
    assertObjectPrefix(prefix);
    throwIfAborted(options.signal, "listing objects");
    const cut = prefix.lastIndexOf("/") + 1;
    yield* this.walk(prefix.slice(0, cut), prefix.slice(cut), options);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * The directory of keys `dirKey` ("" or ending in "/"), entries starting with `namePrefix`,
   * in key byte order: a directory sorts as its name with "/" (which is how its keys begin).
   */
  private async *walk(
    dirKey: string,
    namePrefix: string,
    options: ListObjectsOptions,
  ): AsyncGenerator<ListEntry> {
    const dir = join(this.location, dirKey);
    let dirents: Dirent[];
    try {
      dirents = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (ABSENT.has(errnoOf(err) ?? "")) return;
      throw this.error(err, `listing ${dirKey || "the repository"}`, dir, dirKey);
    }
    // A write in progress (or a crashed one) is no object; names no key can have neither.
    const named = dirents.filter(
      (d) => d.name.startsWith(namePrefix) && !d.name.startsWith(TEMP_PREFIX),
    );
    // A symbolic link lists as what it points to, as get and stat read through it.
    const kinds = await Promise.all(
      named.map(async (d) =>
        d.isSymbolicLink()
          ? (await stat(join(dir, d.name)).catch(() => undefined))?.isDirectory() === true
          : d.isDirectory(),
      ),
    );
    const entries = named
      .map((d, i) => ({
        isDir: kinds[i] === true,
        key: `${dirKey}${d.name}${kinds[i] ? "/" : ""}`,
      }))
      .filter(({ key }) => isListable(key))
      .sort((a, b) => compareKeys(a.key, b.key));
    const after = options.startAfter;
    for (const { isDir, key } of entries) {
      throwIfAborted(options.signal, "listing objects");
      if (isDir) {
        // Every key below sorts before `after`: nothing there to list.
        if (after !== undefined && key < after && !after.startsWith(key)) continue;
        if (options.delimited) yield { t: "prefix", key };
        else yield* this.walk(key, "", options);
        continue;
      }
      if (after !== undefined && key <= after) continue;
      const path = join(this.location, key);
      const st = await stat(path).catch((err: unknown) => {
        if (ABSENT.has(errnoOf(err) ?? "")) return undefined;
        throw this.error(err, `listing ${key}`, path, key);
      });
      if (st?.isFile()) yield { t: "object", key, sizeBytes: st.size, modifiedMs: st.mtimeMs };
    }
  }

  private begin(key: string, signal: AbortSignal | undefined, what: string): string {
    this.assertOpen();
    assertObjectKey(key);
    throwIfAborted(signal, `${what} of ${key}`);
    return join(this.location, key);
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new FerryError("FAILED_PRECONDITION", `backend ${this.location} is closed`);
    }
  }

  /**
   * Creates the directories of a new object's path; a directory created now is made durable
   * in its parent (and so on up to the first one that existed).
   */
  private async ensureParent(path: string, key: string): Promise<void> {
    const dir = dirname(path);
    let created: string | undefined;
    try {
      created = await mkdir(dir, { recursive: true });
    } catch (err) {
      throw this.error(err, `creating the directory of ${key}`, dir, key);
    }
    if (created === undefined) return;
    const top = dirname(created);
    for (let d = dirname(dir); ; d = dirname(d)) {
      await fsyncPath(d, `syncing the directory of ${key}`).catch((err: unknown) => {
        throw this.error(err, `syncing the directory of ${key}`, d, key);
      });
      if (d === top || d === dirname(d)) break;
    }
  }

  private error(err: unknown, what: string, path: string, key: string): FerryError {
    const e = fsError(err, what, path);
    e.details.key ??= key;
    return e;
  }
}

/** A key (or a directory's key, ending in "/") that the object-key rules allow. */
function isListable(key: string): boolean {
  const k = key.endsWith("/") ? key.slice(0, -1) : key;
  try {
    assertObjectKey(k);
    return true;
  } catch {
    return false;
  }
}

function notFound(location: string, key: string, cause?: unknown): FerryError {
  return new FerryError("NOT_FOUND", `object ${key} not found in ${location}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { key },
  });
}
