import { randomUUID } from "node:crypto";
import { open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError, throwIfAborted } from "@ferry/common";
import type { ExportDevice, WritableDevice } from "../nbd-server/export-device.js";
import type { Extent } from "../source/block-source.js";

/** Granularity of the overlay: a partial write to a clean cluster copies it up first. */
const CLUSTER_BYTES = 64 * 1024;
const ZEROES = new Uint8Array(4 * 1024 * 1024);

/** Options of {@link openOverlayDevice}. */
export interface OverlayDeviceOptions {
  /** What reads see where nothing was written; never written to. */
  base: ExportDevice;
  /** Directory of the overlay's sparse scratch file; default the system temp dir. */
  dir?: string;
}

/**
 * A writable device over a read-only one: writes land in a sparse scratch file, reads
 * take written clusters from there and the rest from the base. The scratch file is
 * unlinked as soon as it is open, so nothing is left behind however the process ends.
 */
export async function openOverlayDevice(o: OverlayDeviceOptions): Promise<WritableDevice> {
  const { base } = o;
  const path = join(o.dir ?? tmpdir(), `ferry-overlay-${randomUUID()}.img`);
  const file = await open(path, "wx+", 0o600);
  try {
    await rm(path, { force: true });
    await file.truncate(base.sizeBytes);
  } catch (err) {
    await file.close();
    throw err;
  }
  // A nearly full disk may take part of a write: the rest must not silently stay zeros.
  const writeAll = async (data: Uint8Array, at: number) => {
    for (let done = 0; done < data.length; ) {
      const { bytesWritten } = await file.write(data, done, data.length - done, at + done);
      if (bytesWritten <= 0)
        throw new FerryError("NO_SPACE", "the overlay's disk took no more data");
      done += bytesWritten;
    }
  };
  const clusters = Math.ceil(base.sizeBytes / CLUSTER_BYTES);
  const written = new Uint8Array(Math.ceil(clusters / 8));
  const isWritten = (c: number) => ((written[c >> 3] as number) & (1 << (c & 7))) !== 0;
  const markWritten = (c: number) => {
    written[c >> 3] = (written[c >> 3] as number) | (1 << (c & 7));
  };
  // Writes go one at a time: a copy-up must not race another write to its cluster.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn);
    queue = run.catch(() => undefined);
    return run;
  };
  const copyUp = async (c: number, signal?: AbortSignal) => {
    if (isWritten(c)) return;
    const start = c * CLUSTER_BYTES;
    const length = Math.min(CLUSTER_BYTES, base.sizeBytes - start);
    await writeAll(await base.read(start, length, signal), start);
    markWritten(c);
  };
  const write = (offset: number, data: Uint8Array, signal?: AbortSignal) =>
    serial(async () => {
      throwIfAborted(signal, "overlay write");
      if (data.length === 0) return;
      const end = offset + data.length;
      const first = Math.floor(offset / CLUSTER_BYTES);
      const last = Math.floor((end - 1) / CLUSTER_BYTES);
      if (offset % CLUSTER_BYTES !== 0) await copyUp(first, signal);
      if (end % CLUSTER_BYTES !== 0 && end !== base.sizeBytes) await copyUp(last, signal);
      await writeAll(data, offset);
      for (let c = first; c <= last; c++) markWritten(c);
    });
  // Runs of clusters that are all written or all not, clipped to the range.
  const runs = (offset: number, lengthBytes: number) => {
    const out: { offset: number; lengthBytes: number; written: boolean }[] = [];
    const end = offset + lengthBytes;
    for (let at = offset; at < end; ) {
      const c = Math.floor(at / CLUSTER_BYTES);
      const to = Math.min(end, (c + 1) * CLUSTER_BYTES);
      const w = isWritten(c);
      const prev = out.at(-1);
      if (prev && prev.written === w) prev.lengthBytes += to - at;
      else out.push({ offset: at, lengthBytes: to - at, written: w });
      at = to;
    }
    return out;
  };
  let closed = false;
  return {
    sizeBytes: base.sizeBytes,
    writable: true,
    async read(offset, lengthBytes, signal) {
      const out = new Uint8Array(lengthBytes);
      await Promise.all(
        runs(offset, lengthBytes).map(async (r) => {
          const at = r.offset - offset;
          if (r.written) await file.read(out, at, r.lengthBytes, r.offset);
          else out.set(await base.read(r.offset, r.lengthBytes, signal), at);
        }),
      );
      return out;
    },
    async extents(offset, lengthBytes, signal) {
      const out: Extent[] = [];
      for (const r of runs(offset, lengthBytes)) {
        const parts = r.written
          ? [{ offset: r.offset, lengthBytes: r.lengthBytes, zero: false }]
          : await base.extents(r.offset, r.lengthBytes, signal);
        for (const e of parts) {
          const last = out.at(-1);
          if (last && last.zero === e.zero) last.lengthBytes += e.lengthBytes;
          else out.push({ ...e });
        }
      }
      return out;
    },
    write,
    async writeZeroes(offset, lengthBytes, signal) {
      for (let at = 0; at < lengthBytes; at += ZEROES.length)
        await write(
          offset + at,
          ZEROES.subarray(0, Math.min(ZEROES.length, lengthBytes - at)),
          signal,
        );
    },
    flush: () => serial(() => file.datasync()),
    async close() {
      if (closed) return;
      closed = true;
      await queue;
      await file.close();
    },
  };
}
