import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectCode } from "./catalog-store.contract.test-helper.js";
import { openCatalog } from "./open-catalog.js";

// Opening by location; the PostgreSQL store itself is tested against a real server in
// postgres/postgres-catalog.test.ts.

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-open-catalog-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Nothing listens here: a password file is read, or refused, before any connection.
const NOWHERE = { t: "postgres", url: "postgres://ferry@127.0.0.1:1/ferry" } as const;

describe("openCatalog", () => {
  it("opens a SQLite catalog and refuses PostgreSQL options for it", async () => {
    const location = { t: "sqlite", path: join(dir, "c.sqlite") } as const;
    await using store = await openCatalog(location);
    expect(await store.jobs.list()).toEqual([]);
    await expectCode(openCatalog(location, { passwordFile: "/x" }), "CONFIG_INVALID");
    await expectCode(openCatalog(location, { poolSize: 3 }), "CONFIG_INVALID");
  });

  it("refuses a password file others may read, naming the file and not its content", async () => {
    const file = join(dir, "open.password");
    await writeFile(file, "s3cret\n", { mode: 0o644 });
    const opening = openCatalog(NOWHERE, { passwordFile: file });
    await expectCode(opening, "PERMISSION_DENIED");
    await expect(opening).rejects.toThrow(`catalog password file: passphrase file ${file}`);
    await expect(opening).rejects.not.toThrow("s3cret");
    await expectCode(openCatalog(NOWHERE, { passwordFile: join(dir, "missing") }), "NOT_FOUND");
  });

  it("reads the password file, then fails UNAVAILABLE on a server that is not there", async () => {
    const file = join(dir, "good.password");
    await writeFile(file, "s3cret\n", { mode: 0o600 });
    const opening = openCatalog(NOWHERE, { passwordFile: file });
    await expect(opening).rejects.toMatchObject({ code: "UNAVAILABLE", retryable: true });
    await expect(opening).rejects.toThrow("PostgreSQL server at 127.0.0.1:1");
  });
});
