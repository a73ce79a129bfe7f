import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isFerryError } from "../../errors/ferry-error.js";
import { createLocalBackend } from "./local-backend.js";
import type { ListEntry, RepositoryBackend } from "./repository-backend.js";

// What only the local backend promises; the shared contract is test/src/repository-backend.test.ts.

describe("local backend", () => {
  let dir: string;
  let backend: RepositoryBackend;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-local-backend-"));
    backend = createLocalBackend({ root: join(dir, "repo") });
  });
  afterEach(async () => {
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores each object as the file at its key's path (the repository layout)", async () => {
    await backend.put("restore-points/vm-1/rp/manifest.json", [Buffer.from("{}\n")]);
    await backend.putIfAbsent("chunks/1a2b/1a2bcd", [Buffer.from("chunk")]);
    expect(await readFile(join(dir, "repo/restore-points/vm-1/rp/manifest.json"), "utf8")).toBe(
      "{}\n",
    );
    expect(await readFile(join(dir, "repo/chunks/1a2b/1a2bcd"), "utf8")).toBe("chunk");
    // No temporary file is left beside them.
    expect(await readdir(join(dir, "repo/chunks/1a2b"))).toEqual(["1a2bcd"]);
    expect(await readdir(join(dir, "repo/restore-points/vm-1/rp"))).toEqual(["manifest.json"]);
  });

  it("lists no write in progress (.tmp- files), and dot-names otherwise as they are", async () => {
    await mkdir(join(dir, "repo/chunks/aa"), { recursive: true });
    await writeFile(join(dir, "repo/chunks/aa/.tmp-aa01-0123456789ab"), "partial");
    await writeFile(join(dir, "repo/chunks/aa/aa01"), "whole");
    await backend.put("restore-points/.staging-x/disk.fidx", [Buffer.from("i")]);
    const keys: string[] = [];
    for await (const e of backend.list("")) keys.push(e.key);
    expect(keys).toEqual(["chunks/aa/aa01", "restore-points/.staging-x/disk.fidx"]);
  });

  it("lists an empty directory as a prefix in a delimited listing", async () => {
    await mkdir(join(dir, "repo/restore-points/vm-2"), { recursive: true });
    const entries: ListEntry[] = [];
    for await (const e of backend.list("restore-points/", { delimited: true })) entries.push(e);
    expect(entries).toEqual([{ t: "prefix", key: "restore-points/vm-2/" }]);
  });

  it("lists a symbolic link as what it points to, as get reads through it", async () => {
    await backend.put("elsewhere/obj", [Buffer.from("o")]);
    await mkdir(join(dir, "repo/restore-points"), { recursive: true });
    await symlink(join(dir, "repo/elsewhere"), join(dir, "repo/restore-points/vm-3"));
    const entries: ListEntry[] = [];
    for await (const e of backend.list("restore-points/", { delimited: true })) entries.push(e);
    expect(entries).toEqual([{ t: "prefix", key: "restore-points/vm-3/" }]);
    const below: string[] = [];
    for await (const e of backend.list("restore-points/vm-3/")) below.push(e.key);
    expect(below).toEqual(["restore-points/vm-3/obj"]);
  });

  it("fails a write into a file's place with an error naming the key, leaving nothing", async () => {
    await backend.put("blocked", [Buffer.from("a file")]);
    const err = await backend.put("blocked/child", [Buffer.from("x")]).catch((e: unknown) => e);
    expect(isFerryError(err)).toBe(true);
    expect(isFerryError(err) && err.details.key).toBe("blocked/child");
    expect(await readdir(join(dir, "repo"))).toEqual(["blocked"]);
  });
});
