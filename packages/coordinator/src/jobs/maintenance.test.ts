import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "@ferry/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectRepositoryGarbage, verifyRepository } from "./maintenance.js";
import { repositoryWithOnePoint } from "./repository-fixture.test-helper.js";

const PASS = "coordinator passphrase";
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-maint-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** An encrypted repository holding one restore point of one chunk. */
async function encryptedRepository(): Promise<{ root: string; id: string }> {
  const root = join(dir, "repo");
  return { root, id: await repositoryWithOnePoint(root, { passphrase: PASS }) };
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
