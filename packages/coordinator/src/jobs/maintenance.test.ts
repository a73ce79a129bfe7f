import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError, openRepository } from "@ferry/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectRepositoryGarbage, verifyRepository } from "./maintenance.js";

const PASS = "coordinator passphrase";
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-maint-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** An encrypted repository holding one restore point of one chunk. */
async function encryptedRepository(): Promise<{ root: string; id: string }> {
  const root = join(dir, "repo");
  await using repo = await openRepository({ root, create: true, passphrase: PASS });
  const data = randomBytes(64 * 1024);
  const writer = await repo.beginRestorePoint({ vmId: "vm", vmName: "vm" });
  const index = writer.addDisk({
    diskId: "d",
    sizeBytes: data.length,
    chunkSizeBytes: data.length,
  });
  const digest = repo.chunks.digestOf(data);
  await repo.chunks.put(digest, data);
  index.set(0, digest);
  const manifest = await writer.commit({
    consistency: "crash",
    mode: "full",
    source: { moverId: "m", transport: "hotadd" },
    diskStats: { d: { bytesRead: data.length, bytesNew: data.length } },
  });
  return { root, id: manifest.restorePointId };
}

describe("the coordinator's maintenance of an encrypted repository", () => {
  it("verifies with the configured passphrase and says what is missing without it", async () => {
    const { root, id } = await encryptedRepository();
    const report = await verifyRepository(root, [id], { passphrase: PASS });
    expect(report).toMatchObject({ chunksChecked: 1, badChunks: [] });
    const err = await verifyRepository(root, [id]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ code: "KEY_REQUIRED" });
    expect((err as FerryError).message).toContain(`repository ${root} is encrypted`);
  });

  it("collects garbage without the passphrase", async () => {
    const { root } = await encryptedRepository();
    const result = await collectRepositoryGarbage(root, { dryRun: true });
    expect(result).toMatchObject({ restorePoints: 1, chunksReferenced: 1, chunksRemoved: 0 });
  });
});
