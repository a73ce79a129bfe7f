import { FerryError } from "@ferry/common";
import {
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_EXPORT,
  NBD_INIT_MAGIC,
  NBD_OPTS_MAGIC,
  NBD_REP_MAGIC,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_ERROR,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
  REQUEST_BYTES,
} from "../nbd/constants.js";
import { MAX_STRING_BYTES } from "../nbd/limits.js";

// The server's side of the wire: encoders for what it sends, decoders for what a client
// sends. Pure: bytes in and out, no I/O; every length is checked before it is used.

/** The greeting: NBDMAGIC, IHAVEOPT, handshake flags (fixed newstyle, no zeroes). */
export function encodeGreeting(): Uint8Array {
  const out = new Uint8Array(18);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, NBD_INIT_MAGIC);
  dv.setBigUint64(8, NBD_OPTS_MAGIC);
  dv.setUint16(16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  return out;
}

/** A client option's header (16 bytes): the option and the length of its data. */
export interface OptionHeader {
  option: number;
  lengthBytes: number;
}

/** Decodes an option header; PROTOCOL_ERROR when the magic is wrong. */
export function decodeOptionHeader(bytes: Uint8Array): OptionHeader {
  const dv = view(bytes);
  if (dv.getBigUint64(0) !== NBD_OPTS_MAGIC)
    throw new FerryError("PROTOCOL_ERROR", "NBD client sent an option without the IHAVEOPT magic");
  return { option: dv.getUint32(8), lengthBytes: dv.getUint32(12) };
}

/** An option reply: magic, the option answered, reply type, data. */
export function encodeOptionReply(
  option: number,
  type: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(20 + data.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, NBD_REP_MAGIC);
  dv.setUint32(8, option);
  dv.setUint32(12, type);
  dv.setUint32(16, data.length);
  out.set(data, 20);
  return out;
}

/** An error reply with a human-readable message (UTF-8, cut to the spec's limit). */
export function encodeOptionError(option: number, type: number, message: string): Uint8Array {
  return encodeOptionReply(option, type, utf8(message));
}

/** NBD_INFO_EXPORT: size and transmission flags. */
export function encodeInfoExport(sizeBytes: number, flags: number): Uint8Array {
  const out = new Uint8Array(12);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, NBD_INFO_EXPORT);
  dv.setBigUint64(2, BigInt(sizeBytes));
  dv.setUint16(10, flags);
  return out;
}

/** NBD_INFO_BLOCK_SIZE: minimum, preferred and maximum request sizes. */
export function encodeInfoBlockSize(min: number, preferred: number, max: number): Uint8Array {
  const out = new Uint8Array(14);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, NBD_INFO_BLOCK_SIZE);
  dv.setUint32(2, min);
  dv.setUint32(6, preferred);
  dv.setUint32(10, max);
  return out;
}

/** The old NBD_OPT_EXPORT_NAME answer: size and flags, without the 124 zero bytes. */
export function encodeExportNameReply(sizeBytes: number, flags: number): Uint8Array {
  const out = new Uint8Array(10);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(sizeBytes));
  dv.setUint16(8, flags);
  return out;
}

/** NBD_REP_SERVER data (an NBD_OPT_LIST entry): name length and name. */
export function encodeServerEntry(name: string): Uint8Array {
  const bytes = utf8(name);
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** NBD_REP_META_CONTEXT data: context id and name. */
export function encodeMetaContext(id: number, name: string): Uint8Array {
  const bytes = utf8(name);
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, id);
  out.set(bytes, 4);
  return out;
}

/** Data of NBD_OPT_GO / NBD_OPT_INFO as the client sent it. */
export interface GoRequest {
  exportName: string;
  infoTypes: number[];
}

/** Decodes NBD_OPT_GO / NBD_OPT_INFO data; INVALID_ARGUMENT when lengths disagree. */
export function decodeGoData(data: Uint8Array): GoRequest {
  const r = new Cursor(data, "NBD_OPT_GO");
  const exportName = r.string(r.u32());
  const count = r.u16();
  const infoTypes: number[] = [];
  for (let i = 0; i < count; i++) infoTypes.push(r.u16());
  r.end();
  return { exportName, infoTypes };
}

/** Data of NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT. */
export interface MetaContextRequest {
  exportName: string;
  queries: string[];
}

/** Decodes meta-context option data; INVALID_ARGUMENT when lengths disagree. */
export function decodeMetaContextData(data: Uint8Array): MetaContextRequest {
  const r = new Cursor(data, "NBD_OPT_*_META_CONTEXT");
  const exportName = r.string(r.u32());
  const count = r.u32();
  const queries: string[] = [];
  for (let i = 0; i < count; i++) queries.push(r.string(r.u32()));
  r.end();
  return { exportName, queries };
}

/** One transmission-phase request (the 28-byte header; a write's data follows it). */
export interface NbdRequest {
  flags: number;
  type: number;
  /** The client's 8-byte cookie, echoed in every reply. */
  cookie: Uint8Array;
  offset: number;
  lengthBytes: number;
}

/** Decodes a request header; PROTOCOL_ERROR when the magic is wrong. */
export function decodeRequest(bytes: Uint8Array): NbdRequest {
  if (bytes.length !== REQUEST_BYTES) throw new RangeError("an NBD request header is 28 bytes");
  const dv = view(bytes);
  if (dv.getUint32(0) !== NBD_REQUEST_MAGIC)
    throw new FerryError("PROTOCOL_ERROR", "NBD client sent a request without the request magic");
  const offset = dv.getBigUint64(16);
  return {
    flags: dv.getUint16(4),
    type: dv.getUint16(6),
    cookie: bytes.slice(8, 16),
    // Past 2^53 no export exists: clamp so the range check fails it with EINVAL.
    offset: offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset),
    lengthBytes: dv.getUint32(24),
  };
}

/** A simple reply's header (a read's data follows it when error is 0). */
export function encodeSimpleReply(cookie: Uint8Array, error: number): Uint8Array {
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, NBD_SIMPLE_REPLY_MAGIC);
  dv.setUint32(4, error);
  out.set(cookie, 8);
  return out;
}

/** A structured reply chunk's header; `lengthBytes` of payload follow it. */
export function encodeChunkHeader(
  cookie: Uint8Array,
  flags: number,
  type: number,
  lengthBytes: number,
): Uint8Array {
  const out = new Uint8Array(20);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, NBD_STRUCTURED_REPLY_MAGIC);
  dv.setUint16(4, flags);
  dv.setUint16(6, type);
  out.set(cookie, 8);
  dv.setUint32(16, lengthBytes);
  return out;
}

/** The 8-byte offset that starts an OFFSET_DATA chunk's payload. */
export function encodeOffset(offset: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(offset));
  return out;
}

/** An NBD_REPLY_TYPE_ERROR chunk (header and payload) with the given flags. */
export function encodeErrorChunk(
  cookie: Uint8Array,
  flags: number,
  error: number,
  message: string,
): Uint8Array {
  const text = utf8(message);
  const payload = new Uint8Array(6 + text.length);
  const dv = new DataView(payload.buffer);
  dv.setUint32(0, error);
  dv.setUint16(4, text.length);
  payload.set(text, 6);
  return concat(encodeChunkHeader(cookie, flags, NBD_REPLY_TYPE_ERROR, payload.length), payload);
}

/** One block-status descriptor: a length and its flags (NBD_STATE_*). */
export interface StatusDescriptor {
  lengthBytes: number;
  flags: number;
}

/** An NBD_REPLY_TYPE_BLOCK_STATUS chunk (header and payload). */
export function encodeBlockStatusChunk(
  cookie: Uint8Array,
  flags: number,
  contextId: number,
  descriptors: readonly StatusDescriptor[],
): Uint8Array {
  const payload = new Uint8Array(4 + 8 * descriptors.length);
  const dv = new DataView(payload.buffer);
  dv.setUint32(0, contextId);
  descriptors.forEach((d, i) => {
    dv.setUint32(4 + 8 * i, d.lengthBytes);
    dv.setUint32(8 + 8 * i, d.flags);
  });
  return concat(
    encodeChunkHeader(cookie, flags, NBD_REPLY_TYPE_BLOCK_STATUS, payload.length),
    payload,
  );
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function utf8(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  return bytes.length > MAX_STRING_BYTES ? bytes.subarray(0, MAX_STRING_BYTES) : bytes;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Reads fields in order from option data, failing on any length that overruns it. */
class Cursor {
  readonly #dv: DataView;
  #at = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {
    this.#dv = view(bytes);
  }
  #need(n: number): void {
    if (this.#at + n > this.bytes.length)
      throw new FerryError("INVALID_ARGUMENT", `${this.what} data is shorter than its lengths say`);
  }
  u16(): number {
    this.#need(2);
    const v = this.#dv.getUint16(this.#at);
    this.#at += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.#dv.getUint32(this.#at);
    this.#at += 4;
    return v;
  }
  string(length: number): string {
    if (length > MAX_STRING_BYTES)
      throw new FerryError("INVALID_ARGUMENT", `${this.what} carries a string over 4096 bytes`);
    this.#need(length);
    const text = new TextDecoder("utf-8", { fatal: false }).decode(
      this.bytes.subarray(this.#at, this.#at + length),
    );
    this.#at += length;
    return text;
  }
  end(): void {
    if (this.#at !== this.bytes.length)
      throw new FerryError("INVALID_ARGUMENT", `${this.what} data has trailing bytes`);
  }
}
