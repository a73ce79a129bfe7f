import {
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_NO_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_EXPORT,
  NBD_INIT_MAGIC,
  NBD_OPTS_MAGIC,
  NBD_REP_MAGIC,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_ERROR_OFFSET,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REPLY_TYPE_OFFSET_HOLE,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
} from "./constants.js";

// The server's side of the wire, for scripted peers in tests.

function bytes(size: number, fill: (dv: DataView) => void): Uint8Array {
  const out = new Uint8Array(size);
  fill(new DataView(out.buffer));
  return out;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** NBDMAGIC, IHAVEOPT and handshake flags. */
export function greeting(flags = NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES): Uint8Array {
  return bytes(18, (dv) => {
    dv.setBigUint64(0, NBD_INIT_MAGIC);
    dv.setBigUint64(8, NBD_OPTS_MAGIC);
    dv.setUint16(16, flags);
  });
}

/** One option reply: magic, option, reply type, data. */
export function optionReply(
  option: number,
  type: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const head = bytes(20, (dv) => {
    dv.setBigUint64(0, NBD_REP_MAGIC);
    dv.setUint32(8, option);
    dv.setUint32(12, type);
    dv.setUint32(16, data.length);
  });
  return concat(head, data);
}

/** NBD_INFO_EXPORT payload. */
export function infoExport(sizeBytes: bigint | number, flags = NBD_FLAG_HAS_FLAGS): Uint8Array {
  return bytes(12, (dv) => {
    dv.setUint16(0, NBD_INFO_EXPORT);
    dv.setBigUint64(2, BigInt(sizeBytes));
    dv.setUint16(10, flags);
  });
}

/** NBD_INFO_BLOCK_SIZE payload. */
export function infoBlockSize(minimum: number, preferred: number, maximum: number): Uint8Array {
  return bytes(14, (dv) => {
    dv.setUint16(0, NBD_INFO_BLOCK_SIZE);
    dv.setUint32(2, minimum);
    dv.setUint32(6, preferred);
    dv.setUint32(10, maximum);
  });
}

/** NBD_REP_META_CONTEXT payload. */
export function metaContext(id: number, name: string): Uint8Array {
  return concat(
    bytes(4, (dv) => dv.setUint32(0, id)),
    new TextEncoder().encode(name),
  );
}

/** A simple reply header, plus data for a successful read without structured replies. */
export function simpleReply(
  errno: number,
  cookie: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const head = bytes(16, (dv) => {
    dv.setUint32(0, NBD_SIMPLE_REPLY_MAGIC);
    dv.setUint32(4, errno);
    dv.setBigUint64(8, BigInt(cookie));
  });
  return concat(head, data);
}

/** A structured reply chunk. */
export function chunk(
  flags: number,
  type: number,
  cookie: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const head = bytes(20, (dv) => {
    dv.setUint32(0, NBD_STRUCTURED_REPLY_MAGIC);
    dv.setUint16(4, flags);
    dv.setUint16(6, type);
    dv.setBigUint64(8, BigInt(cookie));
    dv.setUint32(16, payload.length);
  });
  return concat(head, payload);
}

/** NBD_REPLY_TYPE_OFFSET_DATA chunk. */
export function dataChunk(flags: number, cookie: number, offset: number, data: Uint8Array) {
  const head = bytes(8, (dv) => dv.setBigUint64(0, BigInt(offset)));
  return chunk(flags, NBD_REPLY_TYPE_OFFSET_DATA, cookie, concat(head, data));
}

/** NBD_REPLY_TYPE_OFFSET_HOLE chunk. */
export function holeChunk(flags: number, cookie: number, offset: number, holeBytes: number) {
  const payload = bytes(12, (dv) => {
    dv.setBigUint64(0, BigInt(offset));
    dv.setUint32(8, holeBytes);
  });
  return chunk(flags, NBD_REPLY_TYPE_OFFSET_HOLE, cookie, payload);
}

/** NBD_REPLY_TYPE_BLOCK_STATUS chunk: context id and [lengthBytes, flags] pairs. */
export function statusChunk(
  flags: number,
  cookie: number,
  contextId: number,
  extents: [number, number][],
) {
  const payload = bytes(4 + 8 * extents.length, (dv) => {
    dv.setUint32(0, contextId);
    extents.forEach(([lengthBytes, status], i) => {
      dv.setUint32(4 + 8 * i, lengthBytes);
      dv.setUint32(8 + 8 * i, status);
    });
  });
  return chunk(flags, NBD_REPLY_TYPE_BLOCK_STATUS, cookie, payload);
}

/** NBD_REPLY_TYPE_ERROR (or _ERROR_OFFSET when `offset` is given) chunk. */
export function errorChunk(
  flags: number,
  cookie: number,
  errno: number,
  message: string,
  offset?: number,
  type = offset === undefined ? NBD_REPLY_TYPE_ERROR : NBD_REPLY_TYPE_ERROR_OFFSET,
) {
  const text = new TextEncoder().encode(message);
  const head = bytes(6, (dv) => {
    dv.setUint32(0, errno);
    dv.setUint16(4, text.length);
  });
  const tail =
    offset === undefined ? new Uint8Array(0) : bytes(8, (dv) => dv.setBigUint64(0, BigInt(offset)));
  return chunk(flags, type, cookie, concat(head, text, tail));
}

/** A request as the server sees it. */
export interface SeenRequest {
  flags: number;
  type: number;
  cookie: number;
  offset: number;
  lengthBytes: number;
}

/** Decodes a 28-byte request. */
export function decodeRequest(raw: Uint8Array): SeenRequest {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dv.getUint32(0) !== NBD_REQUEST_MAGIC) throw new Error("bad request magic");
  return {
    flags: dv.getUint16(4),
    type: dv.getUint16(6),
    cookie: Number(dv.getBigUint64(8)),
    offset: Number(dv.getBigUint64(16)),
    lengthBytes: dv.getUint32(24),
  };
}

import { prng } from "@ferry/common";

export { prng };

/** Splits `input` into pieces: one byte each, or random sizes from `seed`. */
export function pieces(input: Uint8Array, split: "bytes" | { seed: number }): Uint8Array[] {
  const out: Uint8Array[] = [];
  const random = split === "bytes" ? undefined : prng(split.seed);
  for (let at = 0; at < input.length; ) {
    const size = random ? 1 + Math.floor(random() * 40) : 1;
    out.push(input.slice(at, at + size));
    at += size;
  }
  return out;
}

const ZEROES = new Uint8Array(1024 * 1024);

/** True when every byte is zero (fast: compares 1 MiB at a time natively). */
export function allZero(bytes: Uint8Array): boolean {
  for (let at = 0; at < bytes.length; at += ZEROES.length) {
    const part = bytes.subarray(at, at + ZEROES.length);
    if (Buffer.compare(part, ZEROES.subarray(0, part.length)) !== 0) return false;
  }
  return true;
}
