import { FerryError } from "../../errors/ferry-error.js";
import type { ByteRange } from "./repository-backend.js";

/** Throws INVALID_ARGUMENT unless both fields are non-negative safe integers. */
export function assertByteRange(range: ByteRange): void {
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!ok(range.offsetBytes) || !ok(range.lengthBytes)) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `byte range ${range.offsetBytes}+${range.lengthBytes} must be two non-negative integers`,
    );
  }
}

/** CORRUPT_DATA: an object (or range of it) of `sizeBytes` is over the reader's limit. */
export function tooLarge(location: string, key: string, sizeBytes: number, maxBytes: number) {
  return new FerryError(
    "CORRUPT_DATA",
    `object ${key} in ${location} is ${sizeBytes} bytes, over the ${maxBytes} its reader allows`,
    { details: { key, sizeBytes, maxBytes, reason: "size" } },
  );
}
