import { createHash, randomBytes } from "node:crypto";
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blake3Digest, digestsEqual, digestToHex } from "./digest.js";
import { decodeFixedIndexHeader, encodeFixedIndexHeader } from "./fixed-index-header.js";
import { FIXED_INDEX_HEADER_BYTES } from "./format.js";
import { collectGarbage } from "./garbage-collection.js";
import { rejection } from "./rejection.test-helper.js";
import { openRepository, type Repository } from "./repository.js";
import { commitChunks, TEST_CHUNK } from "./repository-fixtures.test-helper.js";
import { verifyRestorePoints } from "./verify.js";

// Chunks compared by length and hash: a mismatch reads plainly, with no diff of 4 MiB.
const fingerprint = (b: Uint8Array) =>
  `${b.length} bytes, sha256 ${createHash("sha256").update(b).digest("hex")}`;

const PASS = "correct horse battery staple";

let base: string;
let root: string;
const opened: Repository[] = [];

async function open(options: { passphrase?: string; create?: boolean } = {}) {
  const repo = await openRepository({ root, ...options });
  opened.push(repo);
  return repo;
}

function chunkFile(digest: Uint8Array): string {
  const hex = digestToHex(digest);
  return join(root, "chunks", hex.slice(0, 4), hex);
}

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "ferry-encryption-"));
  root = join(base, "repo");
});

afterEach(async () => {
  for (const repo of opened.splice(0)) await repo.close();
  await rm(base, { recursive: true, force: true });
});

describe("an encrypted repository", () => {
  it("stores nothing in the clear and names chunks by a keyed digest", async () => {
    const repo = await open({ create: true, passphrase: PASS });
    expect(repo.config).toMatchObject({ version: 3, encryption: { cipher: "aes-256-gcm" } });
    // Text compresses: the plain format would store its LZ4 literals readable.
    const text = Buffer.from("the quarterly payroll of ACME ".repeat(TEST_CHUNK / 30 + 1)).subarray(
      0,
      TEST_CHUNK,
    );
    const noise = randomBytes(TEST_CHUNK);
    await commitChunks(repo, "vm", [text, noise]);
    for (const data of [text, noise]) {
      const digest = repo.chunks.digestOf(data);
      expect(digestsEqual(digest, blake3Digest(data))).toBe(false);
      const file = await readFile(chunkFile(digest));
      expect(file.includes(data.subarray(0, 24))).toBe(false);
      expect(file.subarray(0, 8).toString()).toBe("FRYCHE02");
    }
    const sealedText = await readFile(chunkFile(repo.chunks.digestOf(text)));
    expect(sealedText.includes(Buffer.from("ACME"))).toBe(false);
    // A second repository with its own key names the same data differently.
    const other = await openRepository({
      root: join(base, "other"),
      create: true,
      passphrase: PASS,
    });
    opened.push(other);
    expect(digestsEqual(other.chunks.digestOf(text), repo.chunks.digestOf(text))).toBe(false);
  });

  it("restores and verifies with the passphrase", async () => {
    const data = [randomBytes(TEST_CHUNK), Buffer.alloc(TEST_CHUNK, 7)];
    const writer = await open({ create: true, passphrase: PASS });
    const id = await commitChunks(writer, "vm", data);
    await writer.close();

    const repo = await open({ passphrase: PASS });
    const index = await (await repo.openRestorePoint(id)).readIndex("disk0");
    for (const [i, part] of data.entries()) {
      expect(fingerprint(await repo.chunks.get(index.digestAt(i)))).toBe(fingerprint(part));
    }
    const report = await verifyRestorePoints(repo);
    expect(report).toMatchObject({ chunksChecked: 2, badChunks: [] });
  });

  it("without the passphrase lists restore points but refuses chunks, naming the cause", async () => {
    const writer = await open({ create: true, passphrase: PASS });
    const id = await commitChunks(writer, "vm", [randomBytes(TEST_CHUNK)]);
    await writer.close();

    const locked = await open();
    expect((await locked.listRestorePoints()).map((m) => m.restorePointId)).toEqual([id]);
    const digest = (await (await locked.openRestorePoint(id)).readIndex("disk0")).digestAt(0);
    expect(await locked.chunks.has(digest)).toBe(true);
    for (const attempt of [
      locked.chunks.get(digest),
      locked.chunks.verify(digest),
      locked.chunks.put(digest, Buffer.alloc(1, 1)),
      verifyRestorePoints(locked),
    ]) {
      const err = await rejection(attempt);
      expect(err.code).toBe("KEY_REQUIRED");
      expect(err.message).toContain("is encrypted");
      expect(err.message).toContain(root);
    }
    expect(() => locked.chunks.digestOf(Buffer.alloc(1, 1))).toThrow(/encrypted/);
  });

  it("is pruned and garbage collected without the passphrase, and still restores", async () => {
    const writer = await open({ create: true, passphrase: PASS });
    const shared = randomBytes(TEST_CHUNK);
    const gone = await commitChunks(writer, "vm", [shared, randomBytes(TEST_CHUNK)]);
    const kept = await commitChunks(writer, "vm", [shared]);
    await writer.close();

    const locked = await open();
    await locked.deleteRestorePoint(gone);
    const gc = await collectGarbage(locked, { nowMs: Date.now() + 3_600_000, graceMs: 0 });
    expect(gc).toMatchObject({ chunksRemoved: 1 });

    const repo = await open({ passphrase: PASS });
    const index = await (await repo.openRestorePoint(kept)).readIndex("disk0");
    expect(fingerprint(await repo.chunks.get(index.digestAt(0)))).toBe(fingerprint(shared));
    expect((await verifyRestorePoints(repo)).badChunks).toEqual([]);
  });

  it("refuses a wrong passphrase without saying anything of the right one", async () => {
    await (await open({ create: true, passphrase: PASS })).close();
    const err = await rejection(open({ passphrase: "Correct horse battery staple" }));
    expect(err.code).toBe("KEY_REQUIRED");
    expect(err.message).toMatch(/wrong passphrase .* none of its 1 key files/);
    expect(err.message).not.toContain("horse");
  });

  it("opens with any of its passphrases, and a key file does not open another repository", async () => {
    const repo = await open({ create: true, passphrase: PASS });
    const id = await commitChunks(repo, "vm", [randomBytes(TEST_CHUNK)]);
    await repo.addPassphrase("second passphrase");
    await repo.close();
    const second = await open({ passphrase: "second passphrase" });
    const digest = (await (await second.openRestorePoint(id)).readIndex("disk0")).digestAt(0);
    expect((await second.chunks.get(digest)).length).toBe(TEST_CHUNK);

    // Another repository, its key files replaced by this one's: the id binds them.
    const otherRoot = join(base, "other");
    await (await openRepository({ root: otherRoot, create: true, passphrase: "x" })).close();
    await rm(join(otherRoot, "keys"), { recursive: true });
    await cp(join(root, "keys"), join(otherRoot, "keys"), { recursive: true });
    const err = await rejection(openRepository({ root: otherRoot, passphrase: PASS }));
    expect(err.code).toBe("KEY_REQUIRED");
  });

  it("finds a chunk file swapped under another name, or damaged, as corrupt", async () => {
    const repo = await open({ create: true, passphrase: PASS });
    const [a, b] = [randomBytes(TEST_CHUNK), randomBytes(TEST_CHUNK)];
    await commitChunks(repo, "vm", [a, b]);
    const [da, db] = [repo.chunks.digestOf(a), repo.chunks.digestOf(b)];
    await writeFile(chunkFile(da), await readFile(chunkFile(db)));
    const swapped = await rejection(repo.chunks.get(da));
    expect(swapped.code).toBe("CORRUPT_DATA");
    expect(swapped.message).toContain(digestToHex(da));
    expect(swapped.message).toContain("authentication tag");

    const file = await readFile(chunkFile(db));
    file[file.length - 1] = (file[file.length - 1] as number) ^ 1;
    await writeFile(chunkFile(db), file);
    expect(await repo.chunks.verify(db)).toMatchObject({ t: "corrupt" });
  });

  it("refuses a sealed chunk planted in a plain repository, and a damaged key file by name", async () => {
    const plain = await open({ create: true });
    const data = randomBytes(TEST_CHUNK);
    await plain.chunks.put(plain.chunks.digestOf(data), data);
    await writeFile(
      chunkFile(plain.chunks.digestOf(data)),
      Buffer.concat([Buffer.from("FRYCHE02"), randomBytes(100)]),
    );
    const err = await rejection(plain.chunks.get(plain.chunks.digestOf(data)));
    expect(err.message).toContain("sealed (encrypted) chunk in a plain repository");

    root = join(base, "sealed");
    await (await open({ create: true, passphrase: PASS })).close();
    const [keyName] = await readdir(join(root, "keys"));
    const keyPath = join(root, "keys", keyName as string);
    const key = JSON.parse(await readFile(keyPath, "utf8"));
    // Out of any reader's bounds for either KDF.
    await writeFile(
      keyPath,
      JSON.stringify({ ...key, kdf: { ...key.kdf, N: 2 ** 30, m: 2 ** 30 } }),
    );
    const damaged = await rejection(open({ passphrase: PASS }));
    expect(damaged.code).toBe("KEY_REQUIRED");
    expect(damaged.message).toContain(`damaged: ${keyName}`);
  });

  it("refuses to become plaintext: no backup into a plain repository with a passphrase, no config rewritten to version 1", async () => {
    const plain = await open({ create: true });
    const id = await commitChunks(plain, "vm", [randomBytes(TEST_CHUNK)]);
    await plain.close();
    // Its old backups stay readable with a passphrase configured; new ones are refused.
    const withPassphrase = await open({ passphrase: PASS });
    const index = await (await withPassphrase.openRestorePoint(id)).readIndex("disk0");
    expect((await withPassphrase.chunks.get(index.digestAt(0))).length).toBe(TEST_CHUNK);
    const plainErr = await rejection(
      withPassphrase.beginRestorePoint({ vmId: "vm", vmName: "vm" }),
    );
    expect(plainErr.code).toBe("FAILED_PRECONDITION");
    expect(plainErr.message).toContain("is not encrypted, but a passphrase was given");

    root = join(base, "sealed");
    await (await open({ create: true, passphrase: PASS })).close();
    const configPath = join(root, "repository.json");
    const config = JSON.parse(await readFile(configPath, "utf8"));
    const { encryption: _dropped, ...downgraded } = config;
    // Version 3 is plain without its `encryption` field: refused beside key files too.
    for (const version of [1, 3]) {
      await writeFile(configPath, JSON.stringify({ ...downgraded, version }));
      const err = await rejection(open());
      expect(err.code).toBe("CORRUPT_DATA");
      expect(err.message).toContain("holds 1 key file(s)");
    }
  });

  it("is not created anew over backups whose repository.json is gone", async () => {
    const repo = await open({ create: true, passphrase: PASS });
    await commitChunks(repo, "vm", [randomBytes(TEST_CHUNK)]);
    await repo.close();
    await rm(join(root, "repository.json"));
    const keysBefore = await readdir(join(root, "keys"));
    const err = await rejection(open({ create: true, passphrase: PASS }));
    expect(err.code).toBe("FAILED_PRECONDITION");
    expect(err.message).toContain("the config is missing");
    expect(await readdir(join(root, "keys"))).toEqual(keysBefore);
  });

  it("writes key files only its owner can read, and skips a planted one that would stall the open", async () => {
    await (await open({ create: true, passphrase: PASS })).close();
    const [keyName] = await readdir(join(root, "keys"));
    const keyPath = join(root, "keys", keyName as string);
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    const key = JSON.parse(await readFile(keyPath, "utf8"));
    // Sorted first, with a 4 GiB scrypt: refused by its parameters, not run.
    const planted = join(root, "keys", "0000000000000000.json");
    const kdf = { name: "scrypt", N: 2 ** 20, r: 32, p: 1, salt: key.kdf.salt };
    await writeFile(planted, JSON.stringify({ ...key, version: 1, kdf }));
    const repo = await open({ passphrase: PASS });
    expect(repo.config.encryption).toBeDefined();
    const err = await rejection(open({ passphrase: "wrong" }));
    expect(err.message).toContain(
      "none of its 1 key files (1 more damaged: 0000000000000000.json)",
    );
  });

  it("is created once when two processes race, and both write under the same key", async () => {
    const [a, b] = await Promise.all([
      openRepository({ root, create: true, passphrase: PASS }),
      openRepository({ root, create: true, passphrase: PASS }),
    ]);
    opened.push(a, b);
    expect(a.config.id).toBe(b.config.id);
    const data = randomBytes(TEST_CHUNK);
    expect(digestsEqual(a.chunks.digestOf(data), b.chunks.digestOf(data))).toBe(true);
    await a.chunks.put(a.chunks.digestOf(data), data);
    expect(fingerprint(await b.chunks.get(b.chunks.digestOf(data)))).toBe(fingerprint(data));
    expect(await readdir(join(root, "keys"))).toHaveLength(1);
  });

  it("authenticates each restore point: a reordered index or an edited manifest is caught with the key", async () => {
    const repo = await open({ create: true, passphrase: PASS });
    const id = await commitChunks(repo, "vm", [randomBytes(TEST_CHUNK), randomBytes(TEST_CHUNK)]);
    const other = await commitChunks(repo, "vm", [randomBytes(TEST_CHUNK)]);
    const dir = join(root, "restore-points", id);
    expect(await readdir(dir)).toContain("manifest.mac");
    await repo.close();

    // Swap the two slots and make the index consistent again, checksums and all: what
    // someone with write access but no key can do. It would restore the disk scrambled.
    const indexPath = join(dir, "disk0.fidx");
    const file = await readFile(indexPath);
    const header = decodeFixedIndexHeader(file, file.length, indexPath);
    const table = file.subarray(FIXED_INDEX_HEADER_BYTES);
    const first = Buffer.from(table.subarray(0, 32));
    table.copy(table, 0, 32, 64);
    first.copy(table, 32);
    encodeFixedIndexHeader({ ...header, digestTableChecksum: blake3Digest(table) }, file);
    await writeFile(indexPath, file);
    const locked = await open();
    // Without the key nothing can be checked, and nothing restored either.
    expect((await (await locked.openRestorePoint(id)).readIndex("disk0")).chunkCount).toBe(2);
    const keyed = await open({ passphrase: PASS });
    const reordered = await rejection((await keyed.openRestorePoint(id)).readIndex("disk0"));
    expect(reordered.code).toBe("CORRUPT_DATA");
    expect(reordered.message).toContain(`is not the one restore point ${id} authenticates`);
    // Verify names it and still verifies the others.
    const report = await verifyRestorePoints(keyed);
    expect(report.restorePoints.map((p) => [p.restorePointId, p.ok])).toEqual([
      [id, false],
      [other, true],
    ]);
    expect(report.restorePoints[0]?.error).toContain("authenticates");

    const manifestPath = join(dir, "manifest.json");
    const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
    await writeFile(manifestPath, JSON.stringify({ ...manifest, vmName: "renamed" }));
    const edited = await rejection(keyed.openRestorePoint(id));
    expect(edited.message).toMatch(/fails its authentication: the MAC does not match/);
    await rm(join(dir, "manifest.mac"));
    const missing = await rejection(keyed.openRestorePoint(id));
    expect(missing.message).toContain("manifest.mac is missing");
  });

  it("commits no restore point when opened without its passphrase", async () => {
    await (await open({ create: true, passphrase: PASS })).close();
    const locked = await open();
    const err = await rejection(locked.beginRestorePoint({ vmId: "vm", vmName: "vm" }));
    expect(err.code).toBe("KEY_REQUIRED");
  });

  it("is created only with a non-empty passphrase", async () => {
    expect((await rejection(open({ create: true, passphrase: "" }))).code).toBe("INVALID_ARGUMENT");
  });
});
