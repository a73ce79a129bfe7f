// Shared pieces of the benchmarks: a lab VM with mixed data, and timing.
import { randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { prng } from "@ferry/common";
import { type Lab, startLab } from "../lab/lab.js";

const MiB = 1024 * 1024;

/** Seeded random bytes: different per seed, the same in every run. */
export function randomData(bytes: number, seed: number): Buffer {
  const rnd = prng(seed);
  const out = Buffer.allocUnsafe(bytes);
  for (let o = 0; o < bytes; o += 4) out.writeUInt32LE((rnd() * 2 ** 32) >>> 0, o);
  return out;
}

/** Text-like data: compressible, like logs and configuration. */
export function textLike(bytes: number): Buffer {
  const words = [
    "backup",
    "restore",
    "chunk",
    "mover",
    "datastore",
    "snapshot",
    "qemu",
    "nbd",
    "ferry",
    "index",
  ];
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const line = `${new Date(1_700_000_000_000 + i * 997).toISOString()} ${words[i % 10]} ${words[(i * 7) % 10]} id=${i} size=${(i * 4099) % 65536}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join("")).subarray(0, bytes);
}

/** The median of a non-empty list. */
/** borg create as the benchmarks run it: lz4, fixed 4 MiB chunks (Ferry's chunking). */
export const BORG_CREATE = [
  "create",
  "--compression",
  "lz4",
  "--chunker-params",
  "fixed,4194304",
] as const;

export const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Wall-clock seconds `fn` takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** A lab VM whose disk of `diskMiB` holds 60% data: 60% of it random, 40% text-like. */
export async function startDataLab(diskMiB: number): Promise<{ lab: Lab; randomMiB: number }> {
  const dataMiB = Math.floor(diskMiB * 0.6);
  const randomMiB = Math.floor(dataMiB * 0.6);
  process.stderr.write(
    `building a ${diskMiB} MiB lab disk with ${dataMiB} MiB of data (60% random, 40% text-like)...\n`,
  );
  const lab = await startLab({
    vms: 1,
    diskMiB,
    workload: false,
    extraFiles: {
      "data/random.bin": randomBytes(randomMiB * MiB),
      "data/log.txt": textLike(Math.floor(dataMiB * 0.4) * MiB),
    },
  });
  return { lab, randomMiB };
}

/** Bytes a directory tree occupies on disk (allocated blocks). */
export async function duBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await duBytes(path);
    else if (e.isFile()) total += (await stat(path)).blocks * 512;
  }
  return total;
}
