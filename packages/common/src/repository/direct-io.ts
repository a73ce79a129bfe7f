// Writing new files around the page cache (O_DIRECT). Backup data is written once and read
// rarely: through the page cache it would evict what production VMs keep there, and on
// virtual machines filling fresh page-cache pages costs far more CPU than the copy itself.

import type { Stats } from "node:fs";
import { constants } from "node:fs";
import { type FileHandle, open, unlink } from "node:fs/promises";
import { errnoOf } from "./fs-errors.js";
import { writeNewFile } from "./native-files.js";
import { DIRECT_ALIGN, isDirectAligned, leaseSharedBuffer } from "./shared-buffers.js";

// O_DIRECT wants buffer address, length and file offset aligned to the logical block size.
const ALIGN = DIRECT_ALIGN;
const WASM_PAGE = 64 * 1024;

// The compiler's libs here have no WebAssembly types (no DOM lib); Node has the global.
type WasmMemory = new (size: { initial: number }) => { buffer: ArrayBuffer };
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: WasmMemory } }).WebAssembly;

/** Staging buffers for direct writes, and whether this filesystem takes them. */
export interface DirectIo {
  /** False once the filesystem refused O_DIRECT: callers write through the page cache. */
  readonly usable: boolean;
  /**
   * Creates `path` (O_EXCL) and writes `parts` to it directly; the handle is returned open
   * (for fsync), positioned nowhere. Undefined when direct I/O is not possible for it
   * (too large, or the filesystem refused: then never tried again); nothing was created.
   */
  createFile(
    path: string,
    parts: readonly Uint8Array[],
    mode: number,
  ): Promise<FileHandle | undefined>;
  /**
   * Writes `data`, a whole file already in page-aligned memory, to a new file `temp` around
   * the page cache, fsyncs it when `sync`, and renames it to `path`: one job on libuv's pool.
   * False when direct I/O is not possible for it (memory not aligned, or the filesystem
   * refused: then never tried again); nothing was created then.
   */
  writeNewFile(temp: string, path: string, data: Uint8Array, sync: boolean): Promise<boolean>;
  /**
   * Reads a whole file (at most one slot) around the page cache into a leased page-aligned
   * shared buffer (chunk workers use it in place; dispose of it after). `check` sees the
   * file's stat from the very handle read, before anything is allocated, and may throw to
   * refuse it. Undefined when direct I/O is not possible for it: read it buffered.
   */
  readFile(path: string, check?: (st: Stats) => void): Promise<DirectRead | undefined>;
  /**
   * Writes `data` at `offset` of `fh`, an O_DIRECT handle (see {@link openDirect}), when
   * both are aligned and `data` fits a slot; false when not (write it buffered instead).
   */
  writeAt(fh: FileHandle, offset: number, data: Uint8Array): Promise<boolean>;
}

/** A file read around the page cache: `file` is its bytes, in memory leased until disposed. */
export interface DirectRead extends Disposable {
  readonly file: Buffer;
}

/**
 * Opens `path` for writing around the page cache; undefined when the filesystem refuses
 * O_DIRECT (write through the page cache then).
 */
export async function openDirect(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, constants.O_WRONLY | constants.O_DIRECT);
  } catch (err) {
    if (errnoOf(err) === "EINVAL") return undefined;
    throw err;
  }
}

/**
 * Direct I/O with `slots` staging buffers of `slotBytes` each (file contents are copied there:
 * a memcpy is cheap beside a page-cache fill, and keeps alignment out of every caller).
 */
export function createDirectIo(slotBytes: number, slots = 4): DirectIo {
  return new StagedDirectIo(alignUp(slotBytes, WASM_PAGE), slots);
}

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

class StagedDirectIo implements DirectIo {
  #usable = true;
  #memory: Buffer | undefined;
  readonly #free: number[] = [];
  readonly #waiting: ((slot: number) => void)[] = [];

  constructor(
    readonly slotBytes: number,
    readonly slots: number,
  ) {
    for (let i = 0; i < slots; i++) this.#free.push(i);
  }

  get usable(): boolean {
    return this.#usable;
  }

  async createFile(
    path: string,
    parts: readonly Uint8Array[],
    mode: number,
  ): Promise<FileHandle | undefined> {
    const size = parts.reduce((n, p) => n + p.length, 0);
    if (!this.#usable || size > this.slotBytes || size === 0) return undefined;
    let fh: FileHandle;
    try {
      fh = await open(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT,
        mode,
      );
    } catch (err) {
      if (errnoOf(err) !== "EINVAL") throw err;
      this.#usable = false;
      // Linux may create the file before it refuses O_DIRECT: the buffered retry needs the name.
      await unlink(path).catch(() => {});
      return undefined;
    }
    const padded = alignUp(size, ALIGN);
    // A file already whole in aligned memory is written from there: whatever follows it up
    // to the block boundary goes too, and the truncate below cuts it off.
    const whole = parts.length === 1 && isDirectAligned(parts[0] as Uint8Array, padded);
    const slot = whole ? undefined : await this.#acquire();
    try {
      let from: Uint8Array;
      if (slot === undefined) {
        const part = parts[0] as Uint8Array;
        from = new Uint8Array(part.buffer, part.byteOffset, padded);
      } else {
        const staging = this.#slot(slot);
        let at = 0;
        for (const part of parts) {
          staging.set(part, at);
          at += part.length;
        }
        staging.fill(0, size, padded);
        from = staging;
      }
      let done = 0;
      while (done < padded) {
        const { bytesWritten } = await fh.write(from, done, padded - done, done);
        if (bytesWritten <= 0) throw new Error(`direct write of ${path} made no progress`);
        done += bytesWritten;
      }
      await fh.truncate(size);
      return fh;
    } catch (err) {
      await fh.close().catch(() => {});
      if (errnoOf(err) !== "EINVAL") throw err;
      // Opened but refused the write (alignment the device does not take): stop trying.
      this.#usable = false;
      await unlink(path).catch(() => {});
      return undefined;
    } finally {
      if (slot !== undefined) this.#release(slot);
    }
  }

  async writeNewFile(
    temp: string,
    path: string,
    data: Uint8Array,
    sync: boolean,
  ): Promise<boolean> {
    const padded = alignUp(data.length, ALIGN);
    if (!this.#usable || data.length === 0 || !isDirectAligned(data, padded)) return false;
    try {
      // Whatever follows the file up to the block boundary is written too, then cut off.
      const blocks = new Uint8Array(data.buffer, data.byteOffset, padded);
      await writeNewFile(temp, path, blocks, data.length, { direct: true, sync });
      return true;
    } catch (err) {
      const { syscall } = err as NodeJS.ErrnoException;
      if (errnoOf(err) !== "EINVAL" || (syscall !== "open" && syscall !== "pwrite")) throw err;
      // The filesystem refuses O_DIRECT (or this alignment): stop trying.
      this.#usable = false;
      return false;
    }
  }

  async readFile(path: string, check?: (st: Stats) => void): Promise<DirectRead | undefined> {
    if (!this.#usable) return undefined;
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_DIRECT);
    } catch (err) {
      if (errnoOf(err) !== "EINVAL") throw err;
      this.#usable = false;
      return undefined;
    }
    let sizeBytes: number;
    try {
      const st = await fh.stat();
      check?.(st);
      sizeBytes = st.size;
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
    if (sizeBytes > this.slotBytes) {
      await fh.close().catch(() => {});
      return undefined;
    }
    const padded = alignUp(sizeBytes, ALIGN);
    const lease = leaseSharedBuffer(padded);
    try {
      let done = 0;
      while (done < sizeBytes) {
        // Whole aligned blocks: the last read comes back short at the end of the file.
        const { bytesRead } = await fh.read(lease.buffer, done, padded - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      const file = lease.buffer.subarray(0, Math.min(done, sizeBytes));
      return { file, [Symbol.dispose]: () => lease[Symbol.dispose]() };
    } catch (err) {
      lease[Symbol.dispose]();
      if (errnoOf(err) !== "EINVAL") throw err;
      this.#usable = false;
      return undefined;
    } finally {
      await fh.close().catch(() => {});
    }
  }

  async writeAt(fh: FileHandle, offset: number, data: Uint8Array): Promise<boolean> {
    if (
      !this.#usable ||
      offset % ALIGN !== 0 ||
      data.length % ALIGN !== 0 ||
      data.length > this.slotBytes
    )
      return false;
    const whole = isDirectAligned(data);
    const slot = whole ? undefined : await this.#acquire();
    try {
      let from = data;
      if (slot !== undefined) {
        from = this.#slot(slot);
        from.set(data, 0);
      }
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(from, done, data.length - done, offset + done);
        if (bytesWritten <= 0) throw new Error("direct write made no progress");
        done += bytesWritten;
      }
      return true;
    } catch (err) {
      if (errnoOf(err) !== "EINVAL") throw err;
      this.#usable = false;
      return false;
    } finally {
      if (slot !== undefined) this.#release(slot);
    }
  }

  #slot(i: number): Buffer {
    // WebAssembly memory is page-aligned, which O_DIRECT needs and Buffer allocation lacks.
    this.#memory ??= Buffer.from(
      new Memory({ initial: (this.slotBytes * this.slots) / WASM_PAGE }).buffer,
    );
    return this.#memory.subarray(i * this.slotBytes, (i + 1) * this.slotBytes);
  }

  #acquire(): Promise<number> {
    const slot = this.#free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(slot: number): void {
    const next = this.#waiting.shift();
    if (next) next(slot);
    else this.#free.push(slot);
  }
}
