// The keys/ directory of an encrypted repository: writing key files, and finding the one a
// passphrase opens.
import { randomBytes } from "node:crypto";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "../errors/ferry-error.js";
import { throwIfAborted } from "../util/signals.js";
import { fsyncPath, readBoundedFile, writeFileExclusive } from "./durable-fs.js";
import { KEY_FILE_NAME, KEYS_DIR, MAX_KEY_FILE_BYTES, MAX_KEY_FILES } from "./format.js";
import { errnoOf, fsError } from "./fs-errors.js";
import {
  type KeyFile,
  parseKeyFile,
  type RepositoryKey,
  sealRepositoryKey,
  unsealRepositoryKey,
} from "./repository-key.js";

/**
 * Seals `key` under `passphrase` into a new key file of the repository at `root` (durably).
 * Returns the file's name.
 */
export async function addKeyFile(
  root: string,
  repositoryId: string,
  key: RepositoryKey,
  passphrase: string,
): Promise<string> {
  // Readers try only MAX_KEY_FILES: one more could hide an existing passphrase.
  if ((await keyFileNames(root)).length >= MAX_KEY_FILES) {
    throw new FerryError(
      "FAILED_PRECONDITION",
      `repository ${root} already has ${MAX_KEY_FILES} key files, the most a reader tries`,
    );
  }
  const file = await sealRepositoryKey(key, passphrase, repositoryId);
  const dir = join(root, KEYS_DIR);
  try {
    if ((await mkdir(dir, { recursive: true })) !== undefined) {
      await fsyncPath(root, "syncing the repository");
    }
  } catch (err) {
    throw fsError(err, "creating the keys directory", dir);
  }
  const name = `${randomBytes(8).toString("hex")}.json`;
  const text = Buffer.from(`${JSON.stringify(file, null, 2)}\n`);
  // 0600: a copied key file lets anyone guess the passphrase offline, at leisure.
  if (!(await writeFileExclusive(join(dir, name), [text], "a key file", 0o600))) {
    throw new FerryError("ALREADY_EXISTS", `key file ${name} already exists`);
  }
  return name;
}

/** Names of the key files in `root`'s keys/ (none when it has no keys/). */
export async function keyFileNames(root: string): Promise<string[]> {
  const dir = join(root, KEYS_DIR);
  try {
    return (await readdir(dir)).filter((n) => KEY_FILE_NAME.test(n)).sort();
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return [];
    throw fsError(err, "listing key files", dir);
  }
}

/** The repository's key files by name; damaged ones are reported through `onDamaged`. */
async function readKeyFiles(
  root: string,
  onDamaged: (name: string, error: FerryError) => void,
): Promise<Map<string, KeyFile>> {
  const dir = join(root, KEYS_DIR);
  const names = await keyFileNames(root);
  const files = new Map<string, KeyFile>();
  for (const name of names.slice(0, MAX_KEY_FILES)) {
    const path = join(dir, name);
    try {
      const text = (await readBoundedFile(path, MAX_KEY_FILE_BYTES, "key file")).toString("utf8");
      files.set(name, parseKeyFile(text, path));
    } catch (err) {
      if (!(err instanceof FerryError)) throw fsError(err, "reading a key file", path);
      onDamaged(name, err);
    }
  }
  return files;
}

/**
 * The master key of the encrypted repository at `root`, from the first key file that
 * `passphrase` opens. KEY_REQUIRED when none does (the message counts the files tried).
 */
export async function unlockRepositoryKey(
  root: string,
  repositoryId: string,
  passphrase: string,
  signal?: AbortSignal,
): Promise<{ key: RepositoryKey; keyFile: string }> {
  const damaged: string[] = [];
  const files = await readKeyFiles(root, (name) => damaged.push(name));
  for (const [name, file] of files) {
    throwIfAborted(signal, "unlock repository");
    const key = await unsealRepositoryKey(file, passphrase, repositoryId).catch((err: unknown) => {
      // The KDF refusing the file's parameters: that file is damaged, the others may open.
      if (!(err instanceof FerryError) || err.code !== "CORRUPT_DATA") throw err;
      damaged.push(name);
      return undefined;
    });
    if (key) return { key, keyFile: name };
  }
  const tried = [...files.keys()].filter((name) => !damaged.includes(name)).length;
  const extra =
    damaged.length > 0 ? ` (${damaged.length} more damaged: ${damaged.join(", ")})` : "";
  throw new FerryError(
    "KEY_REQUIRED",
    tried === 0
      ? `repository ${root} is encrypted but has no readable key file in ${KEYS_DIR}/${extra}`
      : `wrong passphrase for repository ${root}: it opens none of its ${tried} key files${extra}`,
    { details: { repository: root } },
  );
}
