import { connect, type Socket } from "node:net";
import { abortReason, FerryError, withDeadline } from "@ferry/common";
import { JsonStreamDecoder, type JsonStreamItem } from "./json-stream-decoder.js";

/** A connected socket that speaks newline-separated JSON. */
export interface JsonSocket extends AsyncDisposable {
  /** Sends one object (or raw bytes, for the guest agent's 0xFF reset). */
  send(value: Record<string, unknown> | Uint8Array): void;
  /** Called for each decoded item; must not block. */
  onItem: ((item: JsonStreamItem) => void) | undefined;
  /** Called once when the socket fails or closes; `err` names the cause. */
  onClose: ((err: FerryError) => void) | undefined;
  readonly closed: boolean;
  close(): Promise<void>;
}

/** Options of {@link connectJsonSocket}. */
export interface ConnectJsonSocketOptions {
  path: string;
  peer: string;
  maxMessageBytes: number;
  signal?: AbortSignal;
  /** Connect timeout in milliseconds. */
  timeoutMs: number;
}

/** Connects to a unix socket and decodes JSON objects from it. */
export async function connectJsonSocket(options: ConnectJsonSocketOptions): Promise<JsonSocket> {
  const { path, peer } = options;
  using deadline = withDeadline(
    options.signal,
    options.timeoutMs,
    `connecting to ${peer} at ${path}`,
  );
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ path });
    const onAbort = () => {
      s.destroy();
      reject(abortReason(deadline.signal, `connecting to ${peer}`));
    };
    deadline.signal.addEventListener("abort", onAbort, { once: true });
    s.once("connect", () => {
      deadline.signal.removeEventListener("abort", onAbort);
      resolve(s);
    });
    s.once("error", (err: NodeJS.ErrnoException) => {
      deadline.signal.removeEventListener("abort", onAbort);
      reject(
        new FerryError(
          "CONNECTION_CLOSED",
          `cannot connect to ${peer}: ${err.code ?? err.message}`,
          {
            cause: err,
          },
        ),
      );
    });
  });
  return wrap(socket, options);
}

function wrap(socket: Socket, options: ConnectJsonSocketOptions): JsonSocket {
  const decoder = new JsonStreamDecoder({
    peer: options.peer,
    maxMessageBytes: options.maxMessageBytes,
  });
  let closed = false;
  let closeError: FerryError | undefined;
  const api: JsonSocket = {
    onItem: undefined,
    onClose: undefined,
    get closed() {
      return closed;
    },
    send(value) {
      if (closed)
        throw (
          closeError ?? new FerryError("CONNECTION_CLOSED", `${options.peer} connection is closed`)
        );
      socket.write(value instanceof Uint8Array ? value : `${JSON.stringify(value)}\n`);
    },
    close: () =>
      finish(new FerryError("CONNECTION_CLOSED", `${options.peer} connection was closed`)),
    [Symbol.asyncDispose]: () => api.close(),
  };
  const finish = (err: FerryError): Promise<void> => {
    if (!closed) {
      closed = true;
      closeError = err;
      socket.removeAllListeners("data");
      socket.destroy();
      api.onClose?.(err);
    }
    return new Promise((resolve) =>
      socket.closed ? resolve() : socket.once("close", () => resolve()),
    );
  };
  socket.on("data", (chunk: Buffer) => {
    try {
      for (const item of decoder.push(chunk)) api.onItem?.(item);
    } catch (err) {
      void finish(err as FerryError);
    }
  });
  socket.on("error", (err) => {
    void finish(
      new FerryError("CONNECTION_CLOSED", `${options.peer} connection failed: ${err.message}`, {
        cause: err,
      }),
    );
  });
  socket.on("close", () => {
    void finish(new FerryError("CONNECTION_CLOSED", `${options.peer} closed the connection`));
  });
  return api;
}
