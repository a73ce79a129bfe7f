import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { takeWrappingKeyAhead } from "./key-ahead.js";
import { rejection } from "./rejection.test-helper.js";
import { openRepository } from "./repository.js";
import { deriveRepositoryKeyAhead } from "./repository-key-ahead.js";

const PASS = "correct horse battery staple";
let base: string;
let root: string;
let passFile: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "ferry-key-ahead-"));
  root = join(base, "repo");
  passFile = join(base, "pass");
  await writeFile(passFile, `${PASS}\n`, { mode: 0o600 });
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function keyFileOf(dir: string) {
  const [name] = await readdir(join(dir, "keys"));
  return JSON.parse(await readFile(join(dir, "keys", name as string), "utf8"));
}

async function create(passphrase = PASS) {
  await (await openRepository({ root, create: true, passphrase })).close();
}

describe("a repository key derived ahead", () => {
  it("is the one opening the repository takes, once", async () => {
    await create();
    const salt = await deriveRepositoryKeyAhead(root, passFile);
    const file = await keyFileOf(root);
    expect(salt?.toString("base64")).toBe(file.kdf.salt);
    const { salt: _, ...kdf } = file.kdf;
    await (await openRepository({ root, passphrase: PASS })).close();
    // Taken by the open: nothing is left for anyone else.
    expect(takeWrappingKeyAhead(PASS, salt as Buffer, kdf)).toBeUndefined();
  });

  it("is not given to another passphrase or other parameters", async () => {
    await create();
    const salt = (await deriveRepositoryKeyAhead(root, passFile)) as Buffer;
    const { salt: _, ...kdf } = (await keyFileOf(root)).kdf;
    expect(takeWrappingKeyAhead("another passphrase", salt, kdf)).toBeUndefined();
    expect(takeWrappingKeyAhead(PASS, salt, { ...kdf, t: kdf.t + 1 })).toBeUndefined();
    const wrong = await rejection(openRepository({ root, passphrase: "another passphrase" }));
    expect(wrong).toMatchObject({ code: "KEY_REQUIRED" });
    // Still there for the right passphrase.
    expect(takeWrappingKeyAhead(PASS, salt, kdf)).toBeInstanceOf(Promise);
  });

  it("seals the key file of a repository created next, which then opens", async () => {
    const salt = await deriveRepositoryKeyAhead(root, passFile, { create: true });
    expect(salt).toBeInstanceOf(Buffer);
    await create();
    expect((await keyFileOf(root)).kdf.salt).toBe(salt?.toString("base64"));
    await (await openRepository({ root, passphrase: PASS })).close();
    const wrong = await rejection(openRepository({ root, passphrase: "not it" }));
    expect(wrong).toMatchObject({ code: "KEY_REQUIRED" });
  });

  it("starts nothing where there is nothing to open", async () => {
    // No repository and no create; a plain repository (no keys/).
    expect(await deriveRepositoryKeyAhead(root, passFile)).toBeUndefined();
    await (await openRepository({ root, create: true })).close();
    expect(await deriveRepositoryKeyAhead(root, passFile)).toBeUndefined();
    // A fresh derivation for another passphrase is not used: its own salt is drawn.
    const other = join(base, "other");
    const salt = await deriveRepositoryKeyAhead(other, passFile, { create: true });
    await (await openRepository({ root: other, create: true, passphrase: "different" })).close();
    expect((await keyFileOf(other)).kdf.salt).not.toBe(salt?.toString("base64"));
  });

  it("names the cause of a passphrase file it cannot use", async () => {
    await chmod(passFile, 0o644);
    const err = await rejection(deriveRepositoryKeyAhead(root, passFile, { create: true }));
    expect(err).toMatchObject({ code: "PERMISSION_DENIED" });
  });
});
