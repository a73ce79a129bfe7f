import type { Socket } from "node:net";
import { abortReason, FerryError, toFerryError, withDeadline } from "@ferry/common/core";
import { encodeRequest } from "./client-wire.js";
import {
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_DISC,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_ESHUTDOWN,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_WRITE_ZEROES,
} from "./constants.js";
import type { NbdBlockSize, NbdExportInfo } from "./handshake.js";
import { MAX_BLOCK_STATUS_REQUEST_BYTES, MAX_READ_BYTES } from "./limits.js";
import {
  describeAddress,
  type NbdAddress,
  type NbdSocket,
  negotiate,
  openSocket,
} from "./nbd-socket.js";
import type { NbdTls } from "./nbd-tls.js";
import type { BlockStatusExtent } from "./reply-chunks.js";
import {
  createReplyParser,
  type NbdCommand,
  type ReplyEvent,
  type ReplyParser,
} from "./reply-parser.js";

export type { NbdAddress } from "./nbd-socket.js";
export type { NbdTls } from "./nbd-tls.js";
export type { BlockStatusExtent } from "./reply-chunks.js";

/** What to negotiate with the server, wherever it is. */
export interface NbdConnectParams {
  /** Export to open ("" is the server's default export). */
  exportName: string;
  /** Meta contexts to select, e.g. "base:allocation", "qemu:dirty-bitmap:NAME". */
  metaContexts?: readonly string[];
  /** Aborts connecting and the handshake (not the connection afterwards). */
  signal?: AbortSignal;
  /** Limit for connecting plus the handshake, milliseconds; default 10000. */
  connectTimeoutMs?: number;
  /**
   * Speak TLS (NBD_OPT_STARTTLS, mutual: the client presents its certificate). A server
   * that refuses fails the connect with FAILED_PRECONDITION; no plaintext fallback.
   */
  tls?: NbdTls;
}

/** Options of {@link connectNbd}: an address plus what to negotiate. */
export type ConnectNbdOptions = NbdAddress & NbdConnectParams;

/** Per-request options. */
export interface NbdRequestOptions {
  /** Aborting rejects the request at once; its late reply is discarded safely. */
  signal?: AbortSignal;
}

/** Options of a read. */
export interface NbdReadOptions extends NbdRequestOptions {
  /**
   * Receive the data here (exactly lengthBytes long) instead of a new array: no copy. After
   * an abort, one socket read already aimed at the array may still land in it (so a buffer
   * whose read failed must not be reused for other data).
   */
  into?: Uint8Array;
}

/** Options of a write. */
export interface NbdWriteOptions extends NbdRequestOptions {
  /** Forced unit access: the data is durable when the write resolves. */
  fua?: boolean;
}

/**
 * One NBD connection in the transmission phase. Requests may be issued
 * concurrently; replies are matched by cookie in any order. A protocol
 * violation or a lost connection fails every pending request with the same
 * error and makes the client unusable.
 */
export interface NbdClient extends AsyncDisposable {
  readonly exportSizeBytes: number;
  readonly readOnly: boolean;
  /** Size constraints every request honours (the spec's defaults if the server sent none). */
  readonly blockSize: Readonly<NbdBlockSize>;
  /** Meta contexts the server granted: name -> id. */
  readonly metaContexts: ReadonlyMap<string, number>;
  /** Raw NBD transmission flags. */
  readonly transmissionFlags: number;
  /** Requests sent whose reply has not arrived (cancelled ones included). */
  readonly inFlight: number;
  /**
   * Reads exactly `lengthBytes` at `offset`. Nothing is split: `lengthBytes` must
   * not exceed `blockSize.maximum` (nor 32 MiB), and both must be multiples of
   * `blockSize.minimum`. Server errors reject with a FerryError naming the NBD
   * error (EIO is retryable).
   */
  read(offset: number, lengthBytes: number, options?: NbdReadOptions): Promise<Uint8Array>;
  /**
   * The extents of meta context `context` from `offset`, in order, non-empty and
   * contiguous. The server may describe less than `lengthBytes` (ask again from the
   * end) and its last extent may reach past it. FAILED_PRECONDITION when `context`
   * was not granted.
   */
  blockStatus(
    context: string,
    offset: number,
    lengthBytes: number,
    options?: NbdRequestOptions,
  ): Promise<BlockStatusExtent[]>;
  /**
   * Writes `data` at `offset` (at most `blockSize.maximum` bytes, aligned like a read).
   * PERMISSION_DENIED on a read-only export. `fua`: durable before the reply.
   */
  write(offset: number, data: Uint8Array, options?: NbdWriteOptions): Promise<void>;
  /** Writes zeros over the range (NBD_CMD_WRITE_ZEROES; UNIMPLEMENTED if the server lacks it). */
  writeZeroes(offset: number, lengthBytes: number, options?: NbdWriteOptions): Promise<void>;
  /** Makes every completed write durable (NBD_CMD_FLUSH; a no-op if the server lacks it). */
  flush(options?: NbdRequestOptions): Promise<void>;
  /**
   * Rejects pending requests with CONNECTION_CLOSED, sends NBD_CMD_DISC and waits
   * until the socket closed. Idempotent; removes every listener it added.
   */
  close(): Promise<void>;
}

/** Connects, negotiates and returns the client in the transmission phase. */
export async function connectNbd(options: ConnectNbdOptions): Promise<NbdClient> {
  const peer = describeAddress(options);
  using deadline = withDeadline(
    options.signal,
    options.connectTimeoutMs ?? 10_000,
    `connecting to NBD server ${peer}`,
  );
  const plain = await openSocket(options, deadline.signal);
  const { connection, info, rest } = await negotiate(plain, {
    exportName: options.exportName,
    ...(options.metaContexts ? { metaContexts: options.metaContexts } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...("host" in options ? { host: options.host } : {}),
    signal: deadline.signal,
    peer,
  });
  return new Client(connection, info, rest, peer);
}

type Lifecycle =
  | { t: "ready" }
  /** The server is shutting down (ESHUTDOWN): NBD_CMD_DISC sent, pending replies still arrive. */
  | { t: "draining"; error: FerryError }
  | { t: "closed"; error: FerryError };

type Pending = (outcome: ReplyEvent | FerryError) => void;

/** NBD_CMD_DISC: no reply comes; the server finishes what it has and hangs up. */
const discRequest = () =>
  encodeRequest({ type: NBD_CMD_DISC, flags: 0, cookie: 0, offset: 0, lengthBytes: 0 });

// How long close() waits for the server to hang up after NBD_CMD_DISC.
const DISCONNECT_WAIT_MS = 2000;

// Payload left to receive that is worth a socket read straight into its destination.
const IN_PLACE_MIN_BYTES = 16 * 1024;

class Client implements NbdClient {
  readonly exportSizeBytes: number;
  readonly readOnly: boolean;
  readonly blockSize: Readonly<NbdBlockSize>;
  readonly metaContexts: ReadonlyMap<string, number>;
  readonly transmissionFlags: number;
  readonly #socket: Socket;
  readonly #input: NbdSocket["input"];
  readonly #peer: string;
  readonly #parser: ReplyParser;
  readonly #pending = new Map<number, Pending>();
  readonly #socketClosed: Promise<void>;
  #state: Lifecycle = { t: "ready" };
  #nextCookie = 1;
  #corked = false;

  constructor({ socket, input }: NbdSocket, info: NbdExportInfo, rest: Uint8Array, peer: string) {
    this.exportSizeBytes = info.exportSizeBytes;
    this.readOnly = info.readOnly;
    this.blockSize = Object.freeze({ ...info.blockSize });
    this.metaContexts = info.metaContexts;
    this.transmissionFlags = info.transmissionFlags;
    this.#socket = socket;
    this.#input = input;
    this.#peer = peer;
    this.#parser = createReplyParser(info);
    this.#socketClosed = new Promise((resolve) =>
      socket.closed ? resolve() : socket.once("close", () => resolve()),
    );
    if (socket.destroyed) {
      // Lost between the handshake and now: nothing to listen to.
      this.#state = {
        t: "closed",
        error: new FerryError("CONNECTION_CLOSED", `NBD server ${peer} closed the connection`),
      };
      return;
    }
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
    if (rest.length > 0) this.#onData(rest);
    // Read payloads are received straight into the caller's buffer where they can be.
    input.setSink({
      push: this.#onData,
      direct: () =>
        this.#state.t === "closed" ? undefined : this.#parser.region(IN_PLACE_MIN_BYTES),
      filled: this.#onFilled,
    });
    socket.resume();
  }

  get inFlight(): number {
    return this.#parser.inFlight;
  }

  // async, so argument errors reject like every other failure; the request is
  // still written synchronously (before the first await).
  async read(
    offset: number,
    lengthBytes: number,
    options: NbdReadOptions = {},
  ): Promise<Uint8Array> {
    const limit = Math.min(this.blockSize.maximum, MAX_READ_BYTES);
    this.#checkRange("read", offset, lengthBytes, limit);
    if (options.into && options.into.length !== lengthBytes)
      throw new FerryError(
        "INVALID_ARGUMENT",
        `read into ${options.into.length} bytes, not ${lengthBytes}`,
      );
    return this.#request(
      { t: "read", offset, lengthBytes, ...(options.into ? { into: options.into } : {}) },
      NBD_CMD_READ,
      options.signal,
      (event) => (event.t === "read" ? event.data : undefined),
    );
  }

  async blockStatus(
    context: string,
    offset: number,
    lengthBytes: number,
    options: NbdRequestOptions = {},
  ): Promise<BlockStatusExtent[]> {
    const id = this.metaContexts.get(context);
    if (id === undefined) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `NBD server ${this.#peer} did not grant meta context ${context}`,
        { details: { context } },
      );
    }
    this.#checkRange("block status", offset, lengthBytes, MAX_BLOCK_STATUS_REQUEST_BYTES);
    return this.#request(
      { t: "block-status", offset, lengthBytes },
      NBD_CMD_BLOCK_STATUS,
      options.signal,
      (event) => (event.t === "block-status" ? event.extents.get(id) : undefined),
    );
  }

  async write(offset: number, data: Uint8Array, options: NbdWriteOptions = {}): Promise<void> {
    this.#checkWritable("write");
    this.#checkRange(
      "write",
      offset,
      data.length,
      Math.min(this.blockSize.maximum, MAX_READ_BYTES),
    );
    await this.#request(
      { t: "write", offset, lengthBytes: data.length },
      NBD_CMD_WRITE,
      options.signal,
      (event) => (event.t === "done" ? true : undefined),
      { flags: options.fua ? NBD_CMD_FLAG_FUA : 0, payload: data },
    );
  }

  async writeZeroes(
    offset: number,
    lengthBytes: number,
    options: NbdWriteOptions = {},
  ): Promise<void> {
    this.#checkWritable("write zeroes");
    if ((this.transmissionFlags & NBD_FLAG_SEND_WRITE_ZEROES) === 0)
      throw new FerryError("UNIMPLEMENTED", `NBD server ${this.#peer} cannot write zeroes`);
    this.#checkRange("write zeroes", offset, lengthBytes, 0xffffffff);
    await this.#request(
      { t: "write", offset, lengthBytes },
      NBD_CMD_WRITE_ZEROES,
      options.signal,
      (event) => (event.t === "done" ? true : undefined),
      { flags: options.fua ? NBD_CMD_FLAG_FUA : 0 },
    );
  }

  async flush(options: NbdRequestOptions = {}): Promise<void> {
    if ((this.transmissionFlags & NBD_FLAG_SEND_FLUSH) === 0) return;
    await this.#request(
      { t: "write", offset: 0, lengthBytes: 0 },
      NBD_CMD_FLUSH,
      options.signal,
      (event) => (event.t === "done" ? true : undefined),
    );
  }

  #checkWritable(what: string): void {
    if (this.readOnly)
      throw new FerryError(
        "PERMISSION_DENIED",
        `NBD ${what}: export on ${this.#peer} is read-only`,
      );
  }

  #checkRange(what: string, offset: number, lengthBytes: number, maxBytes: number): void {
    const { minimum } = this.blockSize;
    const end = offset + lengthBytes;
    const problem =
      !Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(lengthBytes)
        ? "is not a pair of non-negative integers"
        : lengthBytes < 1 || lengthBytes > maxBytes
          ? `must be 1 to ${maxBytes} bytes long`
          : end > this.exportSizeBytes
            ? `ends past the export (${this.exportSizeBytes} bytes)`
            : offset % minimum !== 0 ||
                (lengthBytes % minimum !== 0 && end !== this.exportSizeBytes)
              ? `is not aligned to the minimum block size ${minimum}`
              : undefined;
    if (problem) {
      throw new FerryError(
        "INVALID_ARGUMENT",
        `NBD ${what} [${offset}, +${lengthBytes}) ${problem}`,
      );
    }
  }

  #request<T>(
    command: NbdCommand,
    type: number,
    signal: AbortSignal | undefined,
    pick: (event: ReplyEvent) => T | undefined,
    send: { flags?: number; payload?: Uint8Array } = {},
  ): Promise<T> {
    const what = `NBD ${command.t} of [${command.offset}, +${command.lengthBytes})`;
    if (this.#state.t !== "ready") return Promise.reject(this.#state.error);
    if (signal?.aborted) return Promise.reject(abortReason(signal, what));
    const cookie = this.#allocateCookie();
    this.#parser.expect(cookie, command);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.#pending.delete(cookie);
        this.#parser.abandon(cookie);
        reject(abortReason(signal as AbortSignal, what));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(cookie, (outcome) => {
        signal?.removeEventListener("abort", onAbort);
        if (outcome instanceof FerryError) return reject(outcome);
        if (outcome.t === "error") return reject(outcome.error);
        const value = pick(outcome);
        if (value === undefined) {
          reject(new FerryError("INTERNAL", `${what}: reply of kind ${outcome.t}`));
        } else resolve(value);
      });
      this.#write(encodeRequest({ type, flags: send.flags ?? 0, cookie, ...command }));
      if (send.payload) this.#write(send.payload);
    });
  }

  #allocateCookie(): number {
    for (;;) {
      const cookie = this.#nextCookie;
      this.#nextCookie = cookie >= 0xffffffff ? 1 : cookie + 1;
      if (!this.#parser.tracks(cookie)) return cookie;
    }
  }

  /** Writes are corked for the rest of the tick, so a burst of requests leaves in one packet. */
  #write(bytes: Uint8Array): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(bytes);
  }

  readonly #onData = (chunk: Uint8Array): void =>
    this.#parse(() => this.#parser.push(chunk, this.#deliver));

  readonly #onFilled = (n: number): void =>
    this.#parse(() => this.#parser.pushedInPlace(n, this.#deliver));

  /** Runs a parser step on input; a protocol violation ends the connection. */
  #parse(step: () => void): void {
    if (this.#state.t === "closed") return;
    try {
      step();
    } catch (err) {
      this.#fail(toFerryError(err, "PROTOCOL_ERROR"));
    }
  }

  readonly #deliver = (event: ReplyEvent): void => {
    const settle = this.#pending.get(event.cookie);
    this.#pending.delete(event.cookie);
    settle?.(event);
    // The spec: a client receiving ESHUTDOWN must initiate a soft disconnect.
    if (event.t === "error" && event.error.details.nbdErrno === NBD_ESHUTDOWN) {
      this.#drain(event.error);
    }
  };

  #drain(error: FerryError): void {
    if (this.#state.t !== "ready") return;
    this.#state = { t: "draining", error };
    this.#socket.end(discRequest());
  }

  readonly #onError = (err: Error): void => {
    this.#fail(
      new FerryError(
        "CONNECTION_CLOSED",
        `NBD connection to ${this.#peer} failed: ${err.message}`,
        {
          cause: err,
        },
      ),
    );
  };

  readonly #onClose = (): void => {
    const state = this.#state;
    this.#fail(
      state.t === "draining"
        ? state.error
        : new FerryError("CONNECTION_CLOSED", `NBD server ${this.#peer} closed the connection`),
    );
    this.#input.setSink(undefined);
    this.#socket.off("error", this.#onError);
    this.#socket.off("close", this.#onClose);
  };

  /** Ends the connection: every pending request rejects with `error`. */
  #fail(error: FerryError): void {
    if (this.#state.t === "closed") return;
    this.#state = { t: "closed", error };
    this.#rejectAll(error);
    this.#socket.destroy();
  }

  #rejectAll(error: FerryError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const settle of pending) settle(error);
  }

  async close(): Promise<void> {
    if (this.#state.t !== "closed") {
      const wasReady = this.#state.t === "ready";
      const error = new FerryError(
        "CONNECTION_CLOSED",
        `NBD connection to ${this.#peer} was closed`,
      );
      this.#state = { t: "closed", error };
      this.#rejectAll(error);
      // A read armed into a caller's buffer would still land there: hang up at once instead.
      if (wasReady && !this.#socket.destroyed && !this.#input.armed) {
        // Soft disconnect: replies still owed to rejected requests are dropped unread.
        this.#socket.end(discRequest());
        const timer = setTimeout(() => this.#socket.destroy(), DISCONNECT_WAIT_MS);
        timer.unref();
        await this.#socketClosed;
        clearTimeout(timer);
      } else {
        this.#socket.destroy();
      }
    }
    await this.#socketClosed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
