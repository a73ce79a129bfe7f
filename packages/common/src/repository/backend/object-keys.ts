// Object keys of a repository backend: relative "/"-separated paths whose segments are safe
// as file names and as S3 keys alike (no URL-encoding surprises, no path traversal).
import { FerryError } from "../../errors/ferry-error.js";

const SEGMENT = /^[A-Za-z0-9._-]{1,255}$/;
const PARTIAL_SEGMENT = /^[A-Za-z0-9._-]{0,255}$/;
/** Longest key, characters: S3 allows 1024 bytes, and the backend's prefix needs some. */
export const MAX_OBJECT_KEY_CHARS = 768;

function validSegment(segment: string): boolean {
  return SEGMENT.test(segment) && segment !== "." && segment !== "..";
}

/**
 * Throws INVALID_ARGUMENT unless `key` is an object key: 1–768 characters of segments of
 * [A-Za-z0-9._-] (never "." or "..") joined by single "/", with none at either end.
 */
export function assertObjectKey(key: string): void {
  if (
    typeof key !== "string" ||
    key.length > MAX_OBJECT_KEY_CHARS ||
    !key.split("/").every(validSegment)
  ) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `object key ${JSON.stringify(key)} is not a safe relative path`,
    );
  }
}

/**
 * Throws INVALID_ARGUMENT unless `prefix` is "" or a key prefix: whole segments, each
 * followed by "/", then at most a start of one (`chunks/`, `restore-points/.staging-`).
 */
export function assertObjectPrefix(prefix: string): void {
  if (typeof prefix !== "string" || prefix.length > MAX_OBJECT_KEY_CHARS) {
    throw new FerryError("INVALID_ARGUMENT", `object prefix ${JSON.stringify(prefix)} is too long`);
  }
  const segments = prefix.split("/");
  const last = segments.pop() ?? "";
  if (!segments.every(validSegment) || !PARTIAL_SEGMENT.test(last)) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `object prefix ${JSON.stringify(prefix)} is not a safe relative path`,
    );
  }
}

/** Byte order of UTF-8 strings, the order S3 lists keys in (for ASCII keys, code unit order). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
