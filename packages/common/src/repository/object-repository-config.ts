// repository.json of a repository on a backend (an S3 bucket): read, or created once.
import { randomUUID } from "node:crypto";
import { FerryError, isFerryError } from "../errors/ferry-error.js";
import type { RepositoryBackend } from "./backend/repository-backend.js";
import {
  CHUNKS_DIR,
  MAX_MANIFEST_BYTES,
  NAME_BOUND_REPOSITORY_FORMAT_VERSION,
  REPOSITORY_CONFIG_FILE,
  REPOSITORY_CONFIG_FORMAT,
  RESTORE_POINTS_DIR,
} from "./format.js";
import { addKeyObject } from "./key-objects.js";
import { ENCRYPTION, parseRepositoryConfig, type RepositoryConfig } from "./repository-config.js";
import { assertPassphrase, generateRepositoryKey, type RepositoryKey } from "./repository-key.js";

/** The backend's repository.json, or undefined when it has none. */
export async function readObjectRepositoryConfig(
  backend: RepositoryBackend,
  signal?: AbortSignal,
): Promise<RepositoryConfig | undefined> {
  let bytes: Buffer;
  try {
    bytes = await backend.get(REPOSITORY_CONFIG_FILE, {
      maxBytes: MAX_MANIFEST_BYTES,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (isFerryError(err, "NOT_FOUND")) return undefined;
    throw err;
  }
  return parseRepositoryConfig(
    bytes.toString("utf8"),
    `${backend.location}/${REPOSITORY_CONFIG_FILE}`,
  );
}

/**
 * Creates a repository on `backend` (encrypted under `passphrase` when given, its key object
 * written before the config): repository.json, create-only, so of two movers creating it at
 * once one wins and both use its id (the loser's key then comes from the winner's objects). Refuses (FAILED_PRECONDITION) a
 * prefix that holds chunks or restore points but no config: a new id would orphan them.
 */
export async function createObjectRepository(
  backend: RepositoryBackend,
  signal?: AbortSignal,
  passphrase?: string,
): Promise<{ config: RepositoryConfig; key?: RepositoryKey }> {
  if (passphrase !== undefined) assertPassphrase(passphrase);
  for (const dir of [CHUNKS_DIR, RESTORE_POINTS_DIR]) {
    for await (const _ of backend.list(`${dir}/`, signal ? { signal } : {})) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `${backend.location} has no ${REPOSITORY_CONFIG_FILE} but its ${dir}/ holds data: the config is missing; restore it from a copy rather than create a new repository over these backups`,
      );
    }
  }
  const config: RepositoryConfig = {
    format: REPOSITORY_CONFIG_FORMAT,
    version: NAME_BOUND_REPOSITORY_FORMAT_VERSION,
    id: randomUUID(),
    createdAt: new Date().toISOString(),
    ...(passphrase === undefined ? {} : { encryption: ENCRYPTION }),
  };
  const key = passphrase === undefined ? undefined : generateRepositoryKey();
  // A key sealed for an id that never wins opens nothing: harmless, and GC-free clutter.
  if (key && passphrase) await addKeyObject(backend, config.id, key, passphrase, signal);
  try {
    await backend.putIfAbsent(
      REPOSITORY_CONFIG_FILE,
      [Buffer.from(`${JSON.stringify(config, null, 2)}\n`)],
      signal,
    );
    return key ? { config, key } : { config };
  } catch (err) {
    if (!isFerryError(err, "ALREADY_EXISTS")) throw err;
  }
  const existing = await readObjectRepositoryConfig(backend, signal);
  if (!existing) {
    throw new FerryError(
      "INTERNAL",
      `${backend.location}/${REPOSITORY_CONFIG_FILE} vanished while creating the repository`,
    );
  }
  return { config: existing };
}
