import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { aeadBackend, gcmOpenInto, gcmSealInto } from "./aead-native.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("AES-256-GCM of sealed chunks", () => {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = Buffer.from("FRYSEAL1 and a digest");
  // A header that is not a multiple of the AES block, then a chunk: parts as the sealer has them.
  const header = randomBytes(33);
  const chunk = randomBytes(4 * 1024 * 1024 - 5);
  const parts = [header, chunk];
  const total = header.length + chunk.length;

  it("runs on the system's libcrypto (setup installs it; Node's own AES-GCM is 3x slower)", () => {
    expect(aeadBackend()).toEqual({ t: "libcrypto" });
  });

  it("writes what Node's crypto writes, and opens it in place", () => {
    const out = Buffer.alloc(total + 16 + 100);
    const n = gcmSealInto(key, nonce, aad, parts, out);
    expect(n).toBe(total + 16);
    const cipher = createCipheriv("aes-256-gcm", key, nonce).setAAD(aad);
    const reference = Buffer.concat([...parts.map((p) => cipher.update(p)), cipher.final()]);
    expect(sha(out.subarray(0, total))).toBe(sha(reference));
    expect(out.subarray(total, n).equals(cipher.getAuthTag())).toBe(true);

    const sealed = out.subarray(0, total);
    expect(gcmOpenInto(key, nonce, aad, sealed, out.subarray(total, n), sealed)).toBe(true);
    expect(sha(sealed)).toBe(sha(Buffer.concat(parts)));
  });

  it("opens what Node's crypto sealed, and refuses a flipped bit, another aad or key", () => {
    const data = randomBytes(70_001);
    const cipher = createCipheriv("aes-256-gcm", key, nonce).setAAD(aad);
    const sealed = Buffer.concat([cipher.update(data), cipher.final()]);
    const tag = cipher.getAuthTag();
    const open = (k: Uint8Array, a: Uint8Array, c: Buffer) =>
      gcmOpenInto(k, nonce, a, c, tag, Buffer.alloc(c.length));
    expect(open(key, aad, sealed)).toBe(true);
    const flipped = Buffer.from(sealed);
    flipped[12_345] = (flipped[12_345] as number) ^ 1;
    expect(open(key, aad, flipped)).toBe(false);
    expect(open(key, Buffer.from("another name"), sealed)).toBe(false);
    expect(open(randomBytes(32), aad, sealed)).toBe(false);
    // And Node's crypto opens what the addon sealed.
    const out = Buffer.alloc(data.length + 16);
    gcmSealInto(key, nonce, aad, [data], out);
    const decipher = createDecipheriv("aes-256-gcm", key, nonce).setAAD(aad);
    decipher.setAuthTag(out.subarray(data.length));
    const back = Buffer.concat([decipher.update(out.subarray(0, data.length)), decipher.final()]);
    expect(back.equals(data)).toBe(true);
  });

  it("refuses an output too small, a short key or a short tag with a TypeError", () => {
    expect(() => gcmSealInto(key, nonce, aad, parts, Buffer.alloc(total))).toThrow(/too small/);
    expect(() => gcmSealInto(randomBytes(16), nonce, aad, [], Buffer.alloc(16))).toThrow(
      /key: 32 bytes/,
    );
    expect(() =>
      gcmOpenInto(key, nonce, aad, Buffer.alloc(8), Buffer.alloc(4), Buffer.alloc(8)),
    ).toThrow(/tag: 16 bytes/);
  });
});
