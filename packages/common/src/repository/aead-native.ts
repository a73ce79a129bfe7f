// AES-256-GCM into buffers the caller owns: through Ferry's addon over the system's libcrypto
// (native/ferry-aead.c, 3.5x Node's bundled OpenSSL here), or Node's crypto where that
// libcrypto cannot be loaded. Both produce the same bytes: GCM is GCM.
import { createCipheriv, createDecipheriv } from "node:crypto";
import { requireAddon } from "./native-addon.js";

interface AeadAddon {
  seal?(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    parts: readonly Uint8Array[],
    out: Uint8Array,
  ): number;
  open?(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    out: Uint8Array,
  ): boolean;
  /** Why libcrypto did not load (then seal and open are absent). */
  loadError?: string;
}

/** Whose AES-GCM runs: the system's libcrypto, or Node's own (with the reason). */
export type AeadBackend = { t: "libcrypto" } | { t: "node"; reason: string };

let addon: AeadAddon | undefined;
let backend: AeadBackend | undefined;

function load(): AeadAddon {
  if (addon) return addon;
  try {
    addon = requireAddon("ferry-aead") as AeadAddon;
  } catch (err) {
    addon = { loadError: `addon not built (./scripts/setup.sh): ${(err as Error).message}` };
  }
  backend = addon.seal ? { t: "libcrypto" } : { t: "node", reason: addon.loadError ?? "unknown" };
  return addon;
}

/** Which implementation seals and opens chunks in this process. */
export function aeadBackend(): AeadBackend {
  load();
  return backend as AeadBackend;
}

/**
 * Encrypts `parts` back to back into `out`, then the 16-byte tag; returns the bytes written.
 * `out` must not overlap the parts.
 */
export function gcmSealInto(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  parts: readonly Uint8Array[],
  out: Uint8Array,
): number {
  const native = load();
  if (native.seal) return native.seal(key, nonce, aad, parts, out);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(aad);
  let at = 0;
  for (const part of [...parts.map((p) => cipher.update(p)), cipher.final(), cipher.getAuthTag()]) {
    out.set(part, at);
    at += part.length;
  }
  return at;
}

/**
 * Decrypts `ciphertext` into `out` (the ciphertext itself is fine: in place); true when the
 * tag proves it. On false, `out` holds bytes that must not be used.
 */
export function gcmOpenInto(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  out: Uint8Array,
): boolean {
  const native = load();
  if (native.open) return native.open(key, nonce, aad, ciphertext, tag, out);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    const plain = decipher.update(ciphertext);
    decipher.final();
    out.set(plain);
    return true;
  } catch {
    return false;
  }
}
