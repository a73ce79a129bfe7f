import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chunkDigestOf, isZeroChunkDigest } from "./digest.js";
import type { FixedIndexWriter } from "./fixed-index.js";
import { serializeManifest } from "./manifest.js";
import { rejection } from "./rejection.test-helper.js";
import { openRepository, type Repository } from "./repository.js";
import type {
  DiskStats,
  RestorePointCommitFields,
  RestorePointWriter,
} from "./restore-point-writer.js";

const CHUNK = 64 * 1024;

/** A disk image with random, compressible, zero and repeated chunks and a short tail. */
function makeImage(): Buffer {
  const text = Buffer.from("0123456789abcdef".repeat(CHUNK / 16));
  const parts = [
    randomBytes(CHUNK),
    text,
    Buffer.alloc(CHUNK),
    randomBytes(CHUNK),
    text,
    Buffer.alloc(CHUNK),
  ];
  return Buffer.concat([...parts, ...parts, randomBytes(1000)]);
}

/** What a backup pipeline does per disk: digest, put (dedup), record the slot. */
async function backupInto(
  repo: Repository,
  writer: FixedIndexWriter,
  image: Buffer,
  only?: Set<number>,
) {
  const stats: DiskStats = { bytesRead: 0, bytesNew: 0 };
  const slots = Array.from({ length: writer.chunkCount }, (_, i) => i).filter(
    (i) => !only || only.has(i),
  );
  await Promise.all(
    slots.map(async (i) => {
      const data = image.subarray(i * CHUNK, (i + 1) * CHUNK);
      stats.bytesRead += data.length;
      const digest = chunkDigestOf(data);
      const put = await repo.chunks.put(digest, data);
      if (put.written) stats.bytesNew += put.storedBytes;
      writer.set(i, digest);
    }),
  );
  return stats;
}

/** What a restore does: zeros for the zero digest, verified chunks for the rest. */
async function restore(repo: Repository, id: string, diskId: string): Promise<Buffer> {
  const index = await (await repo.openRestorePoint(id)).readIndex(diskId);
  const out = Buffer.alloc(index.sizeBytes);
  for (let i = 0; i < index.chunkCount; i++) {
    const digest = index.digestAt(i);
    if (isZeroChunkDigest(digest)) continue;
    const data = await repo.chunks.get(digest);
    expect(data.length).toBe(index.chunkLengthBytes(i));
    out.set(data, index.chunkOffsetBytes(i));
  }
  return out;
}

const fields = (diskStats: Record<string, DiskStats>): RestorePointCommitFields => ({
  consistency: "application",
  mode: "full",
  source: { moverId: "mover-a", transport: "hotadd" },
  diskStats,
});

describe("repository", () => {
  let base: string;
  let root: string;
  let repo: Repository;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), "ferry-repo-"));
    root = join(base, "repo");
    repo = await openRepository({ root, create: true });
  });
  afterEach(async () => {
    await repo.close();
    await rm(base, { recursive: true, force: true });
  });

  async function backup(vmId: string, images: Record<string, Buffer>, createdAt?: Date) {
    const rp = await repo.beginRestorePoint({
      vmId,
      vmName: `${vmId} name`,
      ...(createdAt ? { createdAt } : {}),
    });
    const diskStats: Record<string, DiskStats> = {};
    for (const [diskId, image] of Object.entries(images)) {
      const writer = rp.addDisk({ diskId, sizeBytes: image.length, chunkSizeBytes: CHUNK });
      diskStats[diskId] = await backupInto(repo, writer, image);
    }
    return { rp, manifest: await rp.commit(fields(diskStats)) };
  }

  describe("deleting restore points", () => {
    it("removes one restore point from the listing and disk, keeps the others restorable", async () => {
      const image = Buffer.alloc(CHUNK * 2, 7);
      const first = (await backup("vm-1", { disk0: image }, new Date("2026-01-01T00:00:00Z")))
        .manifest;
      const second = (await backup("vm-1", { disk0: image }, new Date("2026-01-02T00:00:00Z")))
        .manifest;
      await repo.deleteRestorePoint(first.restorePointId);
      expect((await repo.listRestorePoints()).map((m) => m.restorePointId)).toEqual([
        second.restorePointId,
      ]);
      expect(
        (await readdir(join(root, "restore-points"))).filter((n) => n.startsWith(".deleting")),
      ).toEqual([]);
      expect((await restore(repo, second.restorePointId, "disk0")).equals(image)).toBe(true);
      const gone = await rejection(repo.deleteRestorePoint(first.restorePointId));
      expect(gone.code).toBe("NOT_FOUND");
      expect((await rejection(repo.deleteRestorePoint("../etc"))).code).toBe("INVALID_ARGUMENT");
    });
  });

  describe("config", () => {
    // The magic of every chunk file: which kind of header each has.
    async function chunkMagics(): Promise<Set<string>> {
      const magics = new Set<string>();
      const chunks = join(root, "chunks");
      for (const dir of await readdir(chunks))
        for (const file of await readdir(join(chunks, dir)))
          magics.add((await readFile(join(chunks, dir, file))).subarray(0, 8).toString("latin1"));
      return magics;
    }

    it("writes name-bound chunk headers in a version 3 repository, payload checksums in a version 1 one, and reads both", async () => {
      const image = makeImage();
      const first = (await backup("vm-1", { disk0: image })).manifest;
      expect(await chunkMagics()).toEqual(new Set(["FRYCHR02", "FRYCHL02"]));
      // The same repository as a version 1 one (what an older Ferry made): its readers know
      // only version 1 headers, so new chunks keep them.
      await repo.close();
      const path = join(root, "repository.json");
      const config = JSON.parse(await readFile(path, "utf8"));
      await writeFile(path, JSON.stringify({ ...config, version: 1 }));
      repo = await openRepository({ root });
      const other = randomBytes(CHUNK * 2);
      const second = (await backup("vm-2", { disk0: other })).manifest;
      expect(await chunkMagics()).toEqual(new Set(["FRYCHR02", "FRYCHL02", "FRYCHR01"]));
      expect((await restore(repo, first.restorePointId, "disk0")).equals(image)).toBe(true);
      expect((await restore(repo, second.restorePointId, "disk0")).equals(other)).toBe(true);
    });

    it("creates repository.json, version 3, and opens it again", async () => {
      const config = JSON.parse(await readFile(join(root, "repository.json"), "utf8"));
      expect(config).toEqual({
        format: "ferry-repository",
        version: 3,
        id: repo.config.id,
        createdAt: expect.any(String),
      });
      expect((await readdir(root)).sort()).toEqual(["chunks", "repository.json", "restore-points"]);
      const again = await openRepository({ root });
      expect(again.config).toEqual(repo.config);
      const created = await openRepository({ root, create: true });
      expect(created.config.id).toBe(repo.config.id);
      await again.close();
      await created.close();
    });

    it("refuses a directory that is not a repository, and a newer version", async () => {
      expect((await rejection(openRepository({ root: join(base, "none") }))).code).toBe(
        "NOT_FOUND",
      );
      await writeFile(
        join(root, "repository.json"),
        JSON.stringify({ ...repo.config, version: 4 }),
      );
      expect((await rejection(openRepository({ root }))).code).toBe("FAILED_PRECONDITION");
    });
  });

  it("backs up two disks, lists the restore point and restores both byte for byte", async () => {
    const disk0 = makeImage();
    const disk1 = Buffer.concat([makeImage(), makeImage()]).subarray(0, 20 * CHUNK + 77);
    const { rp, manifest } = await backup("vm-1", { disk0, disk1 });
    expect(rp.id).toMatch(/^vm-1\/\d{8}T\d{9}Z-[0-9a-f]{8}$/);
    expect(manifest).toMatchObject({
      restorePointId: rp.id,
      vmId: "vm-1",
      vmName: "vm-1 name",
      consistency: "application",
      mode: "full",
      source: { moverId: "mover-a", transport: "hotadd" },
    });
    expect(manifest.disks.map((d) => [d.id, d.sizeBytes, d.bytesRead])).toEqual([
      ["disk0", disk0.length, disk0.length],
      ["disk1", disk1.length, disk1.length],
    ]);
    // Zeros and repeats are not stored: disk0 has 3 distinct non-zero chunks plus its tail.
    expect(manifest.disks[0]?.bytesNew).toBeLessThan(4 * CHUNK);

    expect(await readdir(join(root, "restore-points"))).toEqual(["vm-1"]);
    const dir = join(root, "restore-points", rp.id);
    expect((await readdir(dir)).sort()).toEqual(["disk0.fidx", "disk1.fidx", "manifest.json"]);
    expect(await repo.listRestorePoints()).toEqual([manifest]);
    expect((await restore(repo, rp.id, "disk0")).equals(disk0)).toBe(true);
    expect((await restore(repo, rp.id, "disk1")).equals(disk1)).toBe(true);
    const opened = await repo.openRestorePoint(rp.id);
    expect(opened.indexPath("disk1")).toBe(`restore-points/${rp.id}/disk1.fidx`);
    expect((await rejection(opened.readIndex("disk9"))).code).toBe("NOT_FOUND");
  });

  it("an incremental copies the previous index and stores only changed chunks", async () => {
    const image = makeImage();
    const first = await backup("vm-1", { disk0: image }, new Date("2026-01-01T00:00:00Z"));
    const changed = Buffer.from(image);
    randomBytes(CHUNK).copy(changed, 3 * CHUNK);

    const rp = await repo.beginRestorePoint({
      vmId: "vm-1",
      vmName: "vm",
      createdAt: new Date("2026-01-02T00:00:00Z"),
    });
    const writer = rp.addDisk({ diskId: "disk0", sizeBytes: image.length, chunkSizeBytes: CHUNK });
    writer.copyFrom(await (await repo.openRestorePoint(first.rp.id)).readIndex("disk0"));
    const stats = await backupInto(repo, writer, changed, new Set([3]));
    expect(stats).toEqual({ bytesRead: CHUNK, bytesNew: CHUNK + 32 });
    const manifest = await rp.commit({
      ...fields({ disk0: stats }),
      mode: "incremental",
      parentRestorePointId: first.rp.id,
      consistency: "crash",
    });
    expect(manifest.parentRestorePointId).toBe(first.rp.id);
    expect((await restore(repo, rp.id, "disk0")).equals(changed)).toBe(true);
    expect((await restore(repo, first.rp.id, "disk0")).equals(image)).toBe(true);
    expect((await repo.listRestorePoints({ vmId: "vm-1" })).map((m) => m.restorePointId)).toEqual([
      first.rp.id,
      rp.id,
    ]);
    expect(await repo.listRestorePoints({ vmId: "vm-2" })).toEqual([]);
  });

  describe("crashes and aborts", () => {
    async function halfWritten(): Promise<RestorePointWriter> {
      const rp = await repo.beginRestorePoint({ vmId: "vm-1", vmName: "vm" });
      await backupInto(
        repo,
        rp.addDisk({ diskId: "disk0", sizeBytes: 3 * CHUNK, chunkSizeBytes: CHUNK }),
        makeImage(),
      );
      return rp;
    }

    it("a restore point that never committed is not listed, even with a manifest in staging", async () => {
      const rp = await halfWritten();
      expect((await readdir(join(root, "restore-points")))[0]).toMatch(/^\.staging-/);
      // As if the process died between writing the manifest and the rename.
      const manifest = serializeManifest({
        format: "ferry-manifest",
        version: 1,
        restorePointId: rp.id,
        vmId: "vm-1",
        vmName: "vm",
        createdAt: rp.createdAt,
        committedAt: rp.createdAt,
        consistency: "crash",
        mode: "full",
        source: { moverId: "m", transport: "nbd" },
        disks: [
          {
            id: "d",
            sizeBytes: 1,
            chunkSizeBytes: 4096,
            indexFile: "d.fidx",
            indexUuid: "0f8fad5b-d9cb-469f-a165-70867728950e",
            bytesRead: 0,
            bytesNew: 0,
          },
        ],
      });
      await writeFile(join(rp.stagingPath, "manifest.json"), manifest);
      const reopened = await openRepository({ root });
      expect(await reopened.listRestorePoints()).toEqual([]);
      expect((await rejection(reopened.openRestorePoint(rp.id))).code).toBe("NOT_FOUND");
      // Cleanup of crashed backups spares young staging directories.
      expect(await reopened.removeStaleStaging({ olderThanMs: 3_600_000 })).toEqual([]);
      const removed = await reopened.removeStaleStaging({
        olderThanMs: 3_600_000,
        nowMs: Date.now() + 7_200_000,
      });
      expect(removed).toEqual([rp.stagingPath.split("/").pop()]);
      expect(await readdir(join(root, "restore-points"))).toEqual([]);
      await reopened.close();
    });

    it("skips committed-looking directories without a valid manifest, and says why", async () => {
      const { rp } = await backup("vm-1", { disk0: makeImage() });
      const vmDir = join(root, "restore-points", "vm-1");
      await mkdir(join(vmDir, "20260101T000000000Z-00000000"));
      await cp(join(root, "restore-points", rp.id), join(vmDir, "20260101T000000000Z-11111111"), {
        recursive: true,
      });
      await mkdir(join(vmDir, "20260101T000000000Z-22222222"));
      await writeFile(join(vmDir, "20260101T000000000Z-22222222", "manifest.json"), "{ half");
      await mkdir(join(vmDir, "not-a-restore-point"));
      const skipped: Array<[string, string]> = [];
      const listed = await repo.listRestorePoints({
        onInvalid: (id, err) => skipped.push([id, err.code]),
      });
      expect(listed.map((m) => m.restorePointId)).toEqual([rp.id]);
      expect(skipped.sort()).toEqual([
        ["vm-1/20260101T000000000Z-00000000", "NOT_FOUND"],
        ["vm-1/20260101T000000000Z-11111111", "CORRUPT_DATA"], // names another restore point
        ["vm-1/20260101T000000000Z-22222222", "CORRUPT_DATA"],
      ]);
    });

    it("abort removes the staging directory; dispose before commit aborts; after commit it keeps", async () => {
      const rp = await halfWritten();
      await rp.abort();
      await rp.abort();
      expect(await readdir(join(root, "restore-points"))).toEqual([]);
      expect(() => rp.addDisk({ diskId: "x", sizeBytes: 1 })).toThrow(/aborted/);

      const disposed = await halfWritten();
      await disposed[Symbol.asyncDispose]();
      expect(await readdir(join(root, "restore-points"))).toEqual([]);

      const { rp: committed } = await backup("vm-1", { disk0: makeImage() });
      await committed[Symbol.asyncDispose]();
      expect(await repo.listRestorePoints()).toHaveLength(1);
      expect((await rejection(committed.commit(fields({})))).code).toBe("FAILED_PRECONDITION");
    });

    it("refuses to commit incomplete input and stays open", async () => {
      const rp = await repo.beginRestorePoint({ vmId: "vm-1", vmName: "vm" });
      const writer = rp.addDisk({ diskId: "disk0", sizeBytes: 2 * CHUNK, chunkSizeBytes: CHUNK });
      expect(() => rp.addDisk({ diskId: "disk0", sizeBytes: 1 })).toThrow(/already added/);
      writer.set(0, chunkDigestOf(Buffer.alloc(CHUNK)));
      const stats = { disk0: { bytesRead: 0, bytesNew: 0 } };
      expect((await rejection(rp.commit(fields(stats)))).message).toMatch(/1 slots unset/);
      expect((await rejection(rp.commit(fields({})))).message).toMatch(
        /diskStats lacks disk disk0/,
      );
      writer.set(1, chunkDigestOf(Buffer.alloc(CHUNK)));
      expect(
        (await rejection(rp.commit({ ...fields(stats), consistency: "maybe" as "crash" }))).code,
      ).toBe("INVALID_ARGUMENT");
      await rp.commit(fields(stats));
      expect(await repo.listRestorePoints()).toHaveLength(1);
    });
  });

  it("detects an index swapped under a manifest", async () => {
    const { rp } = await backup("vm-1", { disk0: makeImage(), disk1: makeImage() });
    const dir = join(root, "restore-points", rp.id);
    await cp(join(dir, "disk1.fidx"), join(dir, "disk0.fidx"));
    const err = await rejection((await repo.openRestorePoint(rp.id)).readIndex("disk0"));
    expect(err.code).toBe("CORRUPT_DATA");
    expect(err.message).toMatch(/not the one manifest/);
  });

  it("rejects malformed ids and names", async () => {
    expect((await rejection(repo.openRestorePoint("../../etc/passwd"))).code).toBe(
      "INVALID_ARGUMENT",
    );
    expect((await rejection(repo.beginRestorePoint({ vmId: "../x", vmName: "x" }))).code).toBe(
      "INVALID_ARGUMENT",
    );
    expect(
      (await rejection(repo.beginRestorePoint({ vmId: ".staging-x", vmName: "x" }))).code,
    ).toBe("INVALID_ARGUMENT");
    const rp = await repo.beginRestorePoint({ vmId: "vm-1", vmName: "x" });
    expect(() => rp.addDisk({ diskId: "a/b", sizeBytes: 1 })).toThrow(/disk id/);
    await rp.abort();
  });
});
