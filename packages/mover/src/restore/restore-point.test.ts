import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError, openRepository, type Repository } from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backUpFile } from "../task/back-up-file.test-helper.js";
import { restoreRestorePoint } from "./restore-point.js";

const MiB = 1024 * 1024;
const sha = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

describe("restoring a restore point never destroys what is there", () => {
  let dir: string;
  let repo: Repository;
  let image: string;
  let restorePointId: string;
  const restore = (to: { file: string } | { dir: string }, overwrite = false) =>
    restoreRestorePoint({ repository: repo, restorePointId, to, format: "raw", overwrite });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-restore-"));
    image = join(dir, "disk.raw");
    const fh = await open(image, "w");
    await fh.truncate(3 * MiB);
    await fh.write(Buffer.alloc(MiB + 4096, "ferry "), 0, MiB + 4096, 512 * 1024);
    await fh.close();
    repo = await openRepository({ root: join(dir, "repo"), create: true });
    restorePointId = await backUpFile(repo, image, { vmId: "vm1", chunkSizeBytes: MiB });
  });
  afterAll(async () => {
    await repo?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses an existing file before writing anything, and replaces it with overwrite", async () => {
    const target = join(dir, "existing.raw");
    await writeFile(target, "mine");
    const err = restore({ file: target });
    await expect(err).rejects.toBeInstanceOf(FerryError);
    await expect(err).rejects.toMatchObject({
      code: "ALREADY_EXISTS",
      message: expect.stringMatching(/existing\.raw exists: .*--overwrite/),
    });
    expect(await readFile(target, "utf8")).toBe("mine");
    expect((await readdir(dir)).filter((f) => f.includes("partial"))).toEqual([]);

    await restore({ file: target }, true);
    expect(await sha(target)).toBe(await sha(image));
  });

  it("into a directory: refuses a symlink planted at the disk's name and leaves its destination alone", async () => {
    const to = join(dir, "into");
    await mkdir(to);
    const victim = join(dir, "victim.txt");
    await writeFile(victim, "precious");
    await symlink(victim, join(to, "disk0.raw"));
    for (const overwrite of [false, true]) {
      await expect(restore({ dir: to }, overwrite)).rejects.toThrow(
        /disk0\.raw is a symbolic link/,
      );
    }
    expect(await readFile(victim, "utf8")).toBe("precious");
    expect(await readdir(to)).toEqual(["disk0.raw"]);
  });

  it("into a directory: writes only <disk>.<format>, and a failed restore leaves nothing, not even the directory it made", async () => {
    const to = join(dir, "new", "deeper");
    const written = await restore({ dir: to });
    expect(written).toEqual([{ diskId: "disk0", path: join(to, "disk0.raw") }]);
    expect(await readdir(to)).toEqual(["disk0.raw"]);
    expect(await sha(join(to, "disk0.raw"))).toBe(await sha(image));

    // Cancelled once the first chunk is on disk: the staged image and the new folders go.
    const cancelled = new AbortController();
    const failing = join(dir, "never", "made");
    let staged: string[] = [];
    await expect(
      restoreRestorePoint({
        repository: repo,
        restorePointId,
        to: { dir: failing },
        format: "raw",
        parallel: 1,
        onProgress: () => {
          if (cancelled.signal.aborted) return;
          staged = readdirSync(failing);
          cancelled.abort();
        },
        signal: cancelled.signal,
      }),
    ).rejects.toThrow(/cancel/i);
    expect(staged).toEqual([expect.stringMatching(/^disk0\.raw\.partial-\d+\.raw$/)]);
    expect(await readdir(dir)).not.toContain("never");
  });
});
