import { abortReason, FerryError, withDeadline } from "@ferry/common";
import { connectJsonSocket, type JsonSocket } from "./unix-json-socket.js";

/** An asynchronous event QEMU sent (e.g. BLOCK_JOB_COMPLETED). */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** Seconds since the epoch, with microseconds, as QEMU stamped it. */
  timestamp: number;
}

/** Per-command options. */
export interface QmpCallOptions {
  signal?: AbortSignal;
  /** Default: the session's commandTimeoutMs. */
  timeoutMs?: number;
}

/** A QMP session on one VM's monitor socket. */
export interface QmpSession extends AsyncDisposable {
  /** QEMU's version from the greeting, e.g. "7.2.x". */
  readonly version: string;
  /**
   * Runs a command and resolves with its "return" value. A QMP error rejects
   * with QMP_ERROR naming the command, class and description.
   */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options?: QmpCallOptions,
  ): Promise<T>;
  /** Subscribes to events; returns the unsubscribe function. The listener must not block. */
  onEvent(listener: (event: QmpEvent) => void): () => void;
  /** Resolves with the next event named `name` matching `filter`. */
  waitForEvent(
    name: string,
    filter?: (e: QmpEvent) => boolean,
    options?: QmpCallOptions,
  ): Promise<QmpEvent>;
  close(): Promise<void>;
}

/** Options of {@link connectQmp}. */
export interface ConnectQmpOptions {
  /** Path of the VM's QMP unix socket. */
  path: string;
  signal?: AbortSignal;
  /** Connect and greeting timeout, milliseconds; default 5000. */
  connectTimeoutMs?: number;
  /** Default timeout of each command, milliseconds; default 30000. */
  commandTimeoutMs?: number;
}

type Pending = { command: string; resolve: (v: unknown) => void; reject: (e: FerryError) => void };

// Replies to commands can carry whole block graphs; bound them anyway.
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Connects, reads the greeting and negotiates capabilities. */
export async function connectQmp(options: ConnectQmpOptions): Promise<QmpSession> {
  const peer = `QMP ${options.path}`;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const socket = await connectJsonSocket({
    path: options.path,
    peer,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    timeoutMs: connectTimeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  try {
    const greeting = await readGreeting(socket, peer, options.signal, connectTimeoutMs);
    const session = new Session(socket, peer, options.commandTimeoutMs ?? 30_000, greeting);
    await session.execute("qmp_capabilities", {}, options.signal ? { signal: options.signal } : {});
    return session;
  } catch (err) {
    await socket.close();
    throw err;
  }
}

function readGreeting(
  socket: JsonSocket,
  peer: string,
  signal: AbortSignal | undefined,
  timeoutMs: number,
) {
  return new Promise<string>((resolve, reject) => {
    const deadline = withDeadline(signal, timeoutMs, `waiting for the ${peer} greeting`);
    const done = () => {
      deadline[Symbol.dispose]();
      socket.onItem = undefined;
      socket.onClose = undefined;
    };
    deadline.signal.addEventListener("abort", () => {
      done();
      reject(abortReason(deadline.signal, `${peer} greeting`));
    });
    socket.onClose = (err) => {
      done();
      reject(err);
    };
    socket.onItem = (item) => {
      done();
      const qmp =
        item.t === "message" ? (item.value.QMP as Record<string, unknown> | undefined) : undefined;
      if (!qmp)
        return reject(
          new FerryError("PROTOCOL_ERROR", `${peer} did not start with a QMP greeting`),
        );
      const v = (qmp.version as { qemu?: { major: number; minor: number; micro: number } })?.qemu;
      resolve(v ? `${v.major}.${v.minor}.${v.micro}` : "unknown");
    };
  });
}

class Session implements QmpSession {
  readonly version: string;
  readonly #socket: JsonSocket;
  readonly #peer: string;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, Pending>();
  readonly #listeners = new Set<(e: QmpEvent) => void>();
  #nextId = 1;

  constructor(socket: JsonSocket, peer: string, timeoutMs: number, version: string) {
    this.#socket = socket;
    this.#peer = peer;
    this.#timeoutMs = timeoutMs;
    this.version = version;
    socket.onItem = (item) => {
      if (item.t === "message") this.#dispatch(item.value);
    };
    socket.onClose = (err) => {
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
      this.#listeners.clear();
    };
  }

  #dispatch(msg: Record<string, unknown>): void {
    if (typeof msg.event === "string") {
      const ts = msg.timestamp as { seconds?: number; microseconds?: number } | undefined;
      const event: QmpEvent = {
        event: msg.event,
        data: (msg.data as Record<string, unknown>) ?? {},
        timestamp: (ts?.seconds ?? 0) + (ts?.microseconds ?? 0) / 1e6,
      };
      for (const l of this.#listeners) l(event);
      return;
    }
    const id = typeof msg.id === "string" ? msg.id : undefined;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (!pending || id === undefined) {
      // A reply we did not ask for (or to a command we gave up on): ignore it.
      return;
    }
    this.#pending.delete(id);
    const error = msg.error as { class?: string; desc?: string } | undefined;
    if ("return" in msg) pending.resolve(msg.return);
    else if (error) {
      pending.reject(
        new FerryError(
          "QMP_ERROR",
          `${pending.command}: ${error.desc ?? "error"} (${error.class ?? "GenericError"})`,
          { details: { command: pending.command, errorClass: error.class } },
        ),
      );
    } else {
      pending.reject(
        new FerryError(
          "PROTOCOL_ERROR",
          `${this.#peer} sent a reply with neither return nor error`,
        ),
      );
    }
  }

  execute<T>(
    command: string,
    args?: Record<string, unknown>,
    options: QmpCallOptions = {},
  ): Promise<T> {
    const id = `ferry-${this.#nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const deadline = withDeadline(
        options.signal,
        options.timeoutMs ?? this.#timeoutMs,
        `QMP ${command}`,
      );
      const cleanup = () => {
        this.#pending.delete(id);
        deadline[Symbol.dispose]();
        deadline.signal.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        cleanup();
        reject(abortReason(deadline.signal, `QMP ${command}`));
      };
      if (deadline.signal.aborted) return onAbort();
      deadline.signal.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        command,
        resolve: (v) => {
          cleanup();
          resolve(v as T);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      try {
        this.#socket.send(
          args ? { execute: command, arguments: args, id } : { execute: command, id },
        );
      } catch (err) {
        cleanup();
        reject(err);
      }
    });
  }

  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  waitForEvent(
    name: string,
    filter?: (e: QmpEvent) => boolean,
    options: QmpCallOptions = {},
  ): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const deadline = withDeadline(
        options.signal,
        options.timeoutMs ?? this.#timeoutMs,
        `waiting for QMP event ${name}`,
      );
      const stop = () => {
        off();
        deadline[Symbol.dispose]();
      };
      const off = this.onEvent((e) => {
        if (e.event === name && (!filter || filter(e))) {
          stop();
          resolve(e);
        }
      });
      deadline.signal.addEventListener(
        "abort",
        () => {
          stop();
          reject(abortReason(deadline.signal, `waiting for QMP event ${name}`));
        },
        { once: true },
      );
    });
  }

  close(): Promise<void> {
    return this.#socket.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
