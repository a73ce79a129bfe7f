// Wrapping keys derived ahead of need. A CLI command loads its code for 80 ms before it opens
// the repository, and the KDF (Argon2id, 0.11-0.14 s here) then runs with the command waiting
// for it; started as the command line is read, the two overlap. Each derivation is taken once,
// by the seal or unseal with the same passphrase, salt (or none yet: a new key file) and
// parameters; anything else derives as before.
import { randomBytes } from "node:crypto";
import { deriveWrappingKey, type KdfParams } from "./key-kdf.js";

interface Ahead {
  passphrase: string;
  salt: Buffer;
  key: Promise<Buffer>;
}

const ahead = new Map<string, Ahead>();

// The parameters by name, whatever order a key file lists them in.
function paramsId(kdf: KdfParams): string {
  return kdf.name === "argon2id"
    ? `argon2id t=${kdf.t} m=${kdf.m} p=${kdf.p}`
    : `scrypt N=${kdf.N} r=${kdf.r} p=${kdf.p}`;
}
const FRESH = "fresh";
const idOf = (salt: Buffer | typeof FRESH, kdf: KdfParams) =>
  `${salt === FRESH ? FRESH : salt.toString("base64")} ${paramsId(kdf)}`;

/**
 * Starts deriving the wrapping key of `passphrase` under `salt` for the next seal or unseal
 * that asks for it; `salt` "fresh": for the next new key file (a new salt is drawn). Returns
 * the salt.
 */
export function deriveWrappingKeyAhead(
  passphrase: string,
  salt: Buffer | "fresh",
  kdf: KdfParams,
): Buffer {
  const id = idOf(salt, kdf);
  const bytes = salt === FRESH ? randomBytes(16) : salt;
  const key = deriveWrappingKey(passphrase, bytes, kdf);
  // Whoever takes it sees a failure; untaken, it must not end the process.
  key.catch(() => undefined);
  ahead.set(id, { passphrase, salt: bytes, key });
  return bytes;
}

function take(id: string, passphrase: string): Ahead | undefined {
  const found = ahead.get(id);
  if (found?.passphrase !== passphrase) return undefined;
  ahead.delete(id);
  return found;
}

/** The wrapping key for an existing key file's salt, derived ahead; undefined when none was. */
export function takeWrappingKeyAhead(
  passphrase: string,
  salt: Buffer,
  kdf: KdfParams,
): Promise<Buffer> | undefined {
  return take(idOf(salt, kdf), passphrase)?.key;
}

/** A new salt and its wrapping key for a new key file: one derived ahead, or a new one now. */
export function freshWrappingKey(
  passphrase: string,
  kdf: KdfParams,
): { salt: Buffer; key: Promise<Buffer> } {
  const found = take(idOf(FRESH, kdf), passphrase);
  if (found) return { salt: found.salt, key: found.key };
  const salt = randomBytes(16);
  return { salt, key: deriveWrappingKey(passphrase, salt, kdf) };
}
