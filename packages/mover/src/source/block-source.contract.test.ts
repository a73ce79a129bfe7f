import { randomBytes } from "node:crypto";
import { mkdtemp, open as openFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FerryError, isFerryError } from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NbdServer, startQemuNbd } from "../nbd/nbd-servers.test-helper.js";
import type { BlockSource } from "./block-source.js";
import { openFileSource } from "./file-source.js";
import { openNbdSource } from "./nbd-source.js";

const MiB = 1024 * 1024;

// One contract, every implementation: the same image read as a file and over NBD.
describe.each([
  {
    name: "file source",
    open: (image: string, _server: NbdServer) => openFileSource({ path: image }),
  },
  {
    name: "NBD source (qemu-nbd)",
    open: (_image: string, server: NbdServer) =>
      openNbdSource({ path: server.path, exportName: server.exportName }),
  },
])("BlockSource contract: $name", ({ open }) => {
  let dir: string;
  let image: string;
  let content: Buffer;
  let server: NbdServer;
  let source: BlockSource;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-contract-"));
    image = join(dir, "disk.raw");
    // Data, a zero run and data again, with an odd tail.
    content = Buffer.concat([randomBytes(3 * MiB), Buffer.alloc(4 * MiB), randomBytes(MiB + 4096)]);
    // Sparse: the zero run is a hole, which an NBD server answers with a hole chunk.
    await writeFile(image, content.subarray(0, 3 * MiB));
    await truncate(image, content.length);
    const fh = await openFile(image, "r+");
    await fh.write(content, 7 * MiB, content.length - 7 * MiB, 7 * MiB);
    await fh.close();
    server = await startQemuNbd({ image, format: "raw", exportName: "contract" });
    source = await open(image, server);
  });
  afterAll(async () => {
    await source?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("reports the image size and sane request sizes", () => {
    const c = source.capabilities;
    expect(c.sizeBytes).toBe(content.length);
    expect(c.preferredRequestBytes).toBeGreaterThan(0);
    expect(c.maxRequestBytes).toBeGreaterThanOrEqual(c.preferredRequestBytes);
    expect(c.maxInFlight).toBeGreaterThan(0);
  });

  it("reads exactly the image's bytes, many reads at once", async () => {
    const offsets = Array.from({ length: 64 }, (_, i) => (i * 131072) % (content.length - 65536));
    const parts = await Promise.all(offsets.map((o) => source.read(o, 65536)));
    parts.forEach((part, i) => {
      const o = offsets[i] as number;
      expect(Buffer.from(part).equals(content.subarray(o, o + 65536))).toBe(true);
    });
    const tail = await source.read(content.length - 4096, 4096);
    expect(Buffer.from(tail).equals(content.subarray(content.length - 4096))).toBe(true);
  });

  it("reads into a caller's array without copying, writing zeros over holes", async () => {
    const into = Buffer.alloc(8 * MiB, 0xff);
    const got = await source.read(0, 8 * MiB, undefined, into);
    expect(got).toBe(into);
    expect(into.equals(content.subarray(0, 8 * MiB))).toBe(true);
  });

  it("maps extents that cover the range in order, never calling data a zero", async () => {
    const extents = await source.extents(0, content.length);
    let at = 0;
    for (const e of extents) {
      expect(e.offset).toBe(at);
      at += e.lengthBytes;
      if (e.zero)
        expect(content.subarray(e.offset, e.offset + e.lengthBytes).every((b) => b === 0)).toBe(
          true,
        );
    }
    expect(at).toBe(content.length);
  });

  it("refuses a read past the end and an unknown dirty bitmap, naming them", async () => {
    await expect(source.read(content.length - 10, 4096)).rejects.toSatisfy((e: FerryError) =>
      isFerryError(e),
    );
    await expect(source.dirtyExtents("nope", 0, 4096)).rejects.toSatisfy(
      (e: FerryError) => isFerryError(e, "FAILED_PRECONDITION") && e.message.includes("nope"),
    );
  });
});
