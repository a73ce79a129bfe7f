// How a key file turns a passphrase into the key that seals the master key: Argon2id for new
// key files (RFC 9106's second recommended setting: t = 3, 64 MiB, 4 lanes; 0.10 s here), scrypt
// (N = 2^17, r = 8: 0.35 s of one core) for those written before, and where libargon2 is
// missing. Readers bound every cost, so a planted key file can neither open cheaply nor stall.
import { scrypt } from "node:crypto";
import { FerryError } from "../errors/ferry-error.js";
import { argon2id, argon2idLoadError } from "./argon2-native.js";

export type ScryptParams = { name: "scrypt"; N: number; r: number; p: number };
/** `m` in KiB, `p` lanes. */
export type Argon2idParams = { name: "argon2id"; t: number; m: number; p: number };
export type KdfParams = ScryptParams | Argon2idParams;

// Unit tests only (as borg's BORG_TESTONLY_WEAKEN_KDF) write the weakest a reader takes: they
// create dozens of encrypted repositories; the lab tests keep the real cost.
const weak = () => process.env.FERRY_TESTONLY_WEAKEN_KDF === "1";

const SCRYPT_MIN_N = 2 ** 14;
const SCRYPT_MAX_N = 2 ** 18;
const SCRYPT_MAX_BYTES = 512 * 1024 * 1024;
const ARGON2_MIN_KIB = 8 * 1024;
const ARGON2_MAX_KIB = 512 * 1024;
// Passes times memory: at most 1 GiB of Argon2 blocks filled, about half a second here.
const ARGON2_MAX_WORK_KIB = 1024 * 1024;

/** What a new key file is sealed with in this process. */
export function writerKdf(): KdfParams {
  if (argon2idLoadError() === undefined) {
    return weak()
      ? { name: "argon2id", t: 1, m: ARGON2_MIN_KIB, p: 1 }
      : { name: "argon2id", t: 3, m: 64 * 1024, p: 4 };
  }
  return { name: "scrypt", N: weak() ? SCRYPT_MIN_N : 2 ** 17, r: 8, p: 1 };
}

/** Why `kdf` (from a key file) is refused, or undefined when a reader may run it. */
export function kdfParamsProblem(kdf: Record<string, unknown> | undefined): string | undefined {
  const int = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 1;
  if (kdf?.name === "scrypt") {
    const { N, r, p } = kdf;
    if (!int(N) || !int(r) || !int(p)) return "scrypt needs integer N, r, p";
    const outOfRange =
      N < SCRYPT_MIN_N ||
      N > SCRYPT_MAX_N ||
      (N & (N - 1)) !== 0 ||
      r > 16 ||
      p > 4 ||
      128 * N * r * p > SCRYPT_MAX_BYTES;
    return outOfRange ? "scrypt parameters out of range" : undefined;
  }
  if (kdf?.name === "argon2id") {
    const { t, m, p } = kdf;
    if (!int(t) || !int(m) || !int(p)) return "argon2id needs integer t, m, p";
    const outOfRange =
      m < ARGON2_MIN_KIB ||
      m > ARGON2_MAX_KIB ||
      p > 16 ||
      m < 8 * p ||
      t * m > ARGON2_MAX_WORK_KIB;
    return outOfRange ? "argon2id parameters out of range" : undefined;
  }
  return 'kdf name must be "scrypt" or "argon2id"';
}

/** The 32-byte wrapping key; CORRUPT_DATA when the KDF refuses the parameters. */
export async function deriveWrappingKey(
  passphrase: string,
  salt: Buffer,
  kdf: KdfParams,
): Promise<Buffer> {
  const secret = Buffer.from(passphrase.normalize("NFC"), "utf8");
  try {
    if (kdf.name === "argon2id") {
      const reason = argon2idLoadError();
      if (reason !== undefined) {
        throw new FerryError(
          "TOOL_MISSING",
          `this key file is sealed with Argon2id, which cannot run here (install Debian's libargon2-1): ${reason}`,
        );
      }
      return await argon2id(secret, salt, kdf, 32);
    }
    return await scryptKey(secret, salt, kdf);
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw new FerryError(
      "CORRUPT_DATA",
      `${kdf.name} refused the key file's parameters: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    secret.fill(0);
  }
}

function scryptKey(secret: Buffer, salt: Buffer, { N, r, p }: ScryptParams): Promise<Buffer> {
  // scrypt's own need (128·r·(N + p + 2) bytes) and a little room.
  const maxmem = 128 * r * (N + p + 2) + 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, 32, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}
