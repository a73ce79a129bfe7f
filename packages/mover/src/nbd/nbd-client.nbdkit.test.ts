import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FerryError } from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_ALLOCATION, NBD_STATE_HOLE, NBD_STATE_ZERO } from "./constants.js";
import { connectNbd } from "./nbd-client.js";
import {
  isAlive,
  type NbdServer,
  nbdinfoMap,
  runTool,
  startNbdkit,
} from "./nbd-servers.test-helper.js";
import { allZero, prng } from "./nbd-wire.test-helper.js";

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

/** What nbdkit-pattern-plugin serves: each 8-byte word holds its own offset, big-endian. */
function pattern(offset: number, lengthBytes: number): Buffer {
  const first = Math.floor(offset / 8) * 8;
  const words = Buffer.alloc(Math.ceil((offset + lengthBytes - first) / 8) * 8);
  for (let at = 0; at < words.length; at += 8) {
    // Offsets stay below 2^32 here: the high word is 0.
    words.writeUInt32BE(first + at, at + 4);
  }
  return words.subarray(offset - first, offset - first + lengthBytes);
}

describe("NBD client against nbdkit", () => {
  const started: NbdServer[] = [];
  const start = async (args: string[]) => {
    const server = await startNbdkit(args);
    started.push(server);
    return server;
  };
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-nbdkit-"));
  });

  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
    for (const s of started) {
      expect(isAlive(s.pid)).toBe(false);
      expect(existsSync(s.path)).toBe(false);
    }
  });

  it("reads the pattern plugin with 64 requests in flight at random offsets", async () => {
    const server = await start(["pattern", "64M"]);
    await using client = await connectNbd({ path: server.path, exportName: "" });
    expect(client.blockSize).toEqual({ minimum: 1, preferred: 4096, maximum: 32 * MiB });
    const random = prng(11);
    const ranges = Array.from({ length: 64 }, () => {
      const lengthBytes = 1 + Math.floor(random() * MiB);
      return [Math.floor(random() * (SIZE - lengthBytes)), lengthBytes] as const;
    });
    const reads = ranges.map(([offset, length]) => client.read(offset, length));
    expect(client.inFlight).toBe(64);
    const results = await Promise.all(reads);
    results.forEach((data, i) => {
      const [offset, length] = ranges[i] as readonly [number, number];
      expect(Buffer.from(data).equals(pattern(offset, length))).toBe(true);
    });
  });

  it("reads with simple replies when nbdkit refuses structured replies (--no-sr)", async () => {
    const server = await start(["--no-sr", "pattern", "64M"]);
    await using client = await connectNbd({
      path: server.path,
      exportName: "",
      metaContexts: [BASE_ALLOCATION],
    });
    expect(client.metaContexts.size).toBe(0);
    const ranges = Array.from(
      { length: 64 },
      (_, i) => [i * 997 * 1024 + i, 64 * 1024 + i] as const,
    );
    const results = await Promise.all(
      ranges.map(([offset, length]) => client.read(offset, length)),
    );
    results.forEach((data, i) => {
      const [offset, length] = ranges[i] as readonly [number, number];
      expect(Buffer.from(data).equals(pattern(offset, length))).toBe(true);
    });
  });

  it("reads sparse-random byte for byte like nbdcopy, and maps it like nbdinfo", async () => {
    const server = await start(["sparse-random", "64M", "seed=42"]);
    const copy = join(dir, "sparse.raw");
    await runTool("nbdcopy", [server.uri, copy]);
    const expected = await readFile(copy);
    await using client = await connectNbd({
      path: server.path,
      exportName: "",
      metaContexts: [BASE_ALLOCATION],
    });
    const chunks = Array.from({ length: 64 }, (_, i) => client.read(i * MiB, MiB));
    const whole = Buffer.concat(await Promise.all(chunks));
    expect(whole.equals(expected)).toBe(true);

    const map: { offset: number; lengthBytes: number; flags: number }[] = [];
    for (let at = 0; at < SIZE; ) {
      for (const e of await client.blockStatus(BASE_ALLOCATION, at, SIZE - at)) {
        const end = Math.min(e.offset + e.lengthBytes, SIZE);
        const last = map.at(-1);
        if (last?.flags === e.flags) last.lengthBytes += end - e.offset;
        else map.push({ offset: e.offset, lengthBytes: end - e.offset, flags: e.flags });
        at = end;
      }
    }
    expect(map).toEqual(await nbdinfoMap(server.uri));
    // Every range the map calls hole+zero really reads as zeros.
    for (const e of map.filter((m) => m.flags === (NBD_STATE_HOLE | NBD_STATE_ZERO))) {
      expect(expected.subarray(e.offset, e.offset + e.lengthBytes).every((b) => b === 0)).toBe(
        true,
      );
    }
  });

  it("maps the memory plugin as one hole that reads as zeros", async () => {
    const server = await start(["memory", "64M"]);
    await using client = await connectNbd({
      path: server.path,
      exportName: "",
      metaContexts: [BASE_ALLOCATION],
    });
    expect(client.readOnly).toBe(false);
    expect(await client.blockStatus(BASE_ALLOCATION, 0, SIZE)).toEqual([
      { offset: 0, lengthBytes: SIZE, flags: NBD_STATE_HOLE | NBD_STATE_ZERO },
    ]);
    // nbdkit may describe past a short request (here: to the end of its 32 KiB page).
    const [extent] = await client.blockStatus(BASE_ALLOCATION, 4096, 1000);
    expect(extent?.offset).toBe(4096);
    expect(extent?.lengthBytes).toBeGreaterThanOrEqual(1000);
    expect(allZero(await client.read(SIZE - 4096, 4096))).toBe(true);
  });

  it("turns the error filter's EIO into a clean, retryable error on a usable connection", async () => {
    const server = await start([
      "--filter=error",
      "pattern",
      "64M",
      "error-pread-rate=1",
      "error-pread=EIO",
    ]);
    await using client = await connectNbd({
      path: server.path,
      exportName: "",
      metaContexts: [BASE_ALLOCATION],
    });
    const failures = await Promise.all(
      Array.from({ length: 8 }, (_, i) => client.read(i * 4096, 4096).catch((e: FerryError) => e)),
    );
    for (const err of failures) {
      expect(err).toMatchObject({
        code: "UNAVAILABLE",
        retryable: true,
        details: { nbdError: "EIO" },
      });
    }
    expect((failures[0] as FerryError).message).toBe(
      "NBD read of [0, +4096) failed: EIO (input/output error)",
    );
    expect(await client.blockStatus(BASE_ALLOCATION, 0, 4096)).toHaveLength(1);
  });

  it("maps EPERM from the server to PERMISSION_DENIED", async () => {
    const server = await start([
      "--filter=error",
      "pattern",
      "1M",
      "error-pread-rate=1",
      "error-pread=EPERM",
    ]);
    await using client = await connectNbd({ path: server.path, exportName: "" });
    await expect(client.read(0, 512)).rejects.toMatchObject({
      code: "PERMISSION_DENIED",
      details: { nbdError: "EPERM" },
    });
  });

  it("fails with the Debian package to install when nbdkit is missing", async () => {
    const path = process.env.PATH;
    process.env.PATH = dir;
    try {
      await expect(startNbdkit(["memory", "1M"])).rejects.toThrow(
        "nbdkit is not installed: install the Debian package nbdkit",
      );
    } finally {
      process.env.PATH = path;
    }
  });

  it("shows the server's stderr when it exits early", async () => {
    await expect(startNbdkit(["no-such-plugin-xyz"])).rejects.toThrow(
      /nbdkit exited early .*no-such-plugin-xyz/s,
    );
  });
});
