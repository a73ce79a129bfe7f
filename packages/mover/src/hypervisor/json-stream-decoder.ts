import { FerryError } from "@ferry/common";

/** Options of {@link JsonStreamDecoder}. */
export interface JsonStreamDecoderOptions {
  /** Peer name for error messages, e.g. "QMP" or "guest agent". */
  peer: string;
  /** Longest accepted message in bytes; longer input fails before buffering more. */
  maxMessageBytes: number;
}

const NEWLINE = 0x0a;
/** The guest agent sends 0xFF before the reply to guest-sync-delimited. */
export const SYNC_DELIMITER = 0xff;

/** What the decoder found in the input. */
export type JsonStreamItem = { t: "message"; value: Record<string, unknown> } | { t: "delimiter" };

/**
 * Pure decoder for newline-separated JSON objects (QMP and the guest agent).
 * Never touches a socket; input may arrive in pieces of any size.
 */
export class JsonStreamDecoder {
  readonly #options: JsonStreamDecoderOptions;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(options: JsonStreamDecoderOptions) {
    this.#options = options;
  }

  /** Feeds bytes; returns every complete item, in order. Throws PROTOCOL_ERROR on bad input. */
  push(chunk: Uint8Array): JsonStreamItem[] {
    const items: JsonStreamItem[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === SYNC_DELIMITER) {
        // 0xFF is never valid inside UTF-8 JSON, so it can only be the delimiter;
        // a partial line before it is a stale reply the resync throws away.
        this.#pending = [];
        this.#pendingBytes = 0;
        items.push({ t: "delimiter" });
        start = i + 1;
      } else if (byte === NEWLINE) {
        this.#take(chunk.subarray(start, i), items);
        start = i + 1;
      }
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      this.#pendingBytes += rest.length;
      this.#checkSize();
      this.#pending.push(Buffer.from(rest));
    }
    return items;
  }

  #checkSize(): void {
    if (this.#pendingBytes > this.#options.maxMessageBytes) {
      throw new FerryError(
        "PROTOCOL_ERROR",
        `${this.#options.peer} sent a message longer than ${this.#options.maxMessageBytes} bytes`,
      );
    }
  }

  #take(tail: Uint8Array, items: JsonStreamItem[]): void {
    this.#pendingBytes += tail.length;
    this.#checkSize();
    const line = Buffer.concat([...this.#pending, tail])
      .toString("utf8")
      .trim();
    this.#pending = [];
    this.#pendingBytes = 0;
    if (line.length === 0) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw new FerryError(
        "PROTOCOL_ERROR",
        `${this.#options.peer} sent invalid JSON: ${JSON.stringify(line.slice(0, 120))}`,
        { cause },
      );
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new FerryError(
        "PROTOCOL_ERROR",
        `${this.#options.peer} sent ${JSON.stringify(line.slice(0, 120))}, not a JSON object`,
      );
    }
    items.push({ t: "message", value: value as Record<string, unknown> });
  }
}
