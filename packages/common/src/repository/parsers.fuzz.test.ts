// Property-based tests: whatever damage a manifest, a fixed index or a chunk file takes, the
// parser either reads exactly what was written or fails with CORRUPT_DATA naming the file
// and the cause: never another error, never a crash, never wrong data.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FerryError } from "../errors/ferry-error.js";
import { decodeChunk, encodeChunk } from "./chunk-codec.js";
import { blake3Digest } from "./digest.js";
import { createFixedIndexWriter, readFixedIndex } from "./fixed-index.js";
import { parseManifest } from "./manifest.js";
import { goodManifest as good } from "./manifest-fixture.test-helper.js";

/** Byte-level damage: flips, a cut, or garbage spliced in. */
const damage: fc.Arbitrary<DamageT> = fc.oneof(
  fc.record({
    t: fc.constant("flip" as const),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ t: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({
    t: fc.constant("splice" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
);

function apply(bytes: Buffer, d: DamageT): Buffer {
  const at = d.at % Math.max(1, bytes.length);
  if (d.t === "flip") {
    const out = Buffer.from(bytes);
    out[at] = (out[at] as number) ^ d.mask;
    return out;
  }
  if (d.t === "cut") return bytes.subarray(0, at);
  return Buffer.concat([bytes.subarray(0, at), Buffer.from(d.bytes), bytes.subarray(at)]);
}
type DamageT =
  | { t: "flip"; at: number; mask: number }
  | { t: "cut"; at: number }
  | { t: "splice"; at: number; bytes: Uint8Array };

/** The error of `fn`, or undefined when it succeeded. */
async function failure(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

function expectCorruptNaming(err: unknown, name: string): void {
  expect(err).toBeInstanceOf(FerryError);
  expect((err as FerryError).code).toBe("CORRUPT_DATA");
  expect((err as FerryError).message).toContain(name);
}

describe("parsers under random damage", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-fuzz-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a manifest parses to the same manifest or fails with CORRUPT_DATA naming it", async () => {
    const text = Buffer.from(JSON.stringify(good, null, 2));
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        const damaged = apply(text, d).toString("utf8");
        const err = await failure(() => parseManifest(damaged, "/repo/rp/manifest.json"));
        if (err === undefined) {
          // Damage JSON does not see (whitespace) may pass; the result must still be sound.
          expect(parseManifest(damaged, "/repo/rp/manifest.json").disks).toHaveLength(1);
        } else if (!((err as FerryError).code === "FAILED_PRECONDITION"))
          expectCorruptNaming(err, "/repo/rp/manifest.json");
      }),
      { numRuns: 400 },
    );
  });

  it("a fixed index reads back unchanged or fails with CORRUPT_DATA naming the file", async () => {
    const path = join(dir, "disk0.fidx");
    const writer = createFixedIndexWriter({
      path,
      sizeBytes: 5 * 64 * 1024 + 100,
      chunkSizeBytes: 64 * 1024,
    });
    const digests = Array.from({ length: 6 }, (_, i) =>
      i === 2 ? new Uint8Array(32) : blake3Digest(Buffer.from([i])),
    );
    for (const [i, d] of digests.entries()) writer.set(i, d);
    await writer.commit();
    const original = await readFile(path);
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        const damagedPath = join(dir, "damaged.fidx");
        await writeFile(damagedPath, apply(original, d));
        const err = await failure(async () => {
          const index = await readFixedIndex(damagedPath);
          for (let i = 0; i < digests.length; i++)
            expect(Buffer.from(index.digestAt(i))).toEqual(Buffer.from(digests[i] as Uint8Array));
        });
        // Only the header's reserved bytes are outside the checksums (ignored by design):
        // damage anywhere else must be found, and there the digests still read back.
        if (err !== undefined) expectCorruptNaming(err, damagedPath);
      }),
      { numRuns: 300 },
    );
  });

  it("a chunk file decodes to its exact data or fails with CORRUPT_DATA naming the chunk", async () => {
    const samples = [randomBytes(20_000), Buffer.from("ferry chunk ".repeat(20_000))];
    for (const [data, version] of samples.flatMap((d) => [[d, 1] as const, [d, 2] as const])) {
      const digest = blake3Digest(data);
      const spec = version === 2 ? { version, digest } : { version };
      const encoded = await encodeChunk(data, "lz4", spec);
      const file = Buffer.concat([encoded.header, encoded.payload]);
      const name = Buffer.from(digest).toString("hex");
      await fc.assert(
        fc.asyncProperty(damage, fc.boolean(), async (d, checksum) => {
          const damaged = apply(file, d);
          let decoded: Uint8Array | undefined;
          const err = await failure(async () => {
            decoded = await decodeChunk(damaged, digest, { checksum });
          });
          if (err === undefined) expect(Buffer.from(decoded as Uint8Array).equals(data)).toBe(true);
          else expectCorruptNaming(err, name);
        }),
        { numRuns: 300 },
      );
    }
  });
});
