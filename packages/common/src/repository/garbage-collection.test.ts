import { randomBytes } from "node:crypto";
import { utimesSync } from "node:fs";
import { link, readdir, rename, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chunkDigestOf, digestToHex } from "./digest.js";
import { collectGarbage } from "./garbage-collection.js";
import type { Repository } from "./repository.js";
import { commitChunks, TEST_CHUNK, tempRepository } from "./repository-fixtures.test-helper.js";
import { verifyRestorePoints } from "./verify.js";

const CHUNK = TEST_CHUNK;
const HOUR = 3_600_000;

let dir: string;
let repo: Repository;
let dispose: () => Promise<void>;

beforeEach(async () => {
  ({ dir, repo, dispose } = await tempRepository("ferry-gc-"));
});

afterEach(() => dispose());

const backup = (vmId: string, parts: Buffer[]) => commitChunks(repo, vmId, parts);

async function chunkFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const fan of await readdir(join(dir, "chunks")))
    for (const f of await readdir(join(dir, "chunks", fan))) out.push(f);
  return out.sort();
}

/** Ages every chunk file, as if written long ago. */
async function ageChunks(ms: number): Promise<void> {
  const past = new Date(Date.now() - ms);
  for (const fan of await readdir(join(dir, "chunks")))
    for (const f of await readdir(join(dir, "chunks", fan)))
      await utimes(join(dir, "chunks", fan, f), past, past);
}

describe("garbage collection", () => {
  it("removes exactly the chunks no restore point references and reports the bytes freed", async () => {
    const shared = randomBytes(CHUNK);
    const onlyOld = randomBytes(CHUNK);
    const onlyNew = randomBytes(CHUNK);
    const old = await backup("vm", [shared, onlyOld]);
    await backup("vm", [shared, onlyNew]);
    await repo.deleteRestorePoint(old);
    await ageChunks(2 * HOUR);
    const before = await stat(
      join(
        dir,
        "chunks",
        digestToHex(chunkDigestOf(onlyOld)).slice(0, 4),
        digestToHex(chunkDigestOf(onlyOld)),
      ),
    );

    const dry = await collectGarbage(repo, { dryRun: true });
    expect(dry).toMatchObject({ chunksRemoved: 1, bytesFreed: before.size, dryRun: true });
    expect(await chunkFiles()).toHaveLength(3);

    const result = await collectGarbage(repo);
    expect(result).toMatchObject({
      restorePoints: 1,
      chunksReferenced: 2,
      chunksRemoved: 1,
      bytesFreed: before.size,
    });
    expect(await chunkFiles()).toEqual(
      [shared, onlyNew].map((d) => digestToHex(chunkDigestOf(d))).sort(),
    );
    expect((await verifyRestorePoints(repo)).badChunks).toEqual([]);
  });

  it("keeps unreferenced chunks newer than the grace period", async () => {
    const old = await backup("vm", [randomBytes(CHUNK)]);
    await backup("vm", [randomBytes(CHUNK)]);
    await repo.deleteRestorePoint(old);
    const result = await collectGarbage(repo, { graceMs: HOUR });
    expect(result).toMatchObject({ chunksRemoved: 0, chunksTooNew: 1, bytesFreed: 0 });
    expect(await chunkFiles()).toHaveLength(2);
  });

  it("keeps what a backup in progress wrote, deduplicated or referenced, even with no grace", async () => {
    const kept = randomBytes(CHUNK);
    const referenced = randomBytes(CHUNK);
    const old = await backup("vm", [kept, referenced, randomBytes(CHUNK)]);
    await repo.deleteRestorePoint(old);
    await ageChunks(2 * HOUR);
    // A backup starts: it deduplicates one chunk, references another, writes a new one.
    const writer = await repo.beginRestorePoint({ vmId: "vm2", vmName: "vm2" });
    const index = writer.addDisk({ diskId: "disk0", sizeBytes: 3 * CHUNK, chunkSizeBytes: CHUNK });
    const fresh = randomBytes(CHUNK);
    expect((await repo.chunks.put(chunkDigestOf(kept), kept)).written).toBe(false);
    expect(await repo.chunks.reference(chunkDigestOf(referenced))).toBe(true);
    await repo.chunks.put(chunkDigestOf(fresh), fresh);
    const during = await collectGarbage(repo, { graceMs: 0 });
    expect(during.chunksRemoved).toBe(1);
    for (const [i, d] of [kept, referenced, fresh].entries()) index.set(i, chunkDigestOf(d));
    await writer.commit({
      consistency: "crash",
      mode: "full",
      source: { moverId: "m", transport: "hotadd" },
      diskStats: { disk0: { bytesRead: 0, bytesNew: 0 } },
    });
    const report = await verifyRestorePoints(repo);
    expect(report.badChunks).toEqual([]);
    expect(report.restorePoints.map((s) => s.ok)).toEqual([true]);
  });

  it("keeps a chunk a backup deduplicates against while the collection is deciding to remove it", async () => {
    const data = randomBytes(CHUNK);
    const old = await backup("vm", [data]);
    await repo.deleteRestorePoint(old);
    await ageChunks(2 * HOUR);
    const hex = digestToHex(chunkDigestOf(data));
    const path = join(dir, "chunks", hex.slice(0, 4), hex);
    // The backup's touch lands after the sweep read the chunk's old time, before it acts.
    const swept = await repo.chunks.sweep({
      isReferenced: (h) => {
        if (h === hex) utimesSync(path, new Date(), new Date());
        return false;
      },
      cutoffMs: Date.now() - HOUR,
    });
    expect(swept).toMatchObject({ chunksRemoved: 0, chunksKept: 1 });
    expect(await chunkFiles()).toEqual([hex]);
    // Once that backup is gone too, the chunk goes.
    expect(
      (await repo.chunks.sweep({ isReferenced: () => false, cutoffMs: Date.now() + HOUR }))
        .chunksRemoved,
    ).toBe(1);
    expect(await chunkFiles()).toEqual([]);
  });

  it("finishes a collection that stopped with chunks moved aside: referenced ones go back", async () => {
    const needed = randomBytes(CHUNK);
    const garbage = randomBytes(CHUNK);
    const keep = await backup("vm", [needed]);
    const drop = await backup("vm2", [garbage]);
    await repo.deleteRestorePoint(drop);
    await ageChunks(2 * HOUR);
    for (const d of [needed, garbage]) {
      const hex = digestToHex(chunkDigestOf(d));
      const path = join(dir, "chunks", hex.slice(0, 4), hex);
      await rename(path, `${path}.gc`);
    }
    await collectGarbage(repo, { graceMs: 0 });
    expect(await chunkFiles()).toEqual([digestToHex(chunkDigestOf(needed))]);
    expect(
      (await verifyRestorePoints(repo, { restorePointIds: [keep] })).restorePoints[0]?.ok,
    ).toBe(true);
    // A copy written anew meanwhile stays as it is.
    const hex = digestToHex(chunkDigestOf(needed));
    const path = join(dir, "chunks", hex.slice(0, 4), hex);
    await link(path, `${path}.gc`);
    await collectGarbage(repo, { graceMs: 0 });
    expect(await chunkFiles()).toEqual([hex]);
  });

  it("removes old temp files and quarantined chunks but leaves foreign files", async () => {
    const id = await backup("vm", [randomBytes(CHUNK)]);
    const fan = (await readdir(join(dir, "chunks")))[0] as string;
    await writeFile(join(dir, "chunks", fan, ".tmp-crashed"), "x");
    await writeFile(join(dir, "chunks", fan, "README"), "x");
    await ageChunks(2 * HOUR);
    await collectGarbage(repo);
    expect((await readdir(join(dir, "chunks", fan))).sort()).toEqual(
      ["README", (await chunkFiles()).find((f) => f.length === 64) as string].sort(),
    );
    expect((await verifyRestorePoints(repo, { restorePointIds: [id] })).restorePoints[0]?.ok).toBe(
      true,
    );
  });
});
