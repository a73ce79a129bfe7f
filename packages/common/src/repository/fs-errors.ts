import type { ErrorCode } from "../errors/error-codes.js";
import { FerryError } from "../errors/ferry-error.js";

// errno codes by what an operator must do about them. Classified by `code`, never by text.
const ERRNO_TO_CODE: Record<string, ErrorCode> = {
  // Full or over quota: retrying does not free space; an operator (or prune + GC) must.
  ENOSPC: "NO_SPACE",
  EDQUOT: "NO_SPACE",
  // Permissions do not change between retries either.
  EACCES: "PERMISSION_DENIED",
  EPERM: "PERMISSION_DENIED",
  EROFS: "PERMISSION_DENIED",
  ENOENT: "NOT_FOUND",
  EEXIST: "ALREADY_EXISTS",
  // Descriptor or memory pressure passes: retryable.
  EMFILE: "RESOURCE_EXHAUSTED",
  ENFILE: "RESOURCE_EXHAUSTED",
  ENOMEM: "RESOURCE_EXHAUSTED",
};

/** The errno name (`"ENOSPC"`) of a Node filesystem error, if it has one. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Turns a filesystem error into a FerryError saying `what` failed on `path`: ENOSPC/EDQUOT ->
 * NO_SPACE, EACCES/EPERM/EROFS -> PERMISSION_DENIED (both not retryable), ENOENT ->
 * NOT_FOUND, EMFILE/ENFILE/ENOMEM -> RESOURCE_EXHAUSTED, others INTERNAL. FerryErrors pass
 * through unchanged.
 */
export function fsError(err: unknown, what: string, path: string): FerryError {
  if (err instanceof FerryError) return err;
  const errno = errnoOf(err);
  const code = (errno !== undefined ? ERRNO_TO_CODE[errno] : undefined) ?? "INTERNAL";
  const reason = err instanceof Error ? err.message : String(err);
  return new FerryError(code, `${what} failed: ${reason}`, {
    cause: err,
    details: { path, ...(errno !== undefined ? { errno } : {}) },
  });
}
