// Key files of an encrypted repository: the master key, sealed under a passphrase.
// Several key files may seal the same master key (one per passphrase); any one opens it.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { FerryError } from "../errors/ferry-error.js";
import {
  KEY_FILE_FORMAT,
  KEY_FILE_VERSION_ARGON2ID,
  KEY_FILE_VERSION_SCRYPT,
  MASTER_KEY_BYTES,
} from "./format.js";
import { freshWrappingKey, takeWrappingKeyAhead } from "./key-ahead.js";
import {
  type Argon2idParams,
  deriveWrappingKey,
  type KdfParams,
  kdfParamsProblem,
  type ScryptParams,
  writerKdf,
} from "./key-kdf.js";

/** The secrets of an encrypted repository. Never log or serialise them. */
export interface RepositoryKey {
  /** AES-256-GCM key sealing chunk files (32 bytes). */
  readonly encryptionKey: Buffer;
  /** Key of the keyed BLAKE3 that names chunks, so a digest tells nothing of the data (32 bytes). */
  readonly idKey: Buffer;
}

/** Contents of a key file (`keys/<16 hex>.json`). */
export interface KeyFile {
  format: typeof KEY_FILE_FORMAT;
  /** 1: sealed with scrypt; 2: with Argon2id (readers before 2 refuse it by its version). */
  version: typeof KEY_FILE_VERSION_SCRYPT | typeof KEY_FILE_VERSION_ARGON2ID;
  createdAt: string;
  kdf: (ScryptParams | Argon2idParams) & { salt: string };
  cipher: "aes-256-gcm";
  /** Base64 nonce of the sealing. */
  nonce: string;
  /** Base64 AES-256-GCM ciphertext of the master key, then its 16-byte tag. */
  sealed: string;
}

const TAG_BYTES = 16;

/** Throws INVALID_ARGUMENT for an empty passphrase (a key sealed under "" protects nothing). */
export function assertPassphrase(passphrase: string): void {
  if (passphrase.length === 0) {
    throw new FerryError("INVALID_ARGUMENT", "the repository passphrase is empty");
  }
}

/** A new random master key. */
export function generateRepositoryKey(): RepositoryKey {
  const master = randomBytes(MASTER_KEY_BYTES);
  return { encryptionKey: master.subarray(0, 32), idKey: master.subarray(32) };
}

/**
 * Seals `key` under `passphrase` for the repository `repositoryId` (bound as associated
 * data: a key file copied into another repository does not open there).
 */
export async function sealRepositoryKey(
  key: RepositoryKey,
  passphrase: string,
  repositoryId: string,
  kdf: KdfParams = writerKdf(),
): Promise<KeyFile> {
  assertPassphrase(passphrase);
  const fresh = freshWrappingKey(passphrase, kdf);
  const salt = fresh.salt;
  const nonce = randomBytes(12);
  const wrapping = await fresh.key;
  const cipher = createCipheriv("aes-256-gcm", wrapping, nonce);
  cipher.setAAD(Buffer.from(repositoryId));
  const sealed = Buffer.concat([
    cipher.update(Buffer.concat([key.encryptionKey, key.idKey])),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return {
    format: KEY_FILE_FORMAT,
    version: kdf.name === "argon2id" ? KEY_FILE_VERSION_ARGON2ID : KEY_FILE_VERSION_SCRYPT,
    createdAt: new Date().toISOString(),
    kdf: { ...kdf, salt: salt.toString("base64") },
    cipher: "aes-256-gcm",
    nonce: nonce.toString("base64"),
    sealed: sealed.toString("base64"),
  };
}

function bad(path: string, reason: string): FerryError {
  return new FerryError("CORRUPT_DATA", `key file ${path} is damaged: ${reason}`, {
    details: { path, reason },
  });
}

/** Parses a key file's text; CORRUPT_DATA naming `path` and the field at fault. */
export function parseKeyFile(text: string, path: string): KeyFile {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new FerryError("CORRUPT_DATA", `key file ${path} is not valid JSON`, { cause: err });
  }
  if (v?.format !== KEY_FILE_FORMAT) throw bad(path, `format must be "${KEY_FILE_FORMAT}"`);
  const kdf = v.kdf as Record<string, unknown> | undefined;
  const versionOf = { scrypt: KEY_FILE_VERSION_SCRYPT, argon2id: KEY_FILE_VERSION_ARGON2ID };
  if (v.version !== KEY_FILE_VERSION_SCRYPT && v.version !== KEY_FILE_VERSION_ARGON2ID)
    throw bad(path, `version ${String(v.version)} unknown`);
  // A damaged or hostile file must not make the open spend gigabytes or hours.
  const problem = kdfParamsProblem(kdf);
  if (problem !== undefined) throw bad(path, problem);
  if (versionOf[kdf?.name as keyof typeof versionOf] !== v.version)
    throw bad(path, `version ${String(v.version)} does not go with kdf ${String(kdf?.name)}`);
  if (v.cipher !== "aes-256-gcm") throw bad(path, 'cipher must be "aes-256-gcm"');
  for (const field of ["createdAt", "nonce", "sealed"] as const) {
    if (typeof v[field] !== "string") throw bad(path, `${field} must be a string`);
  }
  if (typeof kdf?.salt !== "string") throw bad(path, "kdf.salt must be a string");
  if (Buffer.from(v.nonce as string, "base64").length !== 12)
    throw bad(path, "nonce must be 12 bytes");
  if (Buffer.from(v.sealed as string, "base64").length !== MASTER_KEY_BYTES + TAG_BYTES) {
    throw bad(path, `sealed must be ${MASTER_KEY_BYTES + TAG_BYTES} bytes`);
  }
  return v as unknown as KeyFile;
}

/**
 * Opens a key file with `passphrase`; undefined when the passphrase is not this file's
 * (or the file was altered: GCM cannot tell the two apart).
 */
export async function unsealRepositoryKey(
  file: KeyFile,
  passphrase: string,
  repositoryId: string,
): Promise<RepositoryKey | undefined> {
  const { salt, ...kdf } = file.kdf;
  const saltBytes = Buffer.from(salt, "base64");
  const wrapping = await (takeWrappingKeyAhead(passphrase, saltBytes, kdf) ??
    deriveWrappingKey(passphrase, saltBytes, kdf));
  const sealed = Buffer.from(file.sealed, "base64");
  const decipher = createDecipheriv("aes-256-gcm", wrapping, Buffer.from(file.nonce, "base64"));
  decipher.setAAD(Buffer.from(repositoryId));
  decipher.setAuthTag(sealed.subarray(MASTER_KEY_BYTES));
  let master: Buffer;
  try {
    master = Buffer.concat([
      decipher.update(sealed.subarray(0, MASTER_KEY_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return undefined;
  }
  return { encryptionKey: master.subarray(0, 32), idKey: master.subarray(32) };
}
