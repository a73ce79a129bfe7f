import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { link, mkdir, mkdtemp, open, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "@ferry/common";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkTarget, commitTarget } from "./restore-target.js";
import { findFileHolders } from "./target-holders.js";

const refusal = (p: Promise<unknown>): Promise<FerryError> =>
  p.then(
    () => {
      throw new Error("resolved, expected a refusal");
    },
    (err: unknown) => {
      if (!(err instanceof FerryError)) throw err;
      return err;
    },
  );

/** A process that holds `path` open for writing (as its stdout) until killed. */
async function holdOpen(path: string): Promise<ChildProcess> {
  const handle = await open(path, "r+");
  const child = spawn("sleep", ["600"], { stdio: ["ignore", handle.fd, "ignore"] });
  await once(child, "spawn");
  await handle.close();
  return child;
}

describe("restore targets: nothing existing is replaced unless told, nothing in use ever", () => {
  let dir: string;
  let holder: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-target-"));
  });
  afterEach(async () => {
    if (holder && holder.exitCode === null && holder.signalCode === null) {
      const gone = once(holder, "exit");
      holder.kill("SIGKILL");
      await gone;
    }
    holder = undefined;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lets a restore create a path where nothing is", async () => {
    expect(await checkTarget(join(dir, "new.raw"))).toBe("absent");
  });

  it("refuses an existing file, naming it and --overwrite; with --overwrite it may be replaced", async () => {
    const path = join(dir, "existing.raw");
    await writeFile(path, "mine");
    const err = await refusal(checkTarget(path));
    expect(err.code).toBe("ALREADY_EXISTS");
    expect(err.message).toContain(path);
    expect(err.message).toContain("--overwrite");
    expect(await checkTarget(path, { overwrite: true })).toBe("replace");
  });

  it("refuses a symlink at the target, with or without --overwrite, and leaves its destination alone", async () => {
    const victim = join(dir, "victim.txt");
    await writeFile(victim, "precious");
    const link = join(dir, "link.raw");
    await symlink(victim, link);
    for (const overwrite of [false, true]) {
      const err = await refusal(checkTarget(link, { overwrite }));
      expect(err.code).toBe("FAILED_PRECONDITION");
      expect(err.message).toMatch(/is a symbolic link: a restore never follows or replaces a link/);
    }
    const dangling = join(dir, "dangling.raw");
    await symlink(join(dir, "not-yet"), dangling);
    expect((await refusal(checkTarget(dangling, { overwrite: true }))).message).toContain(
      "symbolic link",
    );
    expect(await readFile(victim, "utf8")).toBe("precious");
  });

  it("refuses a directory in place of an image", async () => {
    const sub = join(dir, "a-directory");
    await mkdir(sub);
    const err = await refusal(checkTarget(sub, { overwrite: true }));
    expect(err.message).toMatch(/is not a regular file/);
  });

  it("refuses a file another process holds open, even with --overwrite, naming the process", async () => {
    const path = join(dir, "held.raw");
    await writeFile(path, "in use");
    holder = await holdOpen(path);
    expect((await findFileHolders(path)).map((h) => h.pid)).toEqual([holder.pid]);
    const err = await refusal(checkTarget(path, { overwrite: true }));
    expect(err.code).toBe("FAILED_PRECONDITION");
    expect(err.message).toContain(`is in use by sleep (pid ${holder.pid})`);
    expect(err.message).toMatch(/stop its VM \(or that process\) first/);
    // Another name for the same file is the same file.
    const alias = join(dir, "held-alias.raw");
    await link(path, alias);
    expect((await refusal(checkTarget(alias, { overwrite: true }))).message).toContain(
      `pid ${holder.pid}`,
    );
    const gone = once(holder, "exit");
    holder.kill("SIGKILL");
    await gone;
    expect(await checkTarget(path, { overwrite: true })).toBe("replace");
  });

  it("commits a staged file only where nothing appeared meanwhile, unless told to replace", async () => {
    const path = join(dir, "raced.raw");
    const staged = `${path}.partial`;
    await writeFile(staged, "restored");
    await writeFile(path, "appeared meanwhile");
    const err = await refusal(commitTarget(staged, path));
    expect(err.code).toBe("ALREADY_EXISTS");
    expect(await readFile(path, "utf8")).toBe("appeared meanwhile");
    await commitTarget(staged, path, { overwrite: true });
    expect(await readFile(path, "utf8")).toBe("restored");
    const fresh = join(dir, "fresh.raw");
    await writeFile(staged, "new");
    await commitTarget(staged, fresh);
    expect(await readFile(fresh, "utf8")).toBe("new");
    await expect(readFile(staged)).rejects.toThrow(/ENOENT/);
  });
});
