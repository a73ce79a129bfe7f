import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError, openRepository } from "@ferry/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backUpFile } from "../task/back-up-file.test-helper.js";
import { deleteRestorePoints } from "./delete-restore-points.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-delete-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("deleteRestorePoints", () => {
  it("deletes nothing once aborted, and says it was cancelled", async () => {
    await using repo = await openRepository({ root: join(dir, "repo"), create: true });
    const image = join(dir, "disk.raw");
    await writeFile(image, randomBytes(64 * 1024));
    const id = await backUpFile(repo, image, { vmId: "vm-1", chunkSizeBytes: 64 * 1024 });
    const stop = new AbortController();
    stop.abort();
    const err = await deleteRestorePoints(repo, [id], stop.signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ code: "CANCELLED" });
    expect((await repo.listRestorePoints()).map((m) => m.restorePointId)).toEqual([id]);
  });
});
