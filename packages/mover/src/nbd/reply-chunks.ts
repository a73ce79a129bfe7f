import type { FerryError } from "@ferry/common/core";
import { readSafeUint64, view } from "./byte-reader.js";
import {
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_ERROR_OFFSET,
  NBD_REPLY_TYPE_FLAG_ERROR,
  NBD_REPLY_TYPE_NONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REPLY_TYPE_OFFSET_HOLE,
} from "./constants.js";
import { MAX_BLOCK_STATUS_EXTENTS, MAX_STRING_BYTES } from "./limits.js";
import { nbdProtocolError, nbdServerError } from "./nbd-errors.js";

// Checks of structured reply chunk headers, and decoders of the payloads that
// get buffered (block status and error chunks) once their length passed.

/** One extent of a block status reply: flags apply to [offset, offset + lengthBytes). */
export interface BlockStatusExtent {
  offset: number;
  lengthBytes: number;
  /** Meaning depends on the meta context (NBD_STATE_HOLE/ZERO, NBD_STATE_DIRTY). */
  flags: number;
}

/** A request whose reply the parser must recognise. */
export type NbdCommand =
  | {
      t: "read";
      offset: number;
      lengthBytes: number;
      /** Where the data goes (exactly lengthBytes long); a new array when absent. */
      into?: Uint8Array;
    }
  | { t: "block-status"; offset: number; lengthBytes: number }
  /** A write, write-zeroes or flush: its reply carries no data. */
  | { t: "write"; offset: number; lengthBytes: number };

/** A byte range of the export a request covers. */
export interface RequestRange {
  offset: number;
  lengthBytes: number;
}

const lenient = new TextDecoder("utf-8");

/**
 * Decodes an NBD_REPLY_TYPE_BLOCK_STATUS payload: a context id, then extents
 * that start at the request's offset. Every extent must be non-empty (so they
 * strictly increase), and all but the last must end inside the request.
 */
export function decodeBlockStatus(
  payload: Uint8Array,
  request: RequestRange,
  contextName: (id: number) => string | undefined,
): { contextId: number; extents: BlockStatusExtent[] } {
  const dv = view(payload);
  const contextId = dv.getUint32(0);
  const name = contextName(contextId);
  if (name === undefined) {
    throw nbdProtocolError(
      `block status for meta context id ${contextId}, which was not negotiated`,
    );
  }
  const end = request.offset + request.lengthBytes;
  const count = (payload.length - 4) / 8;
  const extents: BlockStatusExtent[] = new Array(count);
  let offset = request.offset;
  for (let i = 0; i < count; i++) {
    if (offset >= end) {
      throw nbdProtocolError(
        `block status for ${name} has extents past the requested range [${request.offset}, ${end})`,
      );
    }
    const lengthBytes = dv.getUint32(4 + i * 8);
    if (lengthBytes === 0) {
      throw nbdProtocolError(
        `block status extent ${i} for ${name} is empty (extents must be non-empty and increasing)`,
      );
    }
    extents[i] = { offset, lengthBytes, flags: dv.getUint32(8 + i * 8) };
    offset += lengthBytes;
  }
  return { contextId, extents };
}

/**
 * Decodes an error chunk (NBD_REPLY_TYPE_ERROR, _ERROR_OFFSET or an unknown
 * type with bit 15 set) into the FerryError for the request. An offset must
 * lie within the request.
 */
export function decodeErrorChunk(
  type: number,
  payload: Uint8Array,
  request: RequestRange,
  what: string,
): FerryError {
  const dv = view(payload);
  const errno = dv.getUint32(0);
  if (errno === 0) throw nbdProtocolError(`error chunk (type ${type}) carries error 0`);
  const messageBytes = dv.getUint16(4);
  const fixedBytes = type === NBD_REPLY_TYPE_ERROR_OFFSET ? 14 : 6;
  if (messageBytes > payload.length - fixedBytes) {
    throw nbdProtocolError(
      `error chunk message of ${messageBytes} bytes does not fit its ${payload.length}-byte payload`,
    );
  }
  const message = lenient.decode(payload.subarray(6, 6 + messageBytes));
  if (type !== NBD_REPLY_TYPE_ERROR_OFFSET) return nbdServerError(errno, what, message);
  const offset = readSafeUint64(dv, 6 + messageBytes);
  const end = request.offset + request.lengthBytes;
  if (offset === undefined || offset < request.offset || offset >= end) {
    throw nbdProtocolError(
      `error offset ${dv.getBigUint64(6 + messageBytes)} lies outside the request [${request.offset}, ${end})`,
    );
  }
  return nbdServerError(errno, what, message, offset);
}

const MAX_ERROR_CHUNK_BYTES = 14 + MAX_STRING_BYTES;

/**
 * Checks a structured chunk header against the request it answers, before any
 * of its payload is buffered: the type must suit the command and the length
 * must be what the type allows (and within Ferry's limits).
 */
export function checkChunkHeader(
  type: number,
  flags: number,
  lengthBytes: number,
  command: NbdCommand,
): void {
  const bad = (why: string) =>
    nbdProtocolError(`${chunkName(type)} chunk of ${lengthBytes} bytes ${why}`);
  switch (type) {
    case NBD_REPLY_TYPE_NONE:
      if (lengthBytes !== 0) throw bad("must be empty");
      if ((flags & NBD_REPLY_FLAG_DONE) === 0) throw bad("lacks NBD_REPLY_FLAG_DONE");
      return;
    case NBD_REPLY_TYPE_OFFSET_DATA:
      if (command.t !== "read") throw bad(`in the reply to a ${commandName(command)} request`);
      if (lengthBytes < 9 || lengthBytes - 8 > command.lengthBytes) {
        throw bad(`does not fit a read of ${command.lengthBytes} bytes`);
      }
      return;
    case NBD_REPLY_TYPE_OFFSET_HOLE:
      if (command.t !== "read") throw bad(`in the reply to a ${commandName(command)} request`);
      if (lengthBytes !== 12) throw bad("must be 12 bytes");
      return;
    case NBD_REPLY_TYPE_BLOCK_STATUS:
      if (command.t !== "block-status") throw bad(`in the reply to a ${commandName(command)}`);
      if (lengthBytes < 12 || (lengthBytes - 4) % 8 !== 0) {
        throw bad("is not a context id and whole extents");
      }
      if ((lengthBytes - 4) / 8 > MAX_BLOCK_STATUS_EXTENTS) {
        throw bad(`holds over ${MAX_BLOCK_STATUS_EXTENTS} extents`);
      }
      return;
    default:
      // Unknown error types are still errors of the request (the spec says so);
      // any other unknown type breaks the stream.
      if ((type & NBD_REPLY_TYPE_FLAG_ERROR) === 0) {
        throw nbdProtocolError(`unknown structured reply chunk type ${type}`);
      }
      if (lengthBytes < (type === NBD_REPLY_TYPE_ERROR_OFFSET ? 14 : 6)) throw bad("is too short");
      if (lengthBytes > MAX_ERROR_CHUNK_BYTES) throw bad(`exceeds ${MAX_ERROR_CHUNK_BYTES}`);
  }
}

/** "read", "block status" or "write", for messages. */
function commandName(command: NbdCommand): string {
  return command.t === "block-status" ? "block status" : command.t;
}

/** "read of [4096, +512)", for messages. */
export function describeCommand(command: NbdCommand): string {
  return `${commandName(command)} of [${command.offset}, +${command.lengthBytes})`;
}

const CHUNK_NAMES: Readonly<Record<number, string>> = {
  [NBD_REPLY_TYPE_NONE]: "NBD_REPLY_TYPE_NONE",
  [NBD_REPLY_TYPE_OFFSET_DATA]: "NBD_REPLY_TYPE_OFFSET_DATA",
  [NBD_REPLY_TYPE_OFFSET_HOLE]: "NBD_REPLY_TYPE_OFFSET_HOLE",
  [NBD_REPLY_TYPE_BLOCK_STATUS]: "NBD_REPLY_TYPE_BLOCK_STATUS",
  [NBD_REPLY_TYPE_ERROR]: "NBD_REPLY_TYPE_ERROR",
  [NBD_REPLY_TYPE_ERROR_OFFSET]: "NBD_REPLY_TYPE_ERROR_OFFSET",
};

/** "NBD_REPLY_TYPE_OFFSET_DATA", or "reply type 42". */
export function chunkName(type: number): string {
  return CHUNK_NAMES[type] ?? `reply type ${type}`;
}
