// The keys/ objects of an encrypted repository on a backend (an S3 bucket): the same key
// files as a directory's keys/, written create-only and found by listing.
import { randomBytes } from "node:crypto";
import { FerryError, isFerryError } from "../errors/ferry-error.js";
import { throwIfAborted } from "../util/signals.js";
import type { RepositoryBackend } from "./backend/repository-backend.js";
import { KEY_FILE_NAME, KEYS_DIR, MAX_KEY_FILE_BYTES, MAX_KEY_FILES } from "./format.js";
import {
  type KeyFile,
  parseKeyFile,
  type RepositoryKey,
  sealRepositoryKey,
  unsealRepositoryKey,
} from "./repository-key.js";

const signalOf = (signal?: AbortSignal) => (signal ? { signal } : {});

/** Names of the key objects under keys/ (none when there are none). */
export async function keyObjectNames(
  backend: RepositoryBackend,
  signal?: AbortSignal,
): Promise<string[]> {
  const names: string[] = [];
  for await (const e of backend.list(`${KEYS_DIR}/`, signalOf(signal))) {
    const name = e.key.slice(KEYS_DIR.length + 1);
    if (e.t === "object" && KEY_FILE_NAME.test(name)) names.push(name);
  }
  return names.sort();
}

/** Seals `key` under `passphrase` into a new key object; returns its name. */
export async function addKeyObject(
  backend: RepositoryBackend,
  repositoryId: string,
  key: RepositoryKey,
  passphrase: string,
  signal?: AbortSignal,
): Promise<string> {
  // Readers try only MAX_KEY_FILES: one more could hide an existing passphrase.
  if ((await keyObjectNames(backend, signal)).length >= MAX_KEY_FILES) {
    throw new FerryError(
      "FAILED_PRECONDITION",
      `repository ${backend.location} already has ${MAX_KEY_FILES} key files, the most a reader tries`,
    );
  }
  const file = await sealRepositoryKey(key, passphrase, repositoryId);
  const name = `${randomBytes(8).toString("hex")}.json`;
  const text = Buffer.from(`${JSON.stringify(file, null, 2)}\n`);
  await backend.putIfAbsent(`${KEYS_DIR}/${name}`, [text], signal);
  return name;
}

/**
 * The master key of the encrypted repository on `backend`, from the first key object that
 * `passphrase` opens. KEY_REQUIRED when none does (the message counts the objects tried).
 */
export async function unlockRepositoryKeyObject(
  backend: RepositoryBackend,
  repositoryId: string,
  passphrase: string,
  signal?: AbortSignal,
): Promise<RepositoryKey> {
  const damaged: string[] = [];
  let tried = 0;
  for (const name of (await keyObjectNames(backend, signal)).slice(0, MAX_KEY_FILES)) {
    throwIfAborted(signal, "unlock repository");
    const where = `${backend.location.replace(/\/$/, "")}/${KEYS_DIR}/${name}`;
    let file: KeyFile;
    try {
      const bytes = await backend.get(`${KEYS_DIR}/${name}`, {
        maxBytes: MAX_KEY_FILE_BYTES,
        ...signalOf(signal),
      });
      file = parseKeyFile(bytes.toString("utf8"), where);
    } catch (err) {
      // Removed since the listing, or damaged: the others may open.
      if (!isFerryError(err, "NOT_FOUND") && !isFerryError(err, "CORRUPT_DATA")) throw err;
      damaged.push(name);
      continue;
    }
    const key = await unsealRepositoryKey(file, passphrase, repositoryId).catch((err: unknown) => {
      // The KDF refusing the file's parameters: damaged. A missing libargon2 is not.
      if (!(err instanceof FerryError) || err.code !== "CORRUPT_DATA") throw err;
      damaged.push(name);
      return undefined;
    });
    if (key) return key;
    tried++;
  }
  const extra =
    damaged.length > 0 ? ` (${damaged.length} more damaged: ${damaged.join(", ")})` : "";
  throw new FerryError(
    "KEY_REQUIRED",
    tried === 0
      ? `repository ${backend.location} is encrypted but has no readable key file in ${KEYS_DIR}/${extra}`
      : `wrong passphrase for repository ${backend.location}: it opens none of its ${tried} key files${extra}`,
    { details: { repository: backend.location } },
  );
}
