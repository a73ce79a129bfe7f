import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FerryError } from "../errors/ferry-error.js";
import { createChunkStore } from "./chunk-store.js";
import { blake3Digest } from "./digest.js";
import { createFixedIndexWriter } from "./fixed-index.js";
import { ZERO_CHUNK_DIGEST } from "./format.js";
import { fsError } from "./fs-errors.js";

const errno = (code: string) => Object.assign(new Error(`${code}: something`), { code });

describe("fsError", () => {
  it.each([
    ["ENOSPC", "NO_SPACE", false],
    ["EDQUOT", "NO_SPACE", false],
    ["EACCES", "PERMISSION_DENIED", false],
    ["EPERM", "PERMISSION_DENIED", false],
    ["EROFS", "PERMISSION_DENIED", false],
    ["ENOENT", "NOT_FOUND", false],
    ["EMFILE", "RESOURCE_EXHAUSTED", true],
    ["EIO", "INTERNAL", false],
  ])("maps %s to %s (retryable %s)", (code, expected, retryable) => {
    const err = fsError(errno(code), "writing chunk ab", "/repo/chunks/ab");
    expect(err).toMatchObject({
      code: expected,
      retryable,
      details: { path: "/repo/chunks/ab", errno: code },
    });
    expect(err.message).toMatch(/^writing chunk ab failed/);
  });

  it("passes FerryErrors through", () => {
    const original = new FerryError("CORRUPT_DATA", "x");
    expect(fsError(original, "a", "b")).toBe(original);
  });
});

// A real full filesystem: a 1 MiB tmpfs. Mounting needs root, as the lab and CI have.

describe("on a full filesystem (1 MiB tmpfs)", () => {
  let base: string;
  let mountPoint: string;
  let mounted = false;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), "ferry-enospc-"));
    mountPoint = join(base, "mnt");
    await mkdir(mountPoint);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
    mounted = true;
  });
  afterAll(async () => {
    if (mounted) execFileSync("umount", [mountPoint]);
    await rm(base, { recursive: true, force: true });
  });

  it("a chunk put fails with NO_SPACE, not retryable, and leaves no temp file", async () => {
    const root = join(mountPoint, "chunks");
    const store = createChunkStore({ root, durability: "each" });
    const data = randomBytes(4 * 1024 * 1024);
    const digest = blake3Digest(data);
    const err = await store.put(digest, data).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "NO_SPACE", retryable: false });
    expect(await store.has(digest)).toBe(false);
    for (const dir of await readdir(root)) expect(await readdir(join(root, dir))).toEqual([]);
    await store.close();
  });

  it("a fixed index commit fails with NO_SPACE and can be retried elsewhere", async () => {
    const writer = createFixedIndexWriter({
      path: join(mountPoint, "big.fidx"),
      sizeBytes: 64 * 1024 * 4096,
      chunkSizeBytes: 4096,
    });
    for (let i = 0; i < writer.chunkCount; i++) writer.set(i, ZERO_CHUNK_DIGEST);
    const err = await writer.commit().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "NO_SPACE" });
    expect(await readdir(mountPoint)).not.toContain("big.fidx");
    expect((await readdir(mountPoint)).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
  });
});
