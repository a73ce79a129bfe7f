// The keys/ directory of an encrypted repository: writing key files, and finding the one a
// passphrase opens.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "../errors/ferry-error.js";
import { fsyncPath, writeFileExclusive } from "./durable-fs.js";
import { KEYS_DIR } from "./format.js";
import { errnoOf, fsError } from "./fs-errors.js";
import {
  type KeyFile,
  parseKeyFile,
  type RepositoryKey,
  sealRepositoryKey,
  unsealRepositoryKey,
} from "./repository-key.js";

const KEY_FILE_NAME = /^[0-9a-f]{16}\.json$/;

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
  if (!(await writeFileExclusive(join(dir, name), [text], "a key file"))) {
    throw new FerryError("ALREADY_EXISTS", `key file ${name} already exists`);
  }
  return name;
}

/** The repository's key files by name; damaged ones are reported through `onDamaged`. */
async function readKeyFiles(
  root: string,
  onDamaged: (name: string, error: FerryError) => void,
): Promise<Map<string, KeyFile>> {
  const dir = join(root, KEYS_DIR);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => KEY_FILE_NAME.test(n)).sort();
  } catch (err) {
    if (errnoOf(err) === "ENOENT") names = [];
    else throw fsError(err, "listing key files", dir);
  }
  const files = new Map<string, KeyFile>();
  for (const name of names) {
    const path = join(dir, name);
    try {
      files.set(name, parseKeyFile(await readFile(path, "utf8"), path));
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
): Promise<{ key: RepositoryKey; keyFile: string }> {
  const damaged: string[] = [];
  const files = await readKeyFiles(root, (name) => damaged.push(name));
  for (const [name, file] of files) {
    const key = await unsealRepositoryKey(file, passphrase, repositoryId);
    if (key) return { key, keyFile: name };
  }
  const extra =
    damaged.length > 0 ? ` (${damaged.length} more damaged: ${damaged.join(", ")})` : "";
  throw new FerryError(
    "KEY_REQUIRED",
    files.size === 0
      ? `repository ${root} is encrypted but has no readable key file in ${KEYS_DIR}/${extra}`
      : `wrong passphrase for repository ${root}: it opens none of its ${files.size} key files${extra}`,
    { details: { repository: root } },
  );
}
