import { FerryError } from "@ferry/common/core";
import { NBD_OPTS_MAGIC, NBD_REQUEST_MAGIC, REQUEST_BYTES } from "./constants.js";
import { MAX_STRING_BYTES } from "./limits.js";

// Encoders for everything the client sends. Pure: bytes out, no I/O.

/** The 32-bit client flags that answer the server's greeting. */
export function encodeClientFlags(flags: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, flags);
  return out;
}

/** One option during haggling: IHAVEOPT, option type, length, data. */
export function encodeOption(option: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, NBD_OPTS_MAGIC);
  dv.setUint32(8, option);
  dv.setUint32(12, data.length);
  out.set(data, 16);
  return out;
}

/**
 * A protocol string as UTF-8, checked against the spec's limits (no NUL, at most
 * 4096 bytes). Throws INVALID_ARGUMENT naming `what`.
 */
export function encodeString(value: string, what: string): Uint8Array {
  const bytes = new TextEncoder().encode(value);
  if (bytes.length > MAX_STRING_BYTES || bytes.includes(0)) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `${what} must be at most ${MAX_STRING_BYTES} bytes of UTF-8 without NUL`,
    );
  }
  return bytes;
}

/** Data of NBD_OPT_GO / NBD_OPT_INFO: export name and the information requests. */
export function encodeGoData(exportName: Uint8Array, infoTypes: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 + exportName.length + 2 + 2 * infoTypes.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, exportName.length);
  out.set(exportName, 4);
  let at = 4 + exportName.length;
  dv.setUint16(at, infoTypes.length);
  at += 2;
  for (const type of infoTypes) {
    dv.setUint16(at, type);
    at += 2;
  }
  return out;
}

/** Data of NBD_OPT_SET_META_CONTEXT / LIST_META_CONTEXT: export name and queries. */
export function encodeMetaContextData(
  exportName: Uint8Array,
  queries: readonly Uint8Array[],
): Uint8Array {
  const total = 4 + exportName.length + 4 + queries.reduce((n, q) => n + 4 + q.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, exportName.length);
  out.set(exportName, 4);
  let at = 4 + exportName.length;
  dv.setUint32(at, queries.length);
  at += 4;
  for (const query of queries) {
    dv.setUint32(at, query.length);
    out.set(query, at + 4);
    at += 4 + query.length;
  }
  return out;
}

/** A transmission-phase request header (no payload: Ferry never writes). */
export interface NbdRequest {
  /** NBD_CMD_* */
  type: number;
  /** NBD_CMD_FLAG_* */
  flags: number;
  /** Matches the reply to the request; opaque to the server. */
  cookie: number;
  offset: number;
  lengthBytes: number;
}

/** Encodes a request header: 28 bytes. Cookies are below 2^32 (the high word is 0). */
export function encodeRequest(request: NbdRequest): Uint8Array {
  const out = new Uint8Array(REQUEST_BYTES);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, NBD_REQUEST_MAGIC);
  dv.setUint16(4, request.flags);
  dv.setUint16(6, request.type);
  dv.setUint32(8, 0);
  dv.setUint32(12, request.cookie);
  dv.setBigUint64(16, BigInt(request.offset));
  dv.setUint32(24, request.lengthBytes);
  return out;
}
