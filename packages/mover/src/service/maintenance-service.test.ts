import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bindService,
  createClient,
  FerryError,
  type GrpcServer,
  MoverService,
  openRepository,
  startGrpcServer,
} from "@ferry/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backUpFile } from "../task/back-up-file.test-helper.js";
import { createRepositoryCache, type RepositoryCache } from "../task/repository-cache.js";
import { createTaskRuns } from "../task/task-runs.js";
import { createMoverService } from "./mover-service.js";

const PASSPHRASE = "the mover's own passphrase";
const CHUNK = 64 * 1024;

let dir: string;
let root: string;
const open: (AsyncDisposable & { close?: () => Promise<void> })[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-maint-svc-"));
  root = join(dir, "repo");
});
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
});

/** An encrypted repository with two restore points of VM "vm-1" (two chunks each). */
async function encryptedRepository(): Promise<string[]> {
  await using repo = await openRepository({ root, create: true, passphrase: PASSPHRASE });
  const ids: string[] = [];
  for (const n of [1, 2]) {
    const image = join(dir, `disk-${n}.raw`);
    await writeFile(image, randomBytes(2 * CHUNK));
    ids.push(await backUpFile(repo, image, { vmId: "vm-1", chunkSizeBytes: CHUNK }));
  }
  return ids;
}

const unused = async (): Promise<never> => {
  throw new FerryError("UNIMPLEMENTED", "not in this test");
};

/** The MoverService of a mover holding `passphrase`, served over gRPC; only maintenance works. */
async function moverClient(passphrase?: string) {
  const cache: RepositoryCache = createRepositoryCache(passphrase ? { passphrase } : {});
  open.push(cache);
  const server: GrpcServer = await startGrpcServer({
    address: "127.0.0.1:0",
    services: [
      bindService(
        MoverService,
        createMoverService({
          describe: unused,
          runBackup: unused,
          runRestore: unused,
          taskRuns: createTaskRuns({ keepMs: 0, keep: 0 }),
          stopping: new AbortController().signal,
          listFiles: unused,
          extractFiles: unused,
          cancel: () => false,
          setReadRateLimit: () => false,
          running: () => [],
          repository: (r) => cache.get(r, { existing: true }),
        }),
      ),
    ],
  });
  open.push(server);
  const client = createClient(MoverService, server.address);
  open.push({ [Symbol.asyncDispose]: async () => client.close() });
  return client;
}

const failure = (call: Promise<unknown>) =>
  call.then(
    () => {
      throw new Error("the call succeeded");
    },
    (err: unknown) => err as FerryError,
  );

describe("repository maintenance on a mover", () => {
  it("verifies, lists and collects an encrypted repository with the mover's own passphrase", async () => {
    const ids = await encryptedRepository();
    const mover = await moverClient(PASSPHRASE);
    const report = await mover.verifyRepository({ repository: root, restorePointIds: [] });
    expect(report.badChunks).toEqual([]);
    expect(report.chunksChecked).toBe(4n);
    expect(report.restorePoints.map((p) => [p.id, p.verify?.ok])).toEqual(
      ids.map((id) => [id, true]),
    );
    // The verify is recorded in the repository: the listing shows it.
    const listed = await mover.listRepository({ repository: root, restorePointIds: [] });
    expect(listed.restorePoints.map((p) => [p.id, p.vmId, p.verify?.ok, p.disks.length])).toEqual(
      ids.map((id) => [id, "vm-1", true, 1]),
    );
    const gc = await mover.collectRepositoryGarbage({ repository: root, dryRun: true });
    expect(gc).toMatchObject({ restorePoints: 2, chunksReferenced: 4n, chunksRemoved: 0n });
  });

  it("without the passphrase lists and collects, and refuses to verify with KEY_REQUIRED", async () => {
    const ids = await encryptedRepository();
    const mover = await moverClient();
    const listed = await mover.listRepository({ repository: root, restorePointIds: [] });
    expect(listed.restorePoints.map((p) => p.id)).toEqual(ids);
    const err = await failure(mover.verifyRepository({ repository: root, restorePointIds: [] }));
    expect(err).toBeInstanceOf(FerryError);
    expect(err.code).toBe("KEY_REQUIRED");
    expect(err.message).toContain(`repository ${root} is encrypted`);
  });

  it("lists only the restore points asked for, leaving out ids the repository lacks", async () => {
    const [first, second] = await encryptedRepository();
    const mover = await moverClient(PASSPHRASE);
    const listed = await mover.listRepository({
      repository: root,
      restorePointIds: [second as string, "vm-1/20200101T000000000Z-0123abcd", "not an id"],
    });
    expect(listed.restorePoints.map((p) => p.id)).toEqual([second]);
    expect(listed.restorePoints[0]?.verify).toBeUndefined();
    expect(first).not.toBe(second);
  });

  it("deletes restore points, saying which were already gone and which it could not delete", async () => {
    const [first, second] = (await encryptedRepository()) as [string, string];
    const mover = await moverClient(PASSPHRASE);
    const gone = "vm-1/20200101T000000000Z-0123abcd";
    const res = await mover.deleteRestorePoints({
      repository: root,
      restorePointIds: [first, gone, "../escape"],
    });
    expect(res.deleted).toEqual([first]);
    expect(res.missing).toEqual([gone]);
    expect(res.failed.map((f) => [f.restorePointId, f.code])).toEqual([
      ["../escape", "INVALID_ARGUMENT"],
    ]);
    const listed = await mover.listRepository({ repository: root, restorePointIds: [] });
    expect(listed.restorePoints.map((p) => p.id)).toEqual([second]);
    // Its chunks stay until garbage collection, which frees them once they are old enough.
    const chunks = join(root, "chunks");
    const old = new Date(Date.now() - 3_600_000);
    for (const sub of await readdir(chunks))
      for (const file of await readdir(join(chunks, sub)))
        await utimes(join(chunks, sub, file), old, old);
    const gc = await mover.collectRepositoryGarbage({ repository: root, graceMs: 0n });
    expect(gc).toMatchObject({ restorePoints: 1, chunksRemoved: 2n, dryRun: false });
  });

  it("refuses a relative path and answers NOT_FOUND where no repository is", async () => {
    const mover = await moverClient(PASSPHRASE);
    const relative = await failure(mover.collectRepositoryGarbage({ repository: "repo" }));
    expect(relative).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(relative.message).toBe(
      'repository "repo" must be an absolute path or an s3:// repository',
    );
    const none = await failure(mover.listRepository({ repository: dir, restorePointIds: [] }));
    expect(none).toMatchObject({ code: "NOT_FOUND" });
    // Asking never creates one.
    expect(await readdir(dir)).toEqual([]);
  });
});
