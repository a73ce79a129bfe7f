import { randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  collectGarbage,
  digestToHex,
  isFerryError,
  isZeroChunkDigest,
  openRepository,
  type Repository,
  readVerifyState,
  verifyRestorePoints,
} from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabChild, spawnChild } from "./lab/child.js";
import { ferryMover, ferryMoverFails } from "./lab/ferry-mover-cli.js";
import { REPO_ROOT } from "./lab/paths.js";
import {
  chunkHex,
  keysUnder,
  type S3RepositoryLab,
  sha256,
  startS3RepositoryLab,
} from "./lab/s3-repository-lab.js";

// Issue 19's goals on a real Ceph RADOS Gateway: movers back up into and restore from one S3
// repository, at the same time, with garbage collection running, and a mover killed
// mid-upload leaves nothing visible. One cluster for the whole file.

const MiB = 1024 * 1024;

let lab: S3RepositoryLab;
let dir: string;

/** Starts `ferry-mover backup` of `file` as its own process. */
function startBackup(file: string, repo: string, vmId: string): Promise<LabChild> {
  return spawnChild(
    "ferry-mover",
    join(REPO_ROOT, "bin/ferry-mover"),
    ["backup", "--source", file, "--repo", repo, "--vm-id", vmId],
    { debianPackage: "nodejs" },
  );
}

/** Waits for a backup process to exit 0; its stdout's last line is the restore point id. */
async function finished(child: LabChild): Promise<string> {
  const { code } = await child.exited;
  expect(code, child.output()).toBe(0);
  const id = /^([A-Za-z0-9._-]+\/[0-9TZ]+-[0-9a-f]+)$/m.exec(child.output())?.[1];
  expect(id, child.output()).toBeDefined();
  return id as string;
}

/** Restores `id` with the CLI and returns the restored image's SHA-256. */
async function restoredSha(repo: string, id: string): Promise<string> {
  const to = join(dir, `restored-${id.replace("/", "_")}.raw`);
  await ferryMover("restore", "--repo", repo, "--restore-point", id, "--to", to);
  const sha = sha256(await readFile(to));
  await rm(to);
  return sha;
}

/** Hex digests of the stored (non-zero) chunks every restore point of `repo` names. */
async function referencedChunks(repo: Repository): Promise<Set<string>> {
  const referenced = new Set<string>();
  for (const m of await repo.listRestorePoints()) {
    const reader = await repo.openRestorePoint(m.restorePointId);
    for (const disk of m.disks) {
      const index = await reader.readIndex(disk.id);
      for (let i = 0; i < index.chunkCount; i++) {
        const d = index.digestAt(i);
        if (!isZeroChunkDigest(d)) referenced.add(digestToHex(d));
      }
    }
  }
  return referenced;
}

beforeAll(async () => {
  lab = await startS3RepositoryLab("ferry-s3-repository");
  dir = lab.dir;
}, 120_000);

afterAll(async () => {
  await lab?.remove();
});

describe("a repository in S3 (Ceph RGW)", () => {
  it("two movers at once, garbage collection in a loop: shared chunks stored once, nothing lost", async () => {
    const repo = lab.repoUrl("two-movers");
    // 4 MiB chunks, every part chunk-aligned: equal data names equal chunks in every image.
    const [ownA, ownB, shared] = [
      randomBytes(8 * MiB),
      randomBytes(8 * MiB),
      randomBytes(16 * MiB),
    ];
    // Each backup first finds chunks present, then uploads much new data: a long window in
    // which it will name those chunks but has not yet committed a restore point naming them.
    const a = await lab.image("a.raw", [
      ownA,
      shared,
      randomBytes(96 * MiB),
      Buffer.alloc(8 * MiB),
    ]);
    const b = await lab.image("b.raw", [ownB, shared, randomBytes(96 * MiB)]);
    // A pruned restore point leaves those 8 chunks unreferenced but stored: garbage
    // collection may remove them while the backups deduplicate against them.
    const o = await lab.image("old.raw", [ownA, ownB, shared]);
    const old = (
      await ferryMover("backup", "--source", o, "--repo", repo, "--vm-id", "old")
    ).stdout.trim();
    const backend = await lab.rawBackend("two-movers");
    await using repository = await openRepository({ root: repo });
    await repository.deleteRestorePoint(old);
    // Object times have whole-ms resolution on the server's clock; garbage collection spares
    // what is younger than its cutoff less 2 s: let those chunks age past that.
    await new Promise((r) => setTimeout(r, 2500));

    const movers = [await startBackup(a, repo, "vm-a"), await startBackup(b, repo, "vm-b")];
    // Once one backup uploads new chunks it has found its old ones present and will name
    // them. Both movers are paused there, so that garbage collection runs inside that window
    // however fast the machine is, then resume while garbage collection keeps running.
    while ((await keysUnder(backend, "chunks/")).length <= 8) {
      expect(
        movers.some((m) => m.hasExited),
        movers.map((m) => m.output()).join(),
      ).toBe(false);
    }
    for (const m of movers) process.kill(m.pid, "SIGSTOP");
    expect((await keysUnder(backend, "in-progress/")).length).toBeGreaterThan(0);
    let runs = 0;
    try {
      await collectGarbage(repository, { graceMs: 0 });
      runs++;
    } finally {
      for (const m of movers) process.kill(m.pid, "SIGCONT");
    }
    const running = Promise.all(movers.map((m) => m.exited));
    let done = false;
    void running.then(() => {
      done = true;
    });
    while (!done) {
      await collectGarbage(repository, { graceMs: 0 });
      runs++;
      // A backup that finds a collection's lock looks again every 500 ms: leave it gaps.
      await Promise.race([running, new Promise((r) => setTimeout(r, 700))]);
    }
    const [idA, idB] = [
      await finished(movers[0] as LabChild),
      await finished(movers[1] as LabChild),
    ];
    expect(runs).toBeGreaterThan(1);
    // Now nothing runs: garbage collection removes what no restore point names.
    await collectGarbage(repository, { graceMs: 0, nowMs: Date.now() + 10_000 });

    expect(await restoredSha(repo, idA)).toBe(sha256(await readFile(a)));
    expect(await restoredSha(repo, idB)).toBe(sha256(await readFile(b)));
    // Every chunk object is one some restore point names, each stored once (its key is its
    // digest): 2 + 2 own, 4 shared, 24 new of each.
    const referenced = await referencedChunks(repository);
    const stored = (await keysUnder(backend, "chunks/")).map(chunkHex);
    expect(new Set(stored)).toEqual(referenced);
    expect(stored).toHaveLength(56);
    expect(await keysUnder(backend, "in-progress/")).toEqual([]);
    // verify re-reads every chunk from S3 and records its outcome beside the manifest.
    const report = await verifyRestorePoints(repository);
    expect(report.badChunks).toEqual([]);
    expect(report.restorePoints.map((r) => r.ok)).toEqual([true, true]);
    expect((await readVerifyState(repository, idA))?.chunksChecked).toBe(30);
    await backend.close();
  }, 120_000);

  it("a mover killed mid-upload leaves no restore point; garbage collection removes its objects", async () => {
    const repo = lab.repoUrl("killed");
    const file = await lab.image("big.raw", [randomBytes(256 * MiB)]);
    const backend = await lab.rawBackend("killed");
    const mover = await startBackup(file, repo, "vm-killed");
    // Killed once some of its chunks are stored.
    while ((await keysUnder(backend, "chunks/")).length < 5) {
      expect(mover.hasExited, mover.output()).toBe(false);
    }
    process.kill(mover.pid, "SIGKILL");
    await mover.exited;
    await using repository = await openRepository({ root: repo });
    expect(await repository.listRestorePoints()).toEqual([]);
    const orphans = await keysUnder(backend, "chunks/");
    expect(orphans.length).toBeGreaterThanOrEqual(5);
    // Its marker still says a backup runs: nothing goes yet.
    expect(await keysUnder(backend, "in-progress/")).toHaveLength(1);
    const kept = await collectGarbage(repository, { graceMs: 0, nowMs: Date.now() + 10_000 });
    expect(kept.chunksRemoved).toBe(0);
    expect((await keysUnder(backend, "chunks/")).length).toBeGreaterThanOrEqual(orphans.length);
    // Once the marker is stale the backup counts as crashed: marker and chunks go.
    const swept = await collectGarbage(repository, {
      graceMs: 0,
      staleStagingMs: 1,
      nowMs: Date.now() + 10_000,
    });
    expect(swept.staleStagingRemoved).toHaveLength(1);
    expect(await keysUnder(backend, "in-progress/")).toEqual([]);
    expect(await keysUnder(backend, "chunks/")).toEqual([]);
    expect(await keysUnder(backend, "restore-points/")).toEqual([]);
    await backend.close();
  }, 120_000);

  it("an S3 --repo with a bad parameter or a passphrase fails with a clear error", async () => {
    const bad = await ferryMoverFails(
      "restore-points",
      "--repo",
      `s3://${lab.bucket}/x?endpoint=${lab.rgw.endpoint}&colour=blue`,
    );
    expect(bad.stderr).toContain("unknown parameter colour");
    // A passphrase given for a plain repository: writing would go in the clear, so it is refused.
    await ferryMover("init", "--repo", lab.repoUrl("plain"));
    await using plain = await openRepository({
      root: lab.repoUrl("plain"),
      passphrase: "a long passphrase",
    });
    await expect(plain.beginRestorePoint({ vmId: "x", vmName: "x" })).rejects.toSatisfy((e) =>
      isFerryError(e, "FAILED_PRECONDITION"),
    );
    // A prefix holding no repository is not one (and is not created by a read).
    const missing = await ferryMoverFails("restore-points", "--repo", lab.repoUrl("nothing-here"));
    expect(missing.stderr).toContain("is not a Ferry repository");
  });

  it("garbage collection of an encrypted repository removes only unreferenced chunk objects", async () => {
    const PASSPHRASE = "a passphrase for the collected repository";
    const repo = lab.repoUrl("encrypted-gc");
    const pass = join(dir, "gc.pass");
    await writeFile(pass, `${PASSPHRASE}\n`, { mode: 0o600 });
    await ferryMover("init", "--repo", repo, "--passphrase-file", pass);
    // 4 MiB chunks: the two images share one, and each has two of its own.
    const shared = randomBytes(4 * MiB);
    const a = await lab.image("gc-a.raw", [randomBytes(8 * MiB), shared]);
    const b = await lab.image("gc-b.raw", [shared, randomBytes(8 * MiB)]);
    const backup = async (file: string, vmId: string) =>
      (
        await ferryMover(
          ...["backup", "--source", file, "--repo", repo, "--vm-id", vmId],
          ...["--passphrase-file", pass],
        )
      ).stdout.trim();
    const idA = await backup(a, "gc-a");
    const idB = await backup(b, "gc-b");
    const backend = await lab.rawBackend("encrypted-gc");
    try {
      expect(await keysUnder(backend, "chunks/")).toHaveLength(5);
      {
        await using repository = await openRepository({ root: repo, passphrase: PASSPHRASE });
        await repository.deleteRestorePoint(idA);
      }
      // As the CLI's gc: without the passphrase (chunk ids are keyed; the indexes name them).
      {
        await using repository = await openRepository({ root: repo });
        const gc = await collectGarbage(repository, { graceMs: 0, nowMs: Date.now() + 10_000 });
        expect(gc.chunksRemoved).toBe(2);
      }
      await using repository = await openRepository({ root: repo, passphrase: PASSPHRASE });
      const stored = (await keysUnder(backend, "chunks/")).map(chunkHex);
      expect(new Set(stored)).toEqual(await referencedChunks(repository));
      expect(stored).toHaveLength(3);
      const to = join(dir, "gc-b-restored.raw");
      await ferryMover(
        ...["restore", "--repo", repo, "--restore-point", idB, "--to", to],
        ...["--passphrase-file", pass],
      );
      expect(sha256(await readFile(to))).toBe(sha256(await readFile(b)));
      await rm(to);
    } finally {
      await backend.close();
    }
  }, 120_000);
});
