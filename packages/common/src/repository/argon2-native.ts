// Argon2id through Ferry's addon over the system's libargon2 (native/ferry-argon2.c); Node 20
// has none of its own. Where the library cannot be loaded, `argon2idLoadError` says why.
import { requireAddon } from "./native-addon.js";

interface Argon2Addon {
  hash?(
    password: Uint8Array,
    salt: Uint8Array,
    t: number,
    mKiB: number,
    lanes: number,
    length: number,
  ): Promise<Buffer>;
  /** Why libargon2 did not load (then hash is absent). */
  loadError?: string;
}

let addon: Argon2Addon | undefined;

function load(): Argon2Addon {
  if (addon) return addon;
  try {
    addon = requireAddon("ferry-argon2") as Argon2Addon;
  } catch (err) {
    addon = { loadError: `addon not built (./scripts/setup.sh): ${(err as Error).message}` };
  }
  return addon;
}

/** Why Argon2id cannot run in this process (libargon2-1 missing, addon not built), or undefined. */
export function argon2idLoadError(): string | undefined {
  const native = load();
  return native.hash ? undefined : (native.loadError ?? "unknown");
}

/** Argon2id (version 0x13) of `password` under `salt`, off the main thread. */
export function argon2id(
  password: Uint8Array,
  salt: Uint8Array,
  params: { t: number; m: number; p: number },
  length: number,
): Promise<Buffer> {
  const native = load();
  if (!native.hash) {
    return Promise.reject(new Error(`Argon2id is not available: ${native.loadError}`));
  }
  return native.hash(password, salt, params.t, params.m, params.p, length);
}
