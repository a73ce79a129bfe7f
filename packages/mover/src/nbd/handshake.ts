import { FerryError } from "@ferry/common/core";
import { ExactReader, view } from "./byte-reader.js";
import {
  encodeClientFlags,
  encodeGoData,
  encodeMetaContextData,
  encodeOption,
  encodeString,
} from "./client-wire.js";
import {
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INIT_MAGIC,
  NBD_OLDSTYLE_MAGIC,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_OPTS_MAGIC,
  NBD_REP_ACK,
  NBD_REP_ERR_UNSUP,
  NBD_REP_FLAG_ERROR,
  NBD_REP_INFO,
  NBD_REP_MAGIC,
  NBD_REP_META_CONTEXT,
  OPTION_REPLY_HEADER_BYTES,
} from "./constants.js";
import {
  decodeExportReply,
  decodeInfo,
  decodeMetaContext,
  type ExportFacts,
  optionFailure,
  optionName,
  softOptionError,
  startTlsRefused,
} from "./handshake-replies.js";
import { DEFAULT_BLOCK_SIZE, MAX_OPTION_REPLY_BYTES } from "./limits.js";
import { nbdProtocolError } from "./nbd-errors.js";

/** Size constraints of an export, bytes. */
export interface NbdBlockSize {
  /** Requests must be aligned to and a multiple of this. */
  minimum: number;
  /** Requests this size and aligned avoid read-modify-write. */
  preferred: number;
  /** Largest payload the server accepts in one request. */
  maximum: number;
}

/** What the handshake negotiated for the export. */
export interface NbdExportInfo {
  exportSizeBytes: number;
  /** NBD_FLAG_* transmission flags as sent. */
  transmissionFlags: number;
  readOnly: boolean;
  /** The server's NBD_INFO_BLOCK_SIZE, or the spec's defaults when it sent none. */
  blockSize: NbdBlockSize;
  /** False when the server refused structured replies (reads then use simple replies). */
  structuredReplies: boolean;
  /** Meta context name -> id, only those the server granted. */
  metaContexts: ReadonlyMap<string, number>;
}

/** Options of {@link createHandshake}. */
export interface HandshakeOptions {
  exportName: string;
  /** Meta contexts to select, e.g. "base:allocation"; the server may grant fewer. */
  metaContexts?: readonly string[];
  /**
   * Upgrade to TLS (NBD_OPT_STARTTLS) before any other option; a server that refuses fails
   * the handshake: Ferry never falls back to plaintext once TLS was asked for.
   */
  startTls?: boolean;
}

/** What one {@link Handshake.push} produced. */
export interface HandshakeStep {
  /** Bytes to write to the server, in order. */
  send: Uint8Array[];
  /** Set once, when the transmission phase begins; `rest` is input past the handshake. */
  done?: { info: NbdExportInfo; rest: Uint8Array };
  /**
   * Set once, when the server accepted NBD_OPT_STARTTLS: the transport runs the TLS
   * handshake on the connection now and then calls {@link Handshake.tlsStarted}.
   */
  startTls?: true;
}

/** The client side of fixed-newstyle negotiation, as a pure state machine. */
export interface Handshake {
  /** Feeds server bytes (pieces of any size). Throws a FerryError on failure. */
  push(input: Uint8Array): HandshakeStep;
  /**
   * The TLS session is up (after a step with `startTls`): returns the bytes to send over it,
   * as option haggling starts over. Throws when no TLS upgrade is pending.
   */
  tlsStarted(): Uint8Array[];
  /**
   * Bytes for a soft disconnect (NBD_OPT_ABORT) when the handshake fails after the
   * greeting, as the spec asks; undefined when a hard disconnect is all that is possible.
   */
  abortBytes(): Uint8Array | undefined;
}

// The server speaks first: 8 bytes NBDMAGIC, 8 bytes IHAVEOPT, 16 bits of flags.
const GREETING_BYTES = 18;

type State =
  | { t: "greeting" }
  | { t: "option-header"; option: number }
  | { t: "option-data"; option: number; replyType: number }
  | { t: "export-name-reply" }
  /** NBD_OPT_STARTTLS was acknowledged; the transport is running the TLS handshake. */
  | { t: "tls-upgrade" }
  | { t: "done" };

/** Starts a handshake; nothing is sent until the server's greeting arrives. */
export function createHandshake(options: HandshakeOptions): Handshake {
  return new NbdHandshake(options);
}

class NbdHandshake implements Handshake {
  readonly #exportName: Uint8Array;
  readonly #requested: string[];
  readonly #startTls: boolean;
  readonly #reader = new ExactReader();
  #state: State = { t: "greeting" };
  #field = new Uint8Array(GREETING_BYTES);
  #noZeroes = false;
  #structured = false;
  readonly #contexts = new Map<string, number>();
  readonly #facts: ExportFacts = { blockSize: { ...DEFAULT_BLOCK_SIZE } };

  constructor(options: HandshakeOptions) {
    this.#exportName = encodeString(options.exportName, "NBD export name");
    this.#requested = [...new Set(options.metaContexts ?? [])];
    this.#startTls = options.startTls ?? false;
    for (const name of this.#requested) encodeString(name, `NBD meta context ${name}`);
    this.#reader.into(this.#field);
  }

  push(input: Uint8Array): HandshakeStep {
    if (this.#finished()) throw new Error("NBD handshake already finished");
    if (this.#upgrading()) {
      // Nothing may arrive in the clear between the ACK and the TLS handshake: such bytes
      // would be read as if they came over TLS, a man in the middle's injection.
      throw nbdProtocolError(
        `the server sent ${input.length} plaintext bytes after accepting NBD_OPT_STARTTLS`,
      );
    }
    const send: Uint8Array[] = [];
    let at = 0;
    while (!this.#finished()) {
      if (!this.#reader.done) at = this.#reader.feed(input, at);
      if (!this.#reader.done) return { send };
      this.#complete(send);
      if (this.#upgrading()) {
        if (at < input.length) {
          throw nbdProtocolError(
            `the server sent ${input.length - at} plaintext bytes after accepting NBD_OPT_STARTTLS`,
          );
        }
        return { send, startTls: true };
      }
    }
    return { send, done: { info: this.#info(), rest: input.subarray(at) } };
  }

  tlsStarted(): Uint8Array[] {
    if (this.#state.t !== "tls-upgrade") throw new Error("no NBD TLS upgrade is pending");
    // Option haggling starts over inside TLS; nothing was agreed before STARTTLS.
    const send: Uint8Array[] = [];
    this.#sendOption(send, NBD_OPT_STRUCTURED_REPLY);
    return send;
  }

  #finished(): boolean {
    return this.#state.t === "done";
  }

  #upgrading(): boolean {
    return this.#state.t === "tls-upgrade";
  }

  abortBytes(): Uint8Array | undefined {
    return this.#state.t === "option-header" || this.#state.t === "option-data"
      ? encodeOption(NBD_OPT_ABORT)
      : undefined;
  }

  #expect(bytes: number): void {
    this.#field = new Uint8Array(bytes);
    this.#reader.into(this.#field);
  }

  #sendOption(send: Uint8Array[], option: number, data?: Uint8Array): void {
    send.push(encodeOption(option, data));
    this.#state = { t: "option-header", option };
    this.#expect(OPTION_REPLY_HEADER_BYTES);
  }

  #complete(send: Uint8Array[]): void {
    const state = this.#state;
    switch (state.t) {
      case "greeting":
        this.#onGreeting(send);
        return;
      case "option-header":
        this.#onOptionHeader(state.option);
        return;
      case "option-data":
        this.#onOptionData(send, state.option, state.replyType);
        return;
      case "export-name-reply":
        Object.assign(this.#facts, decodeExportReply(this.#field));
        this.#state = { t: "done" };
        return;
      case "tls-upgrade":
      case "done":
        return;
    }
  }

  #onGreeting(send: Uint8Array[]): void {
    const dv = view(this.#field);
    if (dv.getBigUint64(0) !== NBD_INIT_MAGIC) {
      throw nbdProtocolError("the server did not greet with NBDMAGIC (is it an NBD server?)");
    }
    const second = dv.getBigUint64(8);
    if (second === NBD_OLDSTYLE_MAGIC) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        "the NBD server only speaks oldstyle negotiation, which Ferry does not support",
      );
    }
    if (second !== NBD_OPTS_MAGIC) {
      throw nbdProtocolError(`greeting has magic 0x${second.toString(16)}, expected IHAVEOPT`);
    }
    const flags = dv.getUint16(16);
    if ((flags & NBD_FLAG_FIXED_NEWSTYLE) === 0) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        "the NBD server lacks fixed newstyle negotiation (NBD_FLAG_FIXED_NEWSTYLE)",
      );
    }
    // Zeroes only pad NBD_OPT_EXPORT_NAME's reply; skipping them needs both sides' consent.
    this.#noZeroes = (flags & NBD_FLAG_NO_ZEROES) !== 0;
    send.push(
      encodeClientFlags(NBD_FLAG_C_FIXED_NEWSTYLE | (this.#noZeroes ? NBD_FLAG_C_NO_ZEROES : 0)),
    );
    this.#sendOption(send, this.#startTls ? NBD_OPT_STARTTLS : NBD_OPT_STRUCTURED_REPLY);
  }

  #onOptionHeader(option: number): void {
    const dv = view(this.#field);
    const magic = dv.getBigUint64(0);
    if (magic !== NBD_REP_MAGIC) {
      throw nbdProtocolError(
        `option reply has magic 0x${magic.toString(16)}, expected 0x3e889045565a9`,
      );
    }
    const repliedTo = dv.getUint32(8);
    if (repliedTo !== option) {
      throw nbdProtocolError(
        `option reply is for ${optionName(repliedTo)} while ${optionName(option)} is pending`,
      );
    }
    const lengthBytes = dv.getUint32(16);
    if (lengthBytes > MAX_OPTION_REPLY_BYTES) {
      throw nbdProtocolError(
        `option reply to ${optionName(option)} is ${lengthBytes} bytes, over the limit of ${MAX_OPTION_REPLY_BYTES}`,
      );
    }
    this.#state = { t: "option-data", option, replyType: dv.getUint32(12) };
    this.#expect(lengthBytes);
  }

  #onOptionData(send: Uint8Array[], option: number, replyType: number): void {
    const data = this.#field;
    if (replyType === NBD_REP_ACK && data.length !== 0) {
      throw nbdProtocolError(`NBD_REP_ACK to ${optionName(option)} carries ${data.length} bytes`);
    }
    const isError = (replyType & NBD_REP_FLAG_ERROR) !== 0;
    if (option === NBD_OPT_STARTTLS) {
      if (replyType !== NBD_REP_ACK) throw startTlsRefused(replyType, data);
      this.#state = { t: "tls-upgrade" };
      return;
    }
    if (option === NBD_OPT_STRUCTURED_REPLY) {
      if (replyType === NBD_REP_ACK) this.#structured = true;
      else if (!isError || !softOptionError(replyType)) {
        throw optionFailure(option, replyType, data, this.#exportName);
      }
      this.#afterStructuredReply(send);
      return;
    }
    if (option === NBD_OPT_SET_META_CONTEXT) {
      if (replyType === NBD_REP_META_CONTEXT) {
        const { id, name } = decodeMetaContext(data, this.#requested, this.#contexts);
        this.#contexts.set(name, id);
        this.#expectAnotherReply(option);
        return;
      }
      if (replyType !== NBD_REP_ACK) {
        if (!isError || !softOptionError(replyType)) {
          throw optionFailure(option, replyType, data, this.#exportName);
        }
        // A failed SET_META_CONTEXT selects nothing, whatever it sent before.
        this.#contexts.clear();
      }
      this.#sendGo(send);
      return;
    }
    if (option === NBD_OPT_GO) {
      if (replyType === NBD_REP_INFO) {
        decodeInfo(data, this.#facts);
        this.#expectAnotherReply(option);
        return;
      }
      if (replyType === NBD_REP_ACK) {
        if (this.#facts.exportSizeBytes === undefined) {
          throw nbdProtocolError("NBD_OPT_GO succeeded without an NBD_INFO_EXPORT reply");
        }
        this.#state = { t: "done" };
        return;
      }
      if (replyType === NBD_REP_ERR_UNSUP) {
        // A server older than NBD_OPT_GO: the spec asks clients to fall back.
        send.push(encodeOption(NBD_OPT_EXPORT_NAME, this.#exportName));
        this.#state = { t: "export-name-reply" };
        this.#expect(this.#noZeroes ? 10 : 134);
        return;
      }
      throw optionFailure(option, replyType, data, this.#exportName);
    }
    throw nbdProtocolError(`reply to ${optionName(option)}, which Ferry never sends`);
  }

  #afterStructuredReply(send: Uint8Array[]): void {
    // Meta contexts ride on structured replies; without them there is nothing to select.
    if (this.#structured && this.#requested.length > 0) {
      const queries = this.#requested.map((name) => new TextEncoder().encode(name));
      this.#sendOption(
        send,
        NBD_OPT_SET_META_CONTEXT,
        encodeMetaContextData(this.#exportName, queries),
      );
    } else {
      this.#sendGo(send);
    }
  }

  #sendGo(send: Uint8Array[]): void {
    this.#sendOption(send, NBD_OPT_GO, encodeGoData(this.#exportName, [NBD_INFO_BLOCK_SIZE]));
  }

  #expectAnotherReply(option: number): void {
    this.#state = { t: "option-header", option };
    this.#expect(OPTION_REPLY_HEADER_BYTES);
  }

  #info(): NbdExportInfo {
    const { exportSizeBytes, transmissionFlags, readOnly } = this.#facts;
    if (exportSizeBytes === undefined || transmissionFlags === undefined) {
      throw nbdProtocolError("the handshake ended without export information");
    }
    return {
      exportSizeBytes,
      transmissionFlags,
      readOnly: readOnly ?? false,
      blockSize: this.#facts.blockSize,
      structuredReplies: this.#structured,
      metaContexts: new Map(this.#contexts),
    };
  }
}
