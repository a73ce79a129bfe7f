// repository.json: reading it, and creating a repository (plain, or encrypted with its
// first key file).
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { FerryError } from "../errors/ferry-error.js";
import { fsyncPath, writeFileExclusive } from "./durable-fs.js";
import {
  CHUNKS_DIR,
  ENCRYPTED_REPOSITORY_FORMAT_VERSION,
  KEYS_DIR,
  NAME_BOUND_REPOSITORY_FORMAT_VERSION,
  REPOSITORY_CONFIG_FILE,
  REPOSITORY_CONFIG_FORMAT,
  REPOSITORY_FORMAT_VERSION,
  RESTORE_POINTS_DIR,
} from "./format.js";
import { errnoOf, fsError } from "./fs-errors.js";
import { addKeyFile } from "./key-files.js";
import { assertPassphrase, generateRepositoryKey, type RepositoryKey } from "./repository-key.js";

/** How an encrypted repository protects chunks (repository.json, version 2). */
export interface RepositoryEncryption {
  cipher: "aes-256-gcm";
  chunkIds: "blake3-keyed";
}

/** Contents of repository.json. */
export interface RepositoryConfig {
  format: typeof REPOSITORY_CONFIG_FORMAT;
  /**
   * 1: chunks in the clear; 2: encrypted (then `encryption` is set); 3: either, as
   * `encryption` says, with name-bound chunk headers.
   */
  version:
    | typeof REPOSITORY_FORMAT_VERSION
    | typeof ENCRYPTED_REPOSITORY_FORMAT_VERSION
    | typeof NAME_BOUND_REPOSITORY_FORMAT_VERSION;
  /** Random UUID of the repository. */
  id: string;
  /** ISO 8601 UTC creation time. */
  createdAt: string;
  encryption?: RepositoryEncryption;
}

export const ENCRYPTION: RepositoryEncryption = { cipher: "aes-256-gcm", chunkIds: "blake3-keyed" };

/** repository.json of `root`, or undefined when there is none. */
export async function readRepositoryConfig(root: string): Promise<RepositoryConfig | undefined> {
  const path = join(root, REPOSITORY_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    // ENOTDIR: some component of `root` is a file, so no repository lives there either.
    const errno = errnoOf(err);
    if (errno === "ENOENT" || errno === "ENOTDIR") return undefined;
    throw fsError(err, "reading the repository config", path);
  }
  return parseRepositoryConfig(text, path);
}

/** repository.json's text, checked; `path` names it in errors. */
export function parseRepositoryConfig(text: string, path: string): RepositoryConfig {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FerryError("CORRUPT_DATA", `${path} is not valid JSON`, { cause: err });
  }
  if (value?.format !== REPOSITORY_CONFIG_FORMAT) {
    throw new FerryError("CORRUPT_DATA", `${path}: format must be "${REPOSITORY_CONFIG_FORMAT}"`);
  }
  const version = value.version;
  if (
    version !== REPOSITORY_FORMAT_VERSION &&
    version !== ENCRYPTED_REPOSITORY_FORMAT_VERSION &&
    version !== NAME_BOUND_REPOSITORY_FORMAT_VERSION
  ) {
    throw new FerryError(
      "FAILED_PRECONDITION",
      `${path}: repository version ${String(version)} is not supported (this Ferry reads ${REPOSITORY_FORMAT_VERSION} to ${NAME_BOUND_REPOSITORY_FORMAT_VERSION})`,
    );
  }
  if (typeof value.id !== "string" || typeof value.createdAt !== "string") {
    throw new FerryError("CORRUPT_DATA", `${path}: id and createdAt must be strings`);
  }
  const config: RepositoryConfig = {
    format: REPOSITORY_CONFIG_FORMAT,
    version,
    id: value.id,
    createdAt: value.createdAt,
  };
  // Version 3 is encrypted exactly when it names its encryption.
  const encrypted =
    version === ENCRYPTED_REPOSITORY_FORMAT_VERSION ||
    (version === NAME_BOUND_REPOSITORY_FORMAT_VERSION && value.encryption !== undefined);
  if (encrypted) {
    const enc = value.encryption as Record<string, unknown> | undefined;
    if (enc?.cipher !== ENCRYPTION.cipher || enc.chunkIds !== ENCRYPTION.chunkIds) {
      throw new FerryError(
        "CORRUPT_DATA",
        `${path}: encryption must be ${JSON.stringify(ENCRYPTION)} in a version ${version} repository`,
      );
    }
    config.encryption = ENCRYPTION;
  }
  return config;
}

/**
 * A directory holding chunks or restore points but no repository.json lost its config: a
 * new one (a new id, for an encrypted repository a new key) would orphan every backup in it.
 */
async function assertNoData(root: string): Promise<void> {
  for (const dir of [CHUNKS_DIR, RESTORE_POINTS_DIR]) {
    const entries = await readdir(join(root, dir)).catch((err: unknown) => {
      if (errnoOf(err) === "ENOENT" || errnoOf(err) === "ENOTDIR") return [];
      throw fsError(err, "looking into the repository", join(root, dir));
    });
    if (entries.length > 0) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `${root} has no ${REPOSITORY_CONFIG_FILE} but its ${dir}/ holds data: the config is missing; restore it from a copy rather than create a new repository over these backups`,
      );
    }
  }
}

/**
 * Creates a repository at `root`: directories first, then (encrypted) the first key file,
 * then repository.json last, durably and never replacing one a racing creator wrote.
 * With `passphrase` the repository is encrypted and its new key is returned.
 */
export async function createRepository(
  root: string,
  passphrase?: string,
): Promise<{ config: RepositoryConfig; key?: RepositoryKey }> {
  if (passphrase !== undefined) assertPassphrase(passphrase);
  await assertNoData(root);
  try {
    const created = await mkdir(root, { recursive: true });
    if (created !== undefined) await fsyncPath(dirname(root), "syncing the repository's parent");
    await mkdir(join(root, CHUNKS_DIR), { recursive: true });
    await mkdir(join(root, RESTORE_POINTS_DIR), { recursive: true });
  } catch (err) {
    throw fsError(err, "creating the repository", root);
  }
  const config: RepositoryConfig = {
    format: REPOSITORY_CONFIG_FORMAT,
    version: NAME_BOUND_REPOSITORY_FORMAT_VERSION,
    id: randomUUID(),
    createdAt: new Date().toISOString(),
    ...(passphrase === undefined ? {} : { encryption: ENCRYPTION }),
  };
  const key = passphrase === undefined ? undefined : generateRepositoryKey();
  const keyFile =
    key && passphrase ? await addKeyFile(root, config.id, key, passphrase) : undefined;
  const text = Buffer.from(`${JSON.stringify(config, null, 2)}\n`);
  const path = join(root, REPOSITORY_CONFIG_FILE);
  if (await writeFileExclusive(path, [text], "the repository config")) {
    return key ? { config, key } : { config };
  }
  // Another process created it first: our key file seals a key for an id that never was
  // (it opens for no repository); remove it rather than leave clutter.
  if (keyFile) await unlink(join(root, KEYS_DIR, keyFile)).catch(() => {});
  const existing = await readRepositoryConfig(root);
  if (!existing) throw new FerryError("INTERNAL", `${path} vanished while creating the repository`);
  return { config: existing };
}
