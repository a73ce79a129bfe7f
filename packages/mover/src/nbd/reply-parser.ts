import { FerryError } from "@ferry/common/core";
import { ExactReader, readSafeUint64, view } from "./byte-reader.js";
import {
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_NONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REPLY_TYPE_OFFSET_HOLE,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
  SIMPLE_REPLY_HEADER_BYTES,
  STRUCTURED_REPLY_HEADER_BYTES,
} from "./constants.js";
import { MAX_READ_BYTES } from "./limits.js";
import { nbdProtocolError, nbdServerError } from "./nbd-errors.js";
import { ReadCoverage } from "./read-coverage.js";
import {
  type BlockStatusExtent,
  checkChunkHeader,
  chunkName,
  decodeBlockStatus,
  decodeErrorChunk,
  describeCommand,
  type NbdCommand,
} from "./reply-chunks.js";

export type { NbdCommand } from "./reply-chunks.js";

/** A finished reply. */
export type ReplyEvent =
  | { t: "read"; cookie: number; data: Uint8Array }
  | {
      t: "block-status";
      cookie: number;
      /** Extents per negotiated meta context id. */
      extents: ReadonlyMap<number, BlockStatusExtent[]>;
    }
  /** A write, write-zeroes or flush succeeded. */
  | { t: "done"; cookie: number }
  /** The server failed the request; the connection stays usable. */
  | { t: "error"; cookie: number; error: FerryError };

/** Options of {@link createReplyParser}. */
export interface ReplyParserOptions {
  /** Whether NBD_OPT_STRUCTURED_REPLY was negotiated. */
  structuredReplies: boolean;
  /** Negotiated meta contexts, name -> id. */
  metaContexts: ReadonlyMap<string, number>;
  /** Largest read accepted, bytes; default 32 MiB. */
  maxReadBytes?: number;
}

/**
 * Transmission-phase reply decoder, a pure state machine: told which requests
 * are in flight, fed server bytes in pieces of any size, it returns finished
 * replies. Any violation of the protocol throws a PROTOCOL_ERROR naming it;
 * after that the connection must be dropped.
 */
export interface ReplyParser {
  /** Registers a request sent with `cookie` (a cookie must not be reused while in flight). */
  expect(cookie: number, command: NbdCommand): void;
  /** The caller lost interest: the reply is still parsed and checked, then dropped. */
  abandon(cookie: number): void;
  /**
   * Feeds bytes; calls `onReply` for each reply they complete, in order. Throws a
   * PROTOCOL_ERROR on a violation; replies completed before it were delivered.
   */
  push(input: Uint8Array, onReply: (event: ReplyEvent) => void): void;
  /**
   * Where the next input may be written in place: the rest of the read payload being
   * received, when at least `minBytes` of it are missing; else undefined.
   */
  region(minBytes: number): Uint8Array | undefined;
  /** `n` bytes were written at the start of {@link region}; like push otherwise. */
  pushedInPlace(n: number, onReply: (event: ReplyEvent) => void): void;
  /** True while `cookie` belongs to a request whose reply has not finished. */
  tracks(cookie: number): boolean;
  /** Requests whose reply has not finished (abandoned ones included). */
  readonly inFlight: number;
}

/** Creates a reply parser for a connection whose handshake negotiated `options`. */
export function createReplyParser(options: ReplyParserOptions): ReplyParser {
  return new Parser(options);
}

interface Tracked {
  command: NbdCommand;
  abandoned: boolean;
  /** Read result; allocated on the first data byte. */
  data?: Uint8Array;
  coverage?: ReadCoverage;
  statuses?: Map<number, BlockStatusExtent[]>;
  /** First error chunk; reported when the reply is done. */
  error?: FerryError;
}

interface ChunkHeader {
  flags: number;
  type: number;
  cookie: number;
  lengthBytes: number;
  tracked: Tracked;
}

type State =
  | { t: "magic" }
  | { t: "simple-header" }
  | { t: "structured-header" }
  | { t: "simple-data"; cookie: number; tracked: Tracked }
  | { t: "data-offset"; chunk: ChunkHeader }
  | { t: "data-payload"; chunk: ChunkHeader }
  | { t: "chunk-payload"; chunk: ChunkHeader; payload: Uint8Array };

type Emit = (event: ReplyEvent) => void;

const NOTHING = new Uint8Array(0);

class Parser implements ReplyParser {
  readonly #structured: boolean;
  readonly #contextNames = new Map<number, string>();
  readonly #maxReadBytes: number;
  readonly #tracked = new Map<number, Tracked>();
  readonly #reader = new ExactReader();
  readonly #header = new Uint8Array(STRUCTURED_REPLY_HEADER_BYTES);
  readonly #offsetField = new Uint8Array(8);
  #state: State = { t: "magic" };

  constructor(options: ReplyParserOptions) {
    this.#structured = options.structuredReplies;
    for (const [name, id] of options.metaContexts) this.#contextNames.set(id, name);
    this.#maxReadBytes = Math.min(options.maxReadBytes ?? MAX_READ_BYTES, MAX_READ_BYTES);
    this.#reader.into(this.#header.subarray(0, 4));
  }

  get inFlight(): number {
    return this.#tracked.size;
  }

  expect(cookie: number, command: NbdCommand): void {
    if (this.#tracked.has(cookie)) throw new FerryError("INTERNAL", `NBD cookie ${cookie} in use`);
    if (command.t === "read" && command.lengthBytes > this.#maxReadBytes) {
      throw new FerryError(
        "INVALID_ARGUMENT",
        `NBD read of ${command.lengthBytes} bytes exceeds ${this.#maxReadBytes}`,
      );
    }
    this.#tracked.set(cookie, { command, abandoned: false });
  }

  abandon(cookie: number): void {
    const tracked = this.#tracked.get(cookie);
    if (!tracked) return;
    tracked.abandoned = true;
    // The bytes still to come are checked but not kept, from this very chunk on.
    delete tracked.data;
    delete tracked.statuses;
    const state = this.#state;
    const receiving =
      (state.t === "data-payload" && state.chunk.cookie === cookie) ||
      (state.t === "simple-data" && state.cookie === cookie);
    if (receiving) this.#reader.skip(this.#reader.missingBytes);
  }

  tracks(cookie: number): boolean {
    return this.#tracked.has(cookie);
  }

  region(minBytes: number): Uint8Array | undefined {
    const t = this.#state.t;
    return t === "data-payload" || t === "simple-data" ? this.#reader.region(minBytes) : undefined;
  }

  pushedInPlace(n: number, onReply: (event: ReplyEvent) => void): void {
    this.#reader.advance(n);
    this.push(NOTHING, onReply);
  }

  push(input: Uint8Array, onReply: (event: ReplyEvent) => void): void {
    let at = 0;
    for (;;) {
      if (!this.#reader.done) at = this.#reader.feed(input, at);
      if (!this.#reader.done) return;
      this.#complete(onReply);
    }
  }

  #next(state: State, target: Uint8Array | number): void {
    this.#state = state;
    if (typeof target === "number") this.#reader.skip(target);
    else this.#reader.into(target);
  }

  #idle(): void {
    this.#next({ t: "magic" }, this.#header.subarray(0, 4));
  }

  #complete(emit: Emit): void {
    const state = this.#state;
    switch (state.t) {
      case "magic": {
        const magic = view(this.#header).getUint32(0);
        if (magic === NBD_SIMPLE_REPLY_MAGIC) {
          this.#next({ t: "simple-header" }, this.#header.subarray(4, 16));
          return;
        }
        if (magic === NBD_STRUCTURED_REPLY_MAGIC) {
          this.#next({ t: "structured-header" }, this.#header.subarray(4, 20));
          return;
        }
        throw nbdProtocolError(`reply has magic 0x${magic.toString(16).padStart(8, "0")}`);
      }
      case "simple-header":
        this.#onSimpleHeader(emit);
        return;
      case "structured-header":
        this.#onStructuredHeader(emit);
        return;
      case "simple-data":
        this.#finish(state.cookie, state.tracked, emit);
        this.#idle();
        return;
      case "data-offset":
        this.#onDataOffset(state.chunk);
        return;
      case "data-payload":
        this.#endChunk(state.chunk, emit);
        return;
      case "chunk-payload":
        this.#onPayload(state.chunk, state.payload);
        this.#endChunk(state.chunk, emit);
        return;
    }
  }

  #lookup(dv: DataView, at: number): { cookie: number; tracked: Tracked } {
    const high = dv.getUint32(at);
    const cookie = dv.getUint32(at + 4);
    const tracked = high === 0 ? this.#tracked.get(cookie) : undefined;
    if (!tracked) {
      throw nbdProtocolError(`reply for unknown cookie 0x${dv.getBigUint64(at).toString(16)}`);
    }
    return { cookie, tracked };
  }

  #onSimpleHeader(emit: Emit): void {
    const dv = view(this.#header.subarray(0, SIMPLE_REPLY_HEADER_BYTES));
    const errno = dv.getUint32(4);
    const { cookie, tracked } = this.#lookup(dv, 8);
    const { command } = tracked;
    if (command.t === "read" && this.#structured) {
      throw nbdProtocolError("simple reply to a read after structured replies were negotiated");
    }
    if (errno !== 0) {
      tracked.error = nbdServerError(errno, describeCommand(command));
      this.#finish(cookie, tracked, emit);
      this.#idle();
      return;
    }
    if (command.t === "block-status") {
      throw nbdProtocolError("simple success reply to a block status request");
    }
    if (command.t === "write") {
      this.#finish(cookie, tracked, emit);
      this.#idle();
      return;
    }
    // Without structured replies the payload length is only known from the request.
    tracked.coverage = new ReadCoverage();
    tracked.coverage.add(command.offset, command.offset + command.lengthBytes);
    const state: State = { t: "simple-data", cookie, tracked };
    if (tracked.abandoned) {
      this.#next(state, command.lengthBytes);
      return;
    }
    tracked.data = command.into ?? new Uint8Array(command.lengthBytes);
    this.#next(state, tracked.data);
  }

  #onStructuredHeader(emit: Emit): void {
    if (!this.#structured) {
      throw nbdProtocolError("structured reply chunk, but structured replies were not negotiated");
    }
    const dv = view(this.#header);
    const { cookie, tracked } = this.#lookup(dv, 8);
    const chunk: ChunkHeader = {
      flags: dv.getUint16(4),
      type: dv.getUint16(6),
      cookie,
      lengthBytes: dv.getUint32(16),
      tracked,
    };
    checkChunkHeader(chunk.type, chunk.flags, chunk.lengthBytes, tracked.command);
    if (chunk.type === NBD_REPLY_TYPE_NONE) {
      this.#endChunk(chunk, emit);
      return;
    }
    if (chunk.type === NBD_REPLY_TYPE_OFFSET_DATA) {
      // Only the 8-byte offset is buffered; the data goes straight into the result.
      this.#next({ t: "data-offset", chunk }, this.#offsetField);
      return;
    }
    // Small, and bounded by checkChunkHeader.
    const payload = new Uint8Array(chunk.lengthBytes);
    this.#next({ t: "chunk-payload", chunk, payload }, payload);
  }

  /** Checks [start, end) lies inside the read and overlaps no earlier content. */
  #cover(chunk: ChunkHeader, start: number, end: number): void {
    const { command } = chunk.tracked;
    const requestEnd = command.offset + command.lengthBytes;
    if (start < command.offset || end > requestEnd) {
      throw nbdProtocolError(
        `${chunkName(chunk.type)} [${start}, ${end}) lies outside the read [${command.offset}, ${requestEnd})`,
      );
    }
    chunk.tracked.coverage ??= new ReadCoverage();
    if (!chunk.tracked.coverage.add(start, end)) {
      throw nbdProtocolError(
        `${chunkName(chunk.type)} [${start}, ${end}) overlaps data already received`,
      );
    }
  }

  #onDataOffset(chunk: ChunkHeader): void {
    const start = readSafeUint64(view(this.#offsetField), 0) ?? Number.MAX_SAFE_INTEGER;
    const lengthBytes = chunk.lengthBytes - 8;
    this.#cover(chunk, start, start + lengthBytes);
    const { tracked } = chunk;
    const state: State = { t: "data-payload", chunk };
    if (tracked.abandoned) {
      this.#next(state, lengthBytes);
      return;
    }
    tracked.data ??=
      tracked.command.t === "read" && tracked.command.into
        ? tracked.command.into
        : new Uint8Array(tracked.command.lengthBytes);
    const at = start - tracked.command.offset;
    this.#next(state, tracked.data.subarray(at, at + lengthBytes));
  }

  #onPayload(chunk: ChunkHeader, payload: Uint8Array): void {
    const { tracked, type } = chunk;
    const { command } = tracked;
    if (type === NBD_REPLY_TYPE_OFFSET_HOLE) {
      const dv = view(payload);
      const start = readSafeUint64(dv, 0) ?? Number.MAX_SAFE_INTEGER;
      const holeBytes = dv.getUint32(8);
      if (holeBytes === 0) throw nbdProtocolError("NBD_REPLY_TYPE_OFFSET_HOLE of 0 bytes");
      // A new result array starts zeroed, so a hole only needs recording; a caller's array
      // (read `into`) may hold anything and gets the zeros written.
      this.#cover(chunk, start, start + holeBytes);
      if (command.t === "read" && command.into && !tracked.abandoned) {
        tracked.data ??= command.into;
        const at = start - command.offset;
        tracked.data.fill(0, at, at + holeBytes);
      }
    } else if (type === NBD_REPLY_TYPE_BLOCK_STATUS) {
      const { contextId, extents } = decodeBlockStatus(payload, command, (id) =>
        this.#contextNames.get(id),
      );
      tracked.statuses ??= new Map();
      if (tracked.statuses.has(contextId)) {
        throw nbdProtocolError(`two block status chunks for meta context id ${contextId}`);
      }
      tracked.statuses.set(contextId, tracked.abandoned ? [] : extents);
    } else {
      tracked.error ??= decodeErrorChunk(type, payload, command, describeCommand(command));
    }
  }

  #endChunk(chunk: ChunkHeader, emit: Emit): void {
    if ((chunk.flags & NBD_REPLY_FLAG_DONE) !== 0) {
      this.#finish(chunk.cookie, chunk.tracked, emit);
    }
    this.#idle();
  }

  #finish(cookie: number, tracked: Tracked, emit: Emit): void {
    this.#tracked.delete(cookie);
    const { command } = tracked;
    if (tracked.error) {
      if (!tracked.abandoned) emit({ t: "error", cookie, error: tracked.error });
      return;
    }
    if (command.t === "read") {
      const covered = tracked.coverage?.coveredBytes ?? 0;
      if (covered !== command.lengthBytes) {
        throw nbdProtocolError(
          `read reply for [${command.offset}, +${command.lengthBytes}) ended after ${covered} bytes`,
        );
      }
      if (!tracked.abandoned) {
        emit({
          t: "read",
          cookie,
          data: tracked.data ?? zeroed(command.t === "read" ? command.into : undefined, covered),
        });
      }
      return;
    }
    if (command.t === "write") {
      if (!tracked.abandoned) emit({ t: "done", cookie });
      return;
    }
    for (const [id, name] of this.#contextNames) {
      if (!tracked.statuses?.has(id)) {
        throw nbdProtocolError(`block status reply lacks meta context ${name}`);
      }
    }
    if (!tracked.abandoned) {
      emit({ t: "block-status", cookie, extents: tracked.statuses ?? new Map() });
    }
  }
}

// A read answered without data chunks (all holes): zeros, in the caller's array when given.
function zeroed(into: Uint8Array | undefined, length: number): Uint8Array {
  return into ? into.fill(0) : new Uint8Array(length);
}
