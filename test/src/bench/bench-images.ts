// The raw images the throughput benchmark backs up: one laid out like a real guest
// filesystem, one in large aligned segments. Both seeded: the same bytes in every run.
import { open } from "node:fs/promises";
import { prng } from "@ferry/common";
import { textLike } from "./bench-data.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 4 * MiB;
const SEGMENT = 64 * MiB;

/** What an image holds, bytes. */
export interface ImageMix {
  randomBytes: number;
  textBytes: number;
  holeBytes: number;
  /** Data extents that start or end inside a 4 MiB chunk (all of them, for the real shape). */
  unalignedExtents: number;
  extents: number;
}

/** "39% random, 17% text, 44% holes" */
export function describeMix(m: ImageMix): string {
  const total = m.randomBytes + m.textBytes + m.holeBytes;
  const pct = (n: number) => `${Math.round((100 * n) / total)}%`;
  return `${pct(m.randomBytes)} random, ${pct(m.textBytes)} text, ${pct(m.holeBytes)} holes`;
}

function emptyMix(): ImageMix {
  return { randomBytes: 0, textBytes: 0, holeBytes: 0, unalignedExtents: 0, extents: 0 };
}

/** Fills `n` bytes of `out` with seeded random data. */
function fillRandom(out: Buffer, n: number, rnd: () => number): void {
  for (let o = 0; o + 4 <= n; o += 4) out.writeUInt32LE((rnd() * 2 ** 32) >>> 0, o);
}

/**
 * A sparse raw image shaped like a guest filesystem: runs of data extents of 64 KiB to 12 MiB
 * (random, like compressed or encrypted files, and text, like logs, about 70:30), between holes
 * of 4 to 68 MiB; every size a multiple of 64 KiB and no extent on a 4 MiB boundary, so holes
 * start and end inside chunks and chunks mix text, random data and zeros.
 */
export async function makeRealShapedImage(path: string, sizeBytes: number): Promise<ImageMix> {
  const rnd = prng(16);
  const units = (lo: number, hi: number) => (lo + Math.floor(rnd() * (hi - lo + 1))) * 64 * KiB;
  const text = textLike(12 * MiB);
  const random = Buffer.allocUnsafe(12 * MiB);
  const mix = emptyMix();
  const fh = await open(path, "w");
  try {
    await fh.truncate(sizeBytes);
    let at = units(1, 63); // the first extent starts inside the first chunk
    mix.holeBytes += at;
    while (at < sizeBytes) {
      // A run of 1 to 14 extents (about 46 MiB), then a hole (about 36 MiB).
      const extents = 1 + Math.floor(rnd() * 14);
      for (let e = 0; e < extents && at < sizeBytes; e++) {
        let length = Math.min(units(1, 192), sizeBytes - at);
        // Keep the extent's end off a chunk boundary (its start already is).
        if ((at + length) % CHUNK === 0 && at + length < sizeBytes) length += 64 * KiB;
        length = Math.min(length, sizeBytes - at);
        const isText = rnd() < 0.3;
        if (isText) {
          await fh.write(text, 0, length, at);
          mix.textBytes += length;
        } else {
          fillRandom(random, length, rnd);
          await fh.write(random, 0, length, at);
          mix.randomBytes += length;
        }
        mix.extents++;
        if (at % CHUNK !== 0 || (at + length) % CHUNK !== 0) mix.unalignedExtents++;
        at += length;
      }
      let hole = units(64, 1088); // 4 to 68 MiB
      if ((at + hole) % CHUNK === 0) hole += 64 * KiB;
      hole = Math.min(hole, Math.max(0, sizeBytes - at));
      mix.holeBytes += hole;
      at += hole;
    }
  } finally {
    await fh.close();
  }
  return mix;
}

/**
 * A sparse raw image in 64 MiB segments, aligned to the chunks, in a fixed cycle of random,
 * random, text-like, hole, hole (40% random, 20% text, 40% zeros): the case the code was
 * first tuned on.
 */
export async function makeAlignedImage(path: string, sizeBytes: number): Promise<ImageMix> {
  const rnd = prng(42);
  const text = textLike(SEGMENT);
  const mix = emptyMix();
  const fh = await open(path, "w");
  try {
    await fh.truncate(sizeBytes);
    const random = Buffer.alloc(SEGMENT);
    for (let at = 0, i = 0; at < sizeBytes; at += SEGMENT, i++) {
      const kind = i % 5;
      const length = Math.min(SEGMENT, sizeBytes - at);
      if (kind >= 3) {
        mix.holeBytes += length;
        continue;
      }
      let data: Buffer = text;
      if (kind < 2) {
        fillRandom(random, SEGMENT, rnd);
        data = random;
        mix.randomBytes += length;
      } else mix.textBytes += length;
      mix.extents++;
      await fh.write(data, 0, length, at);
    }
  } finally {
    await fh.close();
  }
  return mix;
}
