import { prng } from "@ferry/common";
import { describe, expect, it } from "vitest";
import type { ExportDevice } from "../nbd-server/export-device.js";
import { openOverlayDevice } from "./overlay-device.js";

const KiB = 1024;

function baseOf(data: Uint8Array): ExportDevice & { reads: number } {
  const device = {
    reads: 0,
    sizeBytes: data.length,
    writable: false as const,
    async read(offset: number, lengthBytes: number) {
      device.reads++;
      return data.slice(offset, offset + lengthBytes);
    },
    async extents(offset: number, lengthBytes: number) {
      // The second half is a hole.
      const half = data.length / 2;
      const out = [];
      if (offset < half)
        out.push({
          offset,
          lengthBytes: Math.min(offset + lengthBytes, half) - offset,
          zero: false,
        });
      if (offset + lengthBytes > half) {
        const from = Math.max(offset, half);
        out.push({ offset: from, lengthBytes: offset + lengthBytes - from, zero: true });
      }
      return out;
    },
    async close() {},
  };
  return device;
}

describe("a writable overlay over a read-only restore point", () => {
  it("reads back every write at any alignment, and the base is never written", async () => {
    const rnd = prng(7);
    const size = 1024 * KiB + 3000; // a short last cluster
    const base = new Uint8Array(size);
    for (let i = 0; i < size / 2; i++) base[i] = (rnd() * 256) | 0;
    const original = base.slice();
    const model = base.slice();
    const overlay = await openOverlayDevice({ base: baseOf(base) });
    try {
      const pending: Promise<void>[] = [];
      for (let n = 0; n < 200; n++) {
        const offset = Math.floor(rnd() * (size - 1));
        const length = 1 + Math.floor(rnd() * Math.min(size - offset, 200 * KiB) - 1);
        if (rnd() < 0.2) {
          model.fill(0, offset, offset + length);
          pending.push(overlay.writeZeroes(offset, length));
        } else {
          const data = new Uint8Array(length).map(() => (rnd() * 256) | 0);
          model.set(data, offset);
          pending.push(overlay.write(offset, data));
        }
        // Some writes overlap in flight, as a guest's may: order of issue must win.
        if (n % 5 === 4) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      await overlay.flush();
      expect(Buffer.from(await overlay.read(0, size)).equals(Buffer.from(model))).toBe(true);
      for (let n = 0; n < 50; n++) {
        const offset = Math.floor(rnd() * size);
        const length = Math.floor(rnd() * (size - offset));
        expect(
          Buffer.from(await overlay.read(offset, length)).equals(
            model.subarray(offset, offset + length),
          ),
        ).toBe(true);
      }
      expect(Buffer.from(base).equals(original)).toBe(true);
    } finally {
      await overlay.close();
    }
  });

  it("reports written clusters as data and the base's holes elsewhere", async () => {
    const size = 1024 * KiB;
    const overlay = await openOverlayDevice({ base: baseOf(new Uint8Array(size)) });
    try {
      expect(await overlay.extents(0, size)).toEqual([
        { offset: 0, lengthBytes: 512 * KiB, zero: false },
        { offset: 512 * KiB, lengthBytes: 512 * KiB, zero: true },
      ]);
      await overlay.write(700 * KiB + 5, new Uint8Array([1, 2, 3]));
      expect(await overlay.extents(512 * KiB, 512 * KiB)).toEqual([
        { offset: 512 * KiB, lengthBytes: 128 * KiB, zero: true },
        { offset: 640 * KiB, lengthBytes: 64 * KiB, zero: false },
        { offset: 704 * KiB, lengthBytes: 320 * KiB, zero: true },
      ]);
    } finally {
      await overlay.close();
    }
  });

  it("copies a cluster up from the base once, not on every write", async () => {
    const source = baseOf(new Uint8Array(256 * KiB).fill(9));
    const overlay = await openOverlayDevice({ base: source });
    try {
      for (let i = 0; i < 10; i++) await overlay.write(100 + i * 10, new Uint8Array([i]));
      expect(source.reads).toBe(1);
      const got = await overlay.read(0, 256);
      expect(got[100]).toBe(0);
      expect(got[190]).toBe(9);
      expect(got[99]).toBe(9);
    } finally {
      await overlay.close();
    }
  });
});
