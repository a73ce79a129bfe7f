import { randomBytes } from "node:crypto";
import { compress, uncompress } from "lz4-napi";
import { describe, expect, it } from "vitest";
import { prng } from "../util/prng.js";
import { decodeLz4Block, encodeLz4Block, Lz4BlockError, lz4BlockBound } from "./lz4-block.js";

// lz4-napi frames a block with a 4-byte size; the repository stores the bare block.
const block = async (data: Uint8Array) => (await compress(Buffer.from(data))).subarray(4);

function textish(bytes: number, seed: number): Uint8Array {
  const rnd = prng(seed);
  const words = ["backup ", "restore ", "chunk ", "ferry ", "\n", "disk ", "a", "zz "];
  let s = "";
  while (s.length < bytes) s += words[Math.floor(rnd() * words.length)];
  return Buffer.from(s.slice(0, bytes));
}

/** Our block of `data`, framed with lz4-napi's 4-byte size prefix for its decoder. */
function ours(data: Uint8Array): { block: Buffer; framed: Buffer } {
  const framed = Buffer.alloc(4 + lz4BlockBound(data.length));
  framed.writeUInt32LE(data.length, 0);
  const n = encodeLz4Block(data, framed.subarray(4));
  return { block: framed.subarray(4, 4 + n), framed: framed.subarray(0, 4 + n) };
}

describe("LZ4 block encoding", () => {
  it.each([
    ["text", textish(4 * 1024 * 1024, 4), 0.5],
    ["one repeated byte", new Uint8Array(1 << 20).fill(9), 0.01],
    ["random data", randomBytes(1 << 20), 1.01],
    ["12 bytes (too short for any match)", Buffer.from("abcdabcdabcd"), 1.1],
    ["13 bytes", Buffer.from("abcdabcdabcda"), 1.1],
    ["a single byte", Uint8Array.of(1), 2],
    [
      "matches ending right at the end rules",
      Buffer.concat([Buffer.from("x".repeat(100)), randomBytes(3), Buffer.from("x".repeat(20))]),
      0.6,
    ],
  ])("encodes %s into a block both decoders read back", async (_, data, maxRatio) => {
    const { block, framed } = ours(data);
    expect(block.length).toBeLessThanOrEqual(Math.ceil(data.length * maxRatio) + 16);
    const back = Buffer.alloc(data.length);
    decodeLz4Block(block, back);
    expect(back.equals(Buffer.from(data))).toBe(true);
    expect((await uncompress(framed)).equals(Buffer.from(data))).toBe(true);
  });

  it("round-trips random mixes of runs, text and noise", async () => {
    const rnd = prng(5);
    for (let i = 0; i < 40; i++) {
      const parts: Uint8Array[] = [];
      for (let p = 0; p < 8; p++) {
        const n = Math.floor(rnd() * 5000);
        const kind = Math.floor(rnd() * 3);
        parts.push(
          kind === 0 ? randomBytes(n) : kind === 1 ? textish(n, i * 8 + p) : Buffer.alloc(n, p),
        );
      }
      const data = Buffer.concat(parts);
      const { framed } = ours(data);
      expect((await uncompress(framed)).equals(data)).toBe(true);
    }
  });
});

describe("LZ4 block decoding", () => {
  it.each([
    ["text", textish(4 * 1024 * 1024, 1)],
    ["one repeated byte (overlapping matches)", new Uint8Array(1 << 20).fill(7)],
    ["a short repeating pattern", Buffer.from("abcabcabcab".repeat(5000))],
    ["random data", randomBytes(256 * 1024)],
    ["a single byte", Uint8Array.of(42)],
    ["mixed", Buffer.concat([randomBytes(5000), textish(70000, 2), Buffer.alloc(90000)])],
  ])("decodes what the native encoder made from %s", async (_, data) => {
    const out = Buffer.alloc(data.length);
    decodeLz4Block(await block(data), out);
    expect(out.equals(Buffer.from(data))).toBe(true);
  });

  it("agrees with the native decoder on blocks of every pattern length 1..64", async () => {
    for (let period = 1; period <= 64; period++) {
      const unit = randomBytes(period);
      const data = Buffer.concat(Array.from({ length: Math.ceil(20000 / period) }, () => unit));
      const compressed = await compress(data);
      const out = Buffer.alloc(data.length);
      decodeLz4Block(compressed.subarray(4), out);
      expect(out.equals(await uncompress(compressed))).toBe(true);
    }
  });

  it("refuses a block that decodes to another size, or that was cut short", async () => {
    const data = textish(100000, 3);
    const b = await block(data);
    expect(() => decodeLz4Block(b, Buffer.alloc(data.length - 1))).toThrow(Lz4BlockError);
    expect(() => decodeLz4Block(b, Buffer.alloc(data.length + 1))).toThrow(Lz4BlockError);
    expect(() => decodeLz4Block(b.subarray(0, b.length - 7), Buffer.alloc(data.length))).toThrow(
      Lz4BlockError,
    );
  });

  it("fails cleanly, never out of bounds, on garbage", () => {
    const rnd = prng(9);
    let failures = 0;
    for (let i = 0; i < 2000; i++) {
      const junk = Uint8Array.from({ length: 1 + Math.floor(rnd() * 64) }, () =>
        Math.floor(rnd() * 256),
      );
      try {
        decodeLz4Block(junk, Buffer.alloc(Math.floor(rnd() * 256)));
      } catch (err) {
        expect(err).toBeInstanceOf(Lz4BlockError);
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(1900);
  });
});
