// Repository maintenance runs on movers: a coordinator that holds no passphrase rescans,
// verifies, prunes and collects garbage in an encrypted repository through a mover, and
// says clearly when no mover is up to do it.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  createClient,
  createLogger,
  MoverState,
  OperatorService,
  openRepository,
  parseConfig,
} from "@ferry/common";
import { type Coordinator, coordinatorConfigSchema, startCoordinator } from "@ferry/coordinator";
import { backupSource, type Mover, openFileSource } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ageChunks, chunkFilePaths } from "./lab/chunk-files.js";
import { ferryMover } from "./lab/ferry-mover-cli.js";
import { startLabCoordinator, startLabMover } from "./lab/in-process.js";
import { REPO_ROOT } from "./lab/paths.js";
import { quietLogger } from "./lab/quiet-logger.js";

const run = promisify(execFile);
const PASSPHRASE = "only the movers know this one";
const CHUNK = 64 * 1024;

/** `ferry ... --server address`; rejects when it exits non-zero. */
const ferryAt = (address: string, ...args: string[]) =>
  run(join(REPO_ROOT, "bin/ferry"), [...args, "--server", address]);
/** `ferry ...` expected to fail: its exit code and output. */
const ferryFailsAt = (address: string, ...args: string[]) =>
  ferryAt(address, ...args).then(
    () => {
      throw new Error(`ferry ${args.join(" ")} succeeded`);
    },
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

/**
 * An encrypted repository at `root` with three restore points of vm-a and one of vm-b (two
 * chunks each, all different), written as mover `moverId` would; resolves with their ids,
 * oldest first.
 */
async function encryptedRepository(root: string, scratch: string, moverId: string) {
  await using repo = await openRepository({ root, create: true, passphrase: PASSPHRASE });
  const ids: string[] = [];
  for (const vmId of ["vm-a", "vm-a", "vm-a", "vm-b"]) {
    const image = join(scratch, `${ids.length}.raw`);
    await writeFile(image, randomBytes(2 * CHUNK));
    const source = await openFileSource({ path: image });
    try {
      const { manifest } = await backupSource({
        source,
        repository: repo,
        vmId,
        vmName: vmId,
        diskId: "disk0",
        moverId,
        transport: "hotadd",
        chunkSizeBytes: CHUNK,
        logger: quietLogger(),
        signal: new AbortController().signal,
      });
      ids.push(manifest.restorePointId);
    } finally {
      await source.close();
    }
  }
  return ids;
}

async function passphraseFile(path: string): Promise<string> {
  await writeFile(path, `${PASSPHRASE}\n`, { mode: 0o600 });
  return path;
}

describe("repository maintenance through a mover, with no passphrase on the coordinator", () => {
  let work: string;
  let repo: string;
  let ids: string[];
  let coordinator: Coordinator;
  let mover: Mover | undefined;
  const ferry = (...args: string[]) => ferryAt(coordinator.address, ...args);
  const ferryFails = (...args: string[]) => ferryFailsAt(coordinator.address, ...args);
  const listed = async () =>
    JSON.parse((await ferry("restore-points", "--json")).stdout) as {
      id: string;
      verify?: { ok: boolean };
    }[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-maint-"));
    repo = join(work, "repo");
    ids = await encryptedRepository(repo, work, "mover-enc");
    // The coordinator's configuration names no passphrase; only the mover's does.
    coordinator = await startLabCoordinator({
      dataDir: join(work, "coord"),
      heartbeatIntervalMs: 300,
    });
    mover = await startLabMover({
      id: "mover-enc",
      coordinator: coordinator.address,
      host: { id: "host-1" },
      runDir: join(work, "run"),
      repositoryPassphraseFile: await passphraseFile(join(work, "mover.pass")),
    });
    await mover.registered;
  });

  afterAll(async () => {
    await mover?.close();
    await coordinator?.close();
    await rm(work, { recursive: true, force: true });
  });

  // One story, in order: each step works on what the one before left (a catalog rebuilt,
  // restore points pruned, chunks collected, one corrupted, the mover gone).
  it("maintains an encrypted repository through its mover: rescan, verify, prune, gc, a corrupt chunk, the mover gone", async () => {
    // First: rebuilds the catalog from the repository as the mover lists it.
    expect((await ferry("restore-points")).stdout).toMatch(/no restore points/);
    const rescanned = await ferry("catalog", "rescan", "--repo", repo);
    expect(rescanned.stdout.trim()).toBe(
      `4 restore points in ${repo}: 4 added to the catalog, 0 removed`,
    );
    expect((await listed()).map((r) => r.id).sort()).toEqual([...ids].sort());
    const again = JSON.parse((await ferry("catalog", "rescan", "--repo", repo, "--json")).stdout);
    expect(again).toMatchObject({ added: 0, removed: 0, total: 4, moverId: "mover-enc" });

    // Then: verifies every chunk with the mover's key, and the listing shows the result.
    const verified = await ferry("verify", "--repo", repo);
    expect(verified.stdout).toMatch(/verified 4 restore point\(s\), 8 chunk\(s\), .*: all sound$/m);
    expect((await listed()).map((r) => r.verify?.ok)).toEqual([true, true, true, true]);

    // Then: prunes by the policy's rules: the mover deletes, the catalog follows.
    await ferry(
      "policies",
      "create",
      "--name",
      "keep-one",
      "--vm",
      "vm-*",
      "--repo",
      repo,
      "--keep-last",
      "1",
    );
    const dry = await ferry("prune", "--policy", "keep-one", "--dry-run");
    expect(dry.stdout).toContain("would remove 2 restore point(s)");
    const pruned = JSON.parse((await ferry("prune", "--policy", "keep-one", "--json")).stdout);
    expect(pruned).toMatchObject({ removed: 2, moverId: "mover-enc" });
    const kept = [ids[2], ids[3]].sort();
    expect((await listed()).map((r) => r.id).sort()).toEqual(kept);
    // The repository itself, as ferry-mover sees it without a key.
    const inRepo = (await ferryMover("restore-points", "--repo", repo)).stdout.trim().split("\n");
    expect(inRepo.map((line) => line.split(/\s+/)[0]).sort()).toEqual(kept);

    // Then: collects the pruned restore points' chunks.
    // Chunks younger than the grace period stay; age them rather than wait.
    await ageChunks(repo, 3_600_000);
    const gc = await ferry("gc", "--repo", repo);
    expect(gc.stdout.trim()).toMatch(
      /^freed \S+ \S+: 4 chunk\(s\) removed, 4 kept \(4 referenced by 2 restore point\(s\)\)$/,
    );
    expect(await chunkFilePaths(repo)).toHaveLength(4);

    // Then: names a corrupt chunk and the restore point it breaks, and exits 1.
    const [victim] = await chunkFilePaths(repo);
    const file = await open(victim as string, "r+");
    try {
      await file.write(randomBytes(16), 0, 16, 40);
    } finally {
      await file.close();
    }
    const bad = await ferryFails("verify", "--repo", repo);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /^chunk [0-9a-f]{64} is corrupt; restore points affected: vm-[ab]\/\S+$/m,
    );
    expect(bad.stdout).toMatch(/: 1 bad chunk\(s\)$/m);
    expect((await listed()).filter((r) => r.verify?.ok === false)).toHaveLength(1);

    // Then: refuses maintenance with UNAVAILABLE naming the down mover, and still lists the catalog.
    await mover?.close();
    mover = undefined;
    using api = createClient(OperatorService, coordinator.address);
    await expect
      .poll(async () => (await api.listMovers({})).movers.map((m) => m.state), {
        timeout: 30_000,
      })
      .toEqual([MoverState.DOWN]);
    const why = "repository maintenance runs on movers, and mover-enc is down (no heartbeat)";
    const refused = await ferryFails("gc", "--repo", repo);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`no mover is up to collect garbage in ${repo}: ${why}`);
    expect((await ferryFails("verify", "--repo", repo)).stderr).toContain(
      `no mover is up to verify ${repo}: ${why}`,
    );
    expect((await ferryFails("catalog", "rescan", "--repo", repo)).stderr).toContain(
      `no mover is up to list the restore points of ${repo}: ${why}`,
    );
    // The repository is right here, yet the coordinator does not open it: the listing comes
    // from the catalog, without the states only a mover reads.
    const points = await listed();
    expect(points).toHaveLength(2);
    expect(points.map((r) => r.verify)).toEqual([undefined, undefined]);
  });
});

describe("a coordinator with the deprecated passphrase setting", () => {
  let work: string;
  let repo: string;
  let coordinator: Coordinator | undefined;
  const movers: Mover[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-maint-old-"));
    repo = join(work, "repo");
    await encryptedRepository(repo, work, "elsewhere");
    coordinator = await startCoordinator(
      parseConfig(
        coordinatorConfigSchema,
        {
          listen: "127.0.0.1:0",
          dataDir: join(work, "coord"),
          // Never read: a file that does not exist does not stop the coordinator.
          repositoryPassphraseFile: join(work, "no-such.pass"),
          // Movers stay up in the registry for the whole test, also one that stopped.
          heartbeatIntervalMs: 60_000,
          logLevel: "warn",
        },
        "test",
      ),
      { logger: createLogger({ name: "test", level: "warn", write: (l) => logs.push(l) }) },
    );
    const key = await passphraseFile(join(work, "mover.pass"));
    for (const id of ["mover-a", "mover-b"]) {
      const m = await startLabMover({
        id,
        coordinator: coordinator.address,
        host: { id: `host-${id}` },
        runDir: join(work, `run-${id}`),
        repositoryPassphraseFile: key,
      });
      movers.push(m);
      await m.registered;
    }
  });

  afterAll(async () => {
    for (const m of movers) await m.close();
    await coordinator?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("starts without reading it and warns that movers hold passphrases now", () => {
    expect(logs.join("")).toContain(
      "repositoryPassphraseFile is deprecated and ignored: repository maintenance runs on movers",
    );
  });

  it("hands a call to another mover when the one it picked is gone", async () => {
    const address = coordinator?.address ?? "";
    // mover-a is asked first (both idle, by id); it stops but stays registered as up.
    await movers[0]?.close();
    const verified = JSON.parse(
      (await ferryAt(address, "verify", "--repo", repo, "--json")).stdout,
    );
    expect(verified).toMatchObject({ moverId: "mover-b", badChunks: [] });
    expect(verified.restorePoints).toHaveLength(4);
    const handedOver = logs.filter((l) => l.includes("asking another mover"));
    expect(handedOver).toHaveLength(1);
    expect(handedOver[0]).toContain("mover-a");
  });
});
