import { randomBytes } from "node:crypto";
import { compress } from "lz4-napi";
import { describe, expect, it } from "vitest";
import { prng } from "../util/prng.js";
import { decodeLz4Block, encodeLz4Block, Lz4BlockError } from "./lz4-native.js";

function textish(bytes: number, seed: number): Buffer {
  const rnd = prng(seed);
  const words = ["backup ", "restore ", "chunk ", "ferry ", "\n", "disk ", "a", "zz "];
  let s = "";
  while (s.length < bytes) s += words[Math.floor(rnd() * words.length)];
  return Buffer.from(s.slice(0, bytes));
}

const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

// A block Ferry's earlier JavaScript encoder wrote (repositories hold such chunks) of the data
// below: text, a run of one byte, a short repeating pattern.
const JS_ERA_BLOCK =
  "8gYKCgoKYQpiYWNrdXAgCgpmZXJyeSAGABJhBwBRZGlzayAFAIRyZXN0b3JlIAgAU2NodW5rLQACLAAUChsABEoAMmFhYSYAEgoHAANpAAFPADJ6eiAVAAQ1AAEWAAITADQKCmEWABNhiAADOwADBwADFQADVwARCjsAAxsACAwAApcAARIAKXp6qwACaAAIMwACLAAKsAAFhgAIKQAF5gACRAACOABBenogYWgABQ8AA00BAiUABGMBBfUAAicAA1cAAwcAAUAAFAorAJQKCnp6IHp6IApNAQgmAAErAC96epkBAwQdAAJ7AAX5AAKgAANGAAIcAAEqAAKLAAELAAR1AQENAAIjAAMwAAPOAAQhABBh8AADGwACQAASYYUBAToACRkAAh8ABTkAAxwAAwcAAOAAATMAAFEAM3p6IBcABC4AA3YAAkMABBkBAyQAAhUAAqUAAgwAAUkAAgsAAhcAAx8CC3UBBF0AAS8AAykAAQwAA1kABCAABAgABQUCBQkAAS4AAk8BE2E1AAMHAAEaAAQ5AAMUAAJjAAMNAAS0AQEpABIKRAACswAFXgAEPwAECAABKwADPwAAFAIQYQUABBAAA7ACJXp6lwMF8AECPwICXQAIBgADOwAEXwADDwADBwAAkQEF4QIGkQEDZwADJQAITgAERwAC5gAEDgAARwACJgAFfQETCo4BAL4AAi0AAiEAAgYABDkABAgACPUAA3YAARMABCAABAgAAj4AImEKfgIDDgAFdAABMwADPwAEMgACKgADFQACJAEEGwAFOwEBOAAQCpQCAlIABCEAArgAAR4AAQUAA0YACAwAAjEAA6AEBO4BAygAAwcABE4AAw8ACq4AAmMAAgYAAVgAAe8BIwphCwMCGQAGmQEDFwABKgAFuAEBDgACKgACBgAGagACnwADEAADPQALkAADHQACKgAFEwEFpgACUgAEjQMDDgACyQIBeAAE9AALVgAEDwAECAAN7wIDdwACSgADDQACXgADDQAFOgACmgADFgAKBwACGwAEnQAAwQEENgAPSwACAz0AAjYABGoGA7wBAjEAAi4CAdkAAiYABwsAAhEAAgYABR8BASAAA1gAAQwABIEACQ0AAuYABBsABWUBAnQABBcAA0YAB9wDAZMCBB8ABTYAA1kDAj0AAzUAAwcACRQAAg0AC/UBAuEACCoBAtEAA0EAAbYAAjkABHgADxMABQQgAAwIAANKAAoHAAJTAAO6AAQzAgdaAAELAAKKAAXoAA0zAgV1AQNcAARuCAMPAASJAAJHAAMVAAFZAAYFAAU0AwIKBAEZAAMqAAKjAAIGAAF5AQkYAAJVAAboBARtAAFCAANkAQW6AAfDAQQoABMKUwUCYAAJWwAAjQECFwACZQAOBgABZQAJNAAEVwAHagADIAAF4gADEAAKewILwAYERwADLAADBwAA7QcCNwAEtgADGQACmgADDQAIswACDAAETgADUgME5wEEFwACewIDPgACSwAB2QADLwABDAACFwAFMgAO3wACagACJwACDAAAPwEIEAADYQAHTwACKAADGAADBwAFJwEDlAIUYRoBAi0ACFEABI4ABZACBHAECYYGAjIAB7EAB4EAAy0JCQEBCGgABysAAQsAAikABJIAT2RpcwcBAP//qj9hYmMDAP//P1BiY2FiYw==";
const jsEraData = () =>
  Buffer.concat([
    textish(3000, 11),
    Buffer.alloc(700, 7),
    Buffer.from("abcabcabcabcabc".repeat(40)),
  ]);

async function roundTrip(data: Uint8Array): Promise<{ block: Uint8Array; back: Buffer }> {
  const out = Buffer.alloc(data.length + Math.ceil(data.length / 255) + 16);
  const n = await encodeLz4Block(data, out);
  const back = Buffer.alloc(data.length);
  await decodeLz4Block(out.subarray(0, n), back);
  return { block: out.subarray(0, n), back };
}

describe("LZ4 blocks through liblz4", () => {
  it.each([
    ["text", textish(4 * 1024 * 1024, 4), 0.5],
    ["one repeated byte", new Uint8Array(1 << 20).fill(9), 0.01],
    ["random data", randomBytes(1 << 20), 1.01],
    [
      "random then text in one chunk",
      Buffer.concat([randomBytes(1 << 19), textish(1 << 19, 2)]),
      0.8,
    ],
    ["a single byte", Uint8Array.of(1), 2],
  ])("encodes %s into a block that decodes back", async (_, data, maxRatio) => {
    const { block, back } = await roundTrip(data);
    expect(block.length).toBeLessThanOrEqual(Math.ceil(data.length * maxRatio) + 16);
    expect(equal(back, data)).toBe(true);
  });

  it("gives up (0) when the block would not fit: how a chunk that does not shrink is told", async () => {
    const random = randomBytes(1 << 20);
    expect(await encodeLz4Block(random, Buffer.alloc(random.length - 1))).toBe(0);
    const text = textish(1 << 20, 8);
    expect(await encodeLz4Block(text, Buffer.alloc(text.length - 1))).toBeGreaterThan(0);
  });

  it("reads blocks of Ferry's earlier JavaScript encoder, so old repositories restore", async () => {
    const data = jsEraData();
    const back = Buffer.alloc(data.length);
    await decodeLz4Block(Buffer.from(JS_ERA_BLOCK, "base64"), back);
    expect(back.equals(data)).toBe(true);
  });

  it("reads blocks of another encoder (lz4_flex) for every pattern length 1..64", async () => {
    for (let period = 1; period <= 64; period++) {
      const unit = randomBytes(period);
      const data = Buffer.concat(Array.from({ length: Math.ceil(20000 / period) }, () => unit));
      const back = Buffer.alloc(data.length);
      // lz4-napi frames the block with a 4-byte size.
      await decodeLz4Block((await compress(data)).subarray(4), back);
      expect(back.equals(data)).toBe(true);
    }
  });

  it("refuses a block that decodes to another size, or that was cut short", async () => {
    const data = textish(100000, 3);
    const { block } = await roundTrip(data);
    await expect(decodeLz4Block(block, Buffer.alloc(data.length - 1))).rejects.toThrow(
      Lz4BlockError,
    );
    await expect(decodeLz4Block(block, Buffer.alloc(data.length + 1))).rejects.toThrow(
      Lz4BlockError,
    );
    await expect(
      decodeLz4Block(block.subarray(0, block.length - 7), Buffer.alloc(data.length)),
    ).rejects.toThrow(Lz4BlockError);
  });

  it("fails cleanly, never out of bounds, on garbage", async () => {
    const rnd = prng(9);
    let failures = 0;
    for (let i = 0; i < 2000; i++) {
      const junk = Uint8Array.from({ length: 1 + Math.floor(rnd() * 64) }, () =>
        Math.floor(rnd() * 256),
      );
      await decodeLz4Block(junk, Buffer.alloc(Math.floor(rnd() * 256))).catch((err: unknown) => {
        expect(err).toBeInstanceOf(Lz4BlockError);
        failures++;
      });
    }
    expect(failures).toBeGreaterThan(1900);
  });

  it("refuses arguments that are not byte arrays", () => {
    expect(() => encodeLz4Block("text" as unknown as Uint8Array, Buffer.alloc(8))).toThrow(
      /expected \(src: Uint8Array, dst: Uint8Array\)/,
    );
  });
});
