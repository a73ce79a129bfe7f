import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { FerryError } from "@ferry/common";
import type { Role } from "./roles.js";

/** A token the coordinator accepts, as its configuration lists it: never the token itself. */
export interface TokenEntry {
  name: string;
  role: Role;
  /** Hex SHA-256 of the token. */
  sha256: string;
}

/** Who a token belongs to. */
export interface Caller {
  name: string;
  role: Role;
}

/** A new random token and the entry that admits it (print the token once; store the entry). */
export function newToken(name: string, role: Role): { token: string; entry: TokenEntry } {
  const token = `ferry_${randomBytes(24).toString("base64url")}`;
  return { token, entry: { name, role, sha256: sha256Hex(token) } };
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Checks an `authorization: Bearer <token>` value against the configured tokens, in constant
 * time per entry. UNAUTHENTICATED when it is missing or unknown; the token never appears in
 * the error.
 */
export function createTokenCheck(
  entries: readonly TokenEntry[],
): (authorization: string | undefined) => Caller {
  const known = entries.map((e) => ({ ...e, digest: Buffer.from(e.sha256, "hex") }));
  return (authorization) => {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
    if (!m)
      throw new FerryError(
        "UNAUTHENTICATED",
        "this coordinator requires a token (--token or FERRY_TOKEN)",
      );
    const digest = createHash("sha256")
      .update(m[1] as string)
      .digest();
    const found = known.find(
      (e) => e.digest.length === digest.length && timingSafeEqual(e.digest, digest),
    );
    if (!found)
      throw new FerryError("UNAUTHENTICATED", "the token is not one this coordinator knows");
    return { name: found.name, role: found.role };
  };
}
