import { open, rm } from "node:fs/promises";
import {
  type ChunkLease,
  createDirectIo,
  createSemaphore,
  FerryError,
  isZeroChunkDigest,
  openDirect,
  throwIfAborted,
} from "@ferry/common/core";
import { linkedAbort } from "../util/linked-abort.js";
import { runCommand } from "../util/run-command.js";

/** Reads verified chunks (the store checks every chunk's hash as it reads). */
export interface ChunkSource {
  get(digest: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
  /** `get` into lent, page-aligned memory, where the source can (a chunk store). */
  lease?(digest: Uint8Array, maxBytes: number, signal?: AbortSignal): Promise<ChunkLease>;
}

/** Options of {@link restoreDisk}. */
export interface RestoreDiskOptions {
  /** The disk's digests in chunk order (a fixed index). */
  digests: readonly Uint8Array[];
  sizeBytes: number;
  chunkSizeBytes: number;
  chunks: ChunkSource;
  /** Final image path: the disk is staged beside it, and the caller commits it there. */
  target: string;
  format: "raw" | "qcow2";
  /** Chunk reads in flight (16 default, as Proxmox found best); as many writes beside them. */
  parallel?: number;
  onProgress?: (bytesWritten: number) => void;
  signal?: AbortSignal;
}

/**
 * Writes a disk back out, sparse (zero chunks stay holes), to a new staged file beside
 * `target`, and resolves with its path: the caller moves it into place (commitTarget) or
 * removes it. A failed or cancelled restore leaves no file behind.
 */
export async function restoreDisk(
  options: RestoreDiskOptions,
): Promise<{ staged: string; bytesWritten: number }> {
  const { digests, chunkSizeBytes, sizeBytes } = options;
  const expected = Math.ceil(sizeBytes / chunkSizeBytes);
  if (digests.length !== expected) {
    throw new FerryError(
      "CORRUPT_DATA",
      `index has ${digests.length} chunks, a ${sizeBytes}-byte disk needs ${expected}`,
    );
  }
  const raw = `${options.target}.partial-${process.pid}.raw`;
  // "wx": a new file of ours, never one that was there, never through a planted symlink.
  const handle = await open(raw, "wx", 0o600).catch(refuseStaging(raw));
  // Whole chunks go around the page cache (a short last one through it).
  const directHandle = await openDirect(raw).catch(() => undefined);
  const direct = createDirectIo(chunkSizeBytes, 4);
  let bytesWritten = 0;
  using stop = linkedAbort(options.signal);
  try {
    await handle.truncate(sizeBytes); // holes everywhere until written
    let next = 0;
    // A read slot is free again while its chunk is written: the repository's disk always has
    // `parallel` reads queued, not fewer whenever lanes are busy writing.
    const parallel = options.parallel ?? 16;
    const reads = createSemaphore(parallel);
    const work = async () => {
      for (;;) {
        const i = next++;
        if (i >= digests.length) return;
        const digest = digests[i] as Uint8Array;
        if (isZeroChunkDigest(digest)) continue;
        throwIfAborted(stop.signal, "restore");
        const offset = i * chunkSizeBytes;
        const length = Math.min(chunkSizeBytes, sizeBytes - offset);
        // Lent memory when the source lends it: written out around the page cache as it is.
        using lease = await reads.run(async () =>
          options.chunks.lease
            ? await options.chunks.lease(digest, length, stop.signal)
            : { data: await options.chunks.get(digest, stop.signal), [Symbol.dispose]() {} },
        );
        const { data } = lease;
        if (data.length !== length) {
          throw new FerryError(
            "CORRUPT_DATA",
            `chunk ${Buffer.from(digest).toString("hex")} holds ${data.length} bytes, chunk ${i} needs ${length}`,
          );
        }
        // Only what is not zero: the image stays as sparse as the disk (and writes less).
        for (const run of lease.runs ?? [{ offset: 0, lengthBytes: length }]) {
          const part = data.subarray(run.offset, run.offset + run.lengthBytes);
          const at = offset + run.offset;
          if (!(directHandle && (await direct.writeAt(directHandle, at, part))))
            await handle.write(part, 0, part.length, at);
        }
        bytesWritten += length;
        options.onProgress?.(bytesWritten);
      }
    };
    await Promise.all(
      Array.from({ length: 2 * parallel }, () =>
        work().catch((err: unknown) => {
          stop.abort(err);
          throw err;
        }),
      ),
    );
    // A cancel that came while the last chunks were written still stops the commit.
    throwIfAborted(stop.signal, "restore");
    await directHandle?.sync();
    await directHandle?.close();
    await handle.sync();
    await handle.close();
    if (options.format === "qcow2") {
      // Convert into a second staged file of ours; the raw one goes either way.
      const partial = `${options.target}.partial-${process.pid}.qcow2`;
      await (await open(partial, "wx", 0o600).catch(refuseStaging(partial))).close();
      try {
        await runCommand("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", raw, partial], {
          debianPackage: "qemu-utils",
          signal: stop.signal,
        });
      } catch (err) {
        await rm(partial, { force: true });
        throw err;
      }
      await rm(raw, { force: true });
      return { staged: partial, bytesWritten };
    }
    return { staged: raw, bytesWritten };
  } catch (err) {
    await directHandle?.close().catch(() => undefined);
    await handle.close().catch(() => undefined);
    await rm(raw, { force: true });
    throw err;
  }
}

/** A staging name that is taken (a leftover, or planted) is refused, not reused. */
function refuseStaging(path: string) {
  return (err: NodeJS.ErrnoException): never => {
    throw new FerryError(
      err.code === "EEXIST" ? "ALREADY_EXISTS" : "FAILED_PRECONDITION",
      err.code === "EEXIST"
        ? `${path} exists (a leftover or a planted file): remove it, then restore again`
        : `cannot create ${path}: ${err.message}`,
      { cause: err, details: { path } },
    );
  };
}
