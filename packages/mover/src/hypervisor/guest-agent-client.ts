import { randomInt } from "node:crypto";
import { abortReason, FerryError, withDeadline } from "@ferry/common";
import type { JsonStreamItem } from "./json-stream-decoder.js";
import { connectJsonSocket, type JsonSocket } from "./unix-json-socket.js";

/** Per-command options. */
export interface GuestAgentCallOptions {
  signal?: AbortSignal;
  /** Default: the client's commandTimeoutMs. */
  timeoutMs?: number;
}

/** Filesystem freeze state as the agent reports it. */
export type FreezeStatus = "thawed" | "frozen";

/** A connection to one VM's QEMU guest agent. Commands run one at a time. */
export interface GuestAgent extends AsyncDisposable {
  /** Runs an agent command and resolves with its "return" value. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options?: GuestAgentCallOptions,
  ): Promise<T>;
  /** Resolves when the agent answers guest-ping. */
  ping(options?: GuestAgentCallOptions): Promise<void>;
  /** Freezes the guest's filesystems; resolves with how many were frozen. */
  freeze(options?: GuestAgentCallOptions): Promise<number>;
  /** Thaws them; resolves with how many were thawed. */
  thaw(options?: GuestAgentCallOptions): Promise<number>;
  freezeStatus(options?: GuestAgentCallOptions): Promise<FreezeStatus>;
  close(): Promise<void>;
}

/** Options of {@link connectGuestAgent}. */
export interface ConnectGuestAgentOptions {
  /** Host-side unix socket of the guest agent's virtio-serial port. */
  path: string;
  signal?: AbortSignal;
  /** Connect timeout, milliseconds; default 5000. */
  connectTimeoutMs?: number;
  /** Default timeout of each command, milliseconds; default 10000. */
  commandTimeoutMs?: number;
}

const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Connects to the guest agent socket. The agent itself is only probed by the
 * first command: a VM whose guest runs no agent connects fine, then times out.
 */
export async function connectGuestAgent(options: ConnectGuestAgentOptions): Promise<GuestAgent> {
  const socket = await connectJsonSocket({
    path: options.path,
    peer: `guest agent ${options.path}`,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    timeoutMs: options.connectTimeoutMs ?? 5000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return new Agent(socket, options.commandTimeoutMs ?? 10_000);
}

class Agent implements GuestAgent {
  readonly #socket: JsonSocket;
  readonly #timeoutMs: number;
  // Commands are serialized: the agent answers in order with no ids.
  #queue: Promise<unknown> = Promise.resolve();
  // A timed-out command may still be answered later; resync before trusting replies.
  #needsSync = true;
  // One socket read can carry several items (0xFF and the reply): queue them.
  readonly #inbox: JsonStreamItem[] = [];
  #closeError: FerryError | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: JsonSocket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.onItem = (item) => {
      this.#inbox.push(item);
      this.#wake?.();
    };
    socket.onClose = (err) => {
      this.#closeError = err;
      this.#wake?.();
    };
  }

  execute<T>(
    command: string,
    args?: Record<string, unknown>,
    options: GuestAgentCallOptions = {},
  ): Promise<T> {
    const run = async () => {
      using deadline = withDeadline(
        options.signal,
        options.timeoutMs ?? this.#timeoutMs,
        `guest agent ${command}`,
      );
      try {
        if (this.#needsSync) await this.#sync(deadline.signal);
        const reply = await this.#request(
          { execute: command, ...(args ? { arguments: args } : {}) },
          deadline.signal,
        );
        return this.#result(command, reply) as T;
      } catch (err) {
        if (
          !(err instanceof FerryError) ||
          err.code === "DEADLINE_EXCEEDED" ||
          err.code === "CANCELLED"
        ) {
          this.#needsSync = true;
        }
        throw err;
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  // guest-sync-delimited: the agent flushes its input on 0xFF and answers after a 0xFF marker.
  async #sync(signal: AbortSignal): Promise<void> {
    const id = randomInt(1, 2 ** 31);
    this.#socket.send(Uint8Array.of(0xff));
    this.#socket.send({ execute: "guest-sync-delimited", arguments: { id } });
    for (;;) {
      const item = await this.#next(signal, "guest-sync-delimited");
      if (item.t !== "delimiter") continue; // stale replies before the marker
      const reply = await this.#next(signal, "guest-sync-delimited");
      if (reply.t === "message" && reply.value.return === id) break;
    }
    this.#needsSync = false;
  }

  async #request(
    message: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    this.#socket.send(message);
    for (;;) {
      const item = await this.#next(signal, String(message.execute));
      if (item.t === "message") return item.value;
    }
  }

  async #next(signal: AbortSignal, what: string): Promise<JsonStreamItem> {
    for (;;) {
      const item = this.#inbox.shift();
      if (item) return item;
      if (signal.aborted) throw abortReason(signal, `guest agent ${what}`);
      if (this.#closeError) throw this.#closeError;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#wake = undefined;
          signal.removeEventListener("abort", done);
          resolve();
        };
        this.#wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  #result(command: string, reply: Record<string, unknown>): unknown {
    if ("return" in reply) return reply.return;
    const error = reply.error as { class?: string; desc?: string } | undefined;
    if (error) {
      throw new FerryError(
        "GUEST_AGENT_ERROR",
        `guest agent ${command}: ${error.desc ?? "error"} (${error.class ?? "GenericError"})`,
        {
          details: { command, errorClass: error.class },
        },
      );
    }
    throw new FerryError(
      "PROTOCOL_ERROR",
      `guest agent sent a reply to ${command} with neither return nor error`,
    );
  }

  async ping(options?: GuestAgentCallOptions): Promise<void> {
    await this.execute("guest-ping", undefined, options);
  }

  async freeze(options?: GuestAgentCallOptions): Promise<number> {
    return Number(await this.execute("guest-fsfreeze-freeze", undefined, options));
  }

  async thaw(options?: GuestAgentCallOptions): Promise<number> {
    return Number(await this.execute("guest-fsfreeze-thaw", undefined, options));
  }

  async freezeStatus(options?: GuestAgentCallOptions): Promise<FreezeStatus> {
    const status = await this.execute<string>("guest-fsfreeze-status", undefined, options);
    if (status !== "thawed" && status !== "frozen") {
      throw new FerryError(
        "PROTOCOL_ERROR",
        `guest agent reported an unknown freeze status ${JSON.stringify(status)}`,
      );
    }
    return status;
  }

  close(): Promise<void> {
    return this.#socket.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
