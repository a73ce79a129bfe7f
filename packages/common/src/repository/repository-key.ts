// Key files of an encrypted repository: the master key, sealed under a passphrase.
// Several key files may seal the same master key (one per passphrase); any one opens it.
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";
import { FerryError } from "../errors/ferry-error.js";
import { KEY_FILE_FORMAT, KEY_FILE_VERSION, MASTER_KEY_BYTES } from "./format.js";

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
  version: typeof KEY_FILE_VERSION;
  createdAt: string;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: "aes-256-gcm";
  /** Base64 nonce of the sealing. */
  nonce: string;
  /** Base64 AES-256-GCM ciphertext of the master key, then its 16-byte tag. */
  sealed: string;
}

// What a reader accepts from a key file: never weaker than 2^14, never more than 512 MiB
// of memory, so a planted file can neither open cheaply nor stall every open.
const SCRYPT_MIN_N = 2 ** 14;
// scrypt at N = 2^17, r = 8: 128 MiB and about 0.4 s of a core here, once per open. Unit
// tests only (as borg's BORG_TESTONLY_WEAKEN_KDF) write the weakest a reader takes: they
// create dozens of encrypted repositories; the lab tests keep the real cost.
const SCRYPT = {
  N: process.env.FERRY_TESTONLY_WEAKEN_KDF === "1" ? SCRYPT_MIN_N : 2 ** 17,
  r: 8,
  p: 1,
} as const;
const SCRYPT_MAX_N = 2 ** 18;
const SCRYPT_MAX_BYTES = 512 * 1024 * 1024;
const TAG_BYTES = 16;

function deriveKey(
  passphrase: string,
  salt: Buffer,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // scrypt's own need (128·r·(N + p + 2) bytes) and a little room.
    const maxmem = 128 * params.r * (params.N + params.p + 2) + 1024 * 1024;
    scrypt(passphrase.normalize("NFC"), salt, 32, { ...params, maxmem }, (err, key) =>
      err
        ? reject(
            new FerryError(
              "CORRUPT_DATA",
              `scrypt refused the key file's parameters: ${err.message}`,
              {
                cause: err,
              },
            ),
          )
        : resolve(key),
    );
  });
}

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
): Promise<KeyFile> {
  assertPassphrase(passphrase);
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const wrapping = await deriveKey(passphrase, salt, SCRYPT);
  const cipher = createCipheriv("aes-256-gcm", wrapping, nonce);
  cipher.setAAD(Buffer.from(repositoryId));
  const sealed = Buffer.concat([
    cipher.update(Buffer.concat([key.encryptionKey, key.idKey])),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    createdAt: new Date().toISOString(),
    kdf: { name: "scrypt", ...SCRYPT, salt: salt.toString("base64") },
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
  if (v.version !== KEY_FILE_VERSION) throw bad(path, `version ${String(v.version)} unknown`);
  const kdf = v.kdf as Record<string, unknown> | undefined;
  const int = (x: unknown) => typeof x === "number" && Number.isInteger(x) && x >= 1;
  if (kdf?.name !== "scrypt" || !int(kdf.N) || !int(kdf.r) || !int(kdf.p)) {
    throw bad(path, "kdf must be scrypt with integer N, r, p");
  }
  // A damaged or hostile file must not make the open spend gigabytes or hours.
  const [N, r, p] = [kdf.N, kdf.r, kdf.p] as number[] as [number, number, number];
  if (
    N < SCRYPT_MIN_N ||
    N > SCRYPT_MAX_N ||
    (N & (N - 1)) !== 0 ||
    r > 16 ||
    p > 4 ||
    128 * N * r * p > SCRYPT_MAX_BYTES
  ) {
    throw bad(path, "scrypt parameters out of range");
  }
  if (v.cipher !== "aes-256-gcm") throw bad(path, 'cipher must be "aes-256-gcm"');
  for (const field of ["createdAt", "nonce", "sealed"] as const) {
    if (typeof v[field] !== "string") throw bad(path, `${field} must be a string`);
  }
  if (typeof kdf.salt !== "string") throw bad(path, "kdf.salt must be a string");
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
  const { N, r, p, salt } = file.kdf;
  const wrapping = await deriveKey(passphrase, Buffer.from(salt, "base64"), { N, r, p });
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
