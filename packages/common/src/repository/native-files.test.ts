import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../errors/ferry-error.js";
import { fsyncPath, writeFileAtomic } from "./durable-fs.js";
import { readHead, syncPath, writeNewFile } from "./native-files.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("whole-file writes in one pool job", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-files-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the first `size` bytes under the final name and leaves no temporary file", async () => {
    const data = randomBytes(100_000);
    await writeNewFile(join(dir, ".tmp-a"), join(dir, "a"), data, 70_000, {
      direct: false,
      sync: true,
    });
    expect(sha(await readFile(join(dir, "a")))).toBe(sha(data.subarray(0, 70_000)));
    expect(await readdir(dir)).toEqual(["a"]);
  });

  it("never writes into a temporary file that exists already (someone else's)", async () => {
    const theirs = join(dir, ".tmp-theirs");
    await writeFile(theirs, "in progress");
    const err = await writeNewFile(theirs, join(dir, "b"), randomBytes(10), 10, {
      direct: false,
      sync: false,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "EEXIST", syscall: "open", path: theirs });
    expect(await readFile(theirs, "utf8")).toBe("in progress");
    await expect(readFile(join(dir, "b"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("names the cause and the file when the directory is missing, as node:fs would", async () => {
    const path = join(dir, "gone", "c");
    const err = await writeFileAtomic(path, [randomBytes(10)], {
      fsync: true,
      what: "chunk c",
      direct: undefined,
    }).catch((e: unknown) => e);
    expect(isFerryError(err, "NOT_FOUND")).toBe(true);
    expect((err as Error).message).toMatch(/^writing chunk c failed: ENOENT: no such file/);
    expect((err as { details?: unknown }).details).toMatchObject({ path, errno: "ENOENT" });
  });

  it("fsyncs files and directories by path, and names a missing one", async () => {
    await writeFile(join(dir, "d"), "x");
    await syncPath(join(dir, "d"));
    await syncPath(dir);
    const err = await fsyncPath(join(dir, "nope"), "syncing a chunk").catch((e: unknown) => e);
    expect(isFerryError(err, "NOT_FOUND")).toBe(true);
    expect((err as Error).message).toContain("syncing a chunk failed: ENOENT");
  });

  it("reads a file's first bytes and size in one job: as many as it has, none of a directory", async () => {
    const data = randomBytes(100);
    await writeFile(join(dir, "h"), data);
    const head = Buffer.alloc(32);
    expect(await readHead(join(dir, "h"), head)).toEqual({ sizeBytes: 100 });
    expect(head.equals(data.subarray(0, 32))).toBe(true);
    const roomy = Buffer.alloc(200);
    expect(await readHead(join(dir, "h"), roomy)).toEqual({ sizeBytes: 100 });
    expect(roomy.subarray(0, 100).equals(data)).toBe(true);
    expect(roomy.subarray(100).every((b) => b === 0)).toBe(true);
    expect(await readHead(dir, Buffer.alloc(8))).toEqual({ sizeBytes: -1 });
    // A missing file is an answer, not an error; anything else names the cause and the path.
    expect(await readHead(join(dir, "absent"), head)).toBeUndefined();
    const err = await readHead(join(dir, "h", "under-a-file"), head).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "ENOTDIR",
      syscall: "open",
      path: join(dir, "h", "under-a-file"),
    });
  });

  it("refuses arguments that are not what it writes, before touching the disk", async () => {
    const call = writeNewFile as (...args: unknown[]) => Promise<void>;
    const opts = { direct: false, sync: false };
    await expect(call(join(dir, ".tmp-e"), join(dir, "e"), "text", 4, opts)).rejects.toThrow(
      /expected \(temp, path, data: Uint8Array/,
    );
    // A size past the data would write memory that is not the file's.
    await expect(
      call(join(dir, ".tmp-e"), join(dir, "e"), Buffer.alloc(4), 5, opts),
    ).rejects.toThrow(/size <= data.length/);
    await expect(
      call(join(dir, ".tmp-\0e"), join(dir, "e"), Buffer.alloc(4), 4, opts),
    ).rejects.toThrow(/without NUL/);
    expect((await readdir(dir)).filter((n) => n.endsWith("e"))).toEqual([]);
  });
});
