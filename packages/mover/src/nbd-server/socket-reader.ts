import type { Socket } from "node:net";
import { FerryError } from "@ferry/common";

/**
 * Reads exact byte counts from a socket, for a server that parses what a client
 * sends. At most `highWaterBytes` are buffered before the socket is paused, so a
 * client that floods writes is held back by TCP, not by the server's memory.
 */
export class SocketReader {
  readonly #socket: Socket;
  readonly #highWaterBytes: number;
  #pieces: Buffer[] = [];
  #buffered = 0;
  #ended: FerryError | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: Socket, highWaterBytes = 1024 * 1024) {
    this.#socket = socket;
    this.#highWaterBytes = highWaterBytes;
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onError);
  }

  readonly #onData = (piece: Buffer) => {
    this.#pieces.push(piece);
    this.#buffered += piece.length;
    if (this.#buffered >= this.#highWaterBytes) this.#socket.pause();
    this.#notify();
  };
  readonly #onEnd = () => {
    this.#ended ??= new FerryError("CONNECTION_CLOSED", "NBD client closed the connection");
    this.#notify();
  };
  readonly #onError = (err: Error) => {
    this.#ended ??= new FerryError(
      "CONNECTION_CLOSED",
      `NBD client connection failed: ${err.message}`,
      {
        cause: err,
      },
    );
    this.#notify();
  };

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves with exactly `n` bytes; CONNECTION_CLOSED when the client goes first. */
  async read(n: number): Promise<Uint8Array> {
    while (this.#buffered < n) {
      if (this.#ended) throw this.#ended;
      this.#socket.resume();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    const out = this.#take(n);
    if (this.#buffered < this.#highWaterBytes) this.#socket.resume();
    return out;
  }

  #take(n: number): Uint8Array {
    const first = this.#pieces[0];
    if (first && first.length >= n) {
      // Copy: the piece may be shared with the rest of what arrived.
      const out = Uint8Array.prototype.slice.call(first, 0, n);
      if (first.length === n) this.#pieces.shift();
      else this.#pieces[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const piece = this.#pieces[0] as Buffer;
      const take = Math.min(piece.length, n - filled);
      out.set(piece.subarray(0, take), filled);
      filled += take;
      if (take === piece.length) this.#pieces.shift();
      else this.#pieces[0] = piece.subarray(take);
    }
    this.#buffered -= n;
    return out;
  }

  /** Bytes received and not yet read. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Removes the listeners this reader added. */
  detach(): void {
    this.#socket.off("data", this.#onData);
    this.#socket.off("end", this.#onEnd);
    this.#socket.off("close", this.#onEnd);
    this.#socket.off("error", this.#onError);
  }
}
