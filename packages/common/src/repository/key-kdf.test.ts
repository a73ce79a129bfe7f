import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { argon2id } from "./argon2-native.js";
import { rejection } from "./rejection.test-helper.js";
import { openRepository } from "./repository.js";
import { parseKeyFile, sealRepositoryKey, unsealRepositoryKey } from "./repository-key.js";

const PASS = "correct horse battery staple";
let base: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "ferry-kdf-"));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function onlyKeyFile(root: string): Promise<string> {
  const names = await readdir(join(root, "keys"));
  expect(names).toHaveLength(1);
  return join(root, "keys", names[0] as string);
}

describe("key file KDFs", () => {
  it("runs Argon2id as its reference implementation's test vector says", async () => {
    // phc-winner-argon2 src/test.c: Argon2id v0x13, t = 2, m = 2^16 KiB, p = 1.
    const out = await argon2id(
      Buffer.from("password"),
      Buffer.from("somesalt"),
      { t: 2, m: 65536, p: 1 },
      32,
    );
    expect(out.toString("hex")).toBe(
      "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7",
    );
  });

  it("seals new key files with Argon2id, and still opens a repository whose key file is scrypt's", async () => {
    const root = join(base, "repo");
    const repo = await openRepository({ root, create: true, passphrase: PASS });
    const id = repo.config.id;
    await repo.close();
    const path = await onlyKeyFile(root);
    const written = parseKeyFile(await readFile(path, "utf8"), path);
    expect(written).toMatchObject({ version: 2, kdf: { name: "argon2id" } });

    // The same master key, sealed as Ferry sealed key files before Argon2id.
    const key = await unsealRepositoryKey(written, PASS, id);
    if (!key) throw new Error("the passphrase did not open the key file it sealed");
    const old = await sealRepositoryKey(key, PASS, id, { name: "scrypt", N: 2 ** 14, r: 8, p: 1 });
    expect(old).toMatchObject({ version: 1, kdf: { name: "scrypt" } });
    await writeFile(path, JSON.stringify(old));
    const reopened = await openRepository({ root, passphrase: PASS });
    expect(reopened.config.id).toBe(id);
    await reopened.close();
    const wrong = await rejection(openRepository({ root, passphrase: "wrong" }));
    expect(wrong.code).toBe("KEY_REQUIRED");
  });

  it("refuses key files whose KDF is unknown, mismatched with the version, or too costly, naming the file", async () => {
    const root = join(base, "repo");
    await (await openRepository({ root, create: true, passphrase: PASS })).close();
    const path = await onlyKeyFile(root);
    const file = JSON.parse(await readFile(path, "utf8"));
    const refused = (changes: object) => {
      try {
        parseKeyFile(JSON.stringify({ ...file, ...changes }), path);
      } catch (err) {
        return (err as Error).message;
      }
      return "accepted";
    };
    expect(refused({ kdf: { ...file.kdf, name: "pbkdf2" } })).toContain(
      `key file ${path} is damaged: kdf name must be "scrypt" or "argon2id"`,
    );
    expect(refused({ version: 1 })).toContain("version 1 does not go with kdf argon2id");
    // 4 GiB of Argon2 memory, and a cheap 1 MiB one: neither is run.
    expect(refused({ kdf: { ...file.kdf, m: 4 * 1024 * 1024 } })).toContain(
      "argon2id parameters out of range",
    );
    expect(refused({ kdf: { ...file.kdf, m: 1024 } })).toContain(
      "argon2id parameters out of range",
    );
  });
});
