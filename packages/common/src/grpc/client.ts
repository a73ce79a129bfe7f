import type { DescService } from "@bufbuild/protobuf";
import {
  type ChannelCredentials,
  credentials,
  type CallOptions as GrpcCallOptions,
  Client as GrpcClient,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { FerryError } from "../errors/ferry-error.js";
import { abortReason } from "../util/signals.js";
import { messageCodec } from "./codec.js";
import { statusToError } from "./status-map.js";
import type { CallOptions, Client } from "./types.js";

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Default insecure (TLS arrives with issue 9). */
  credentials?: ChannelCredentials;
  /** Deadline applied to calls that set none, in milliseconds. */
  defaultTimeoutMs?: number;
  /** Metadata sent with every call (a call's own keys win), e.g. an authorization token. */
  metadata?: Record<string, string>;
}

/** A typed client plus the channel it owns; disposing closes the channel. */
export type ClientHandle<S extends DescService> = Client<S> & Disposable & { close(): void };

function toMetadata(values: Record<string, string> | undefined): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(values ?? {})) metadata.set(key, value);
  return metadata;
}

function grpcOptions(options: CallOptions, fallbackMs: number | undefined): GrpcCallOptions {
  const ms = options.timeoutMs ?? fallbackMs;
  return ms === undefined ? {} : { deadline: new Date(Date.now() + ms) };
}

/**
 * Creates a client of `service` at `address` ("host:port" or "unix:/path").
 * Every method rejects with a FerryError: the server's own code when it sent
 * one, otherwise one derived from the gRPC status.
 */
export function createClient<S extends DescService>(
  service: S,
  address: string,
  options: ClientOptions = {},
): ClientHandle<S> {
  const channel = new GrpcClient(address, options.credentials ?? credentials.createInsecure());
  const client: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call: MethodCall = {
      channel,
      path: `/${service.typeName}/${method.name}`,
      serialize: messageCodec(method.input).serialize,
      deserialize: messageCodec(method.output).deserialize,
      fallbackMs: options.defaultTimeoutMs,
      metadata: options.metadata,
    };
    client[method.localName] =
      method.methodKind === "server_streaming" ? streamMethod(call) : unaryMethod(call);
  }
  const close = () => channel.close();
  return Object.assign(client as Client<S>, { close, [Symbol.dispose]: close });
}

// What both call shapes need to know about one method.
interface MethodCall {
  channel: GrpcClient;
  path: string;
  serialize: (value: object) => Buffer;
  deserialize: (bytes: Buffer) => unknown;
  fallbackMs: number | undefined;
  metadata: Record<string, string> | undefined;
}

function unaryMethod({ channel, path, serialize, deserialize, fallbackMs, metadata }: MethodCall) {
  return (request: object, options: CallOptions = {}) =>
    new Promise((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) return reject(abortReason(signal, path));
      const onAbort = () => call.cancel();
      const call = channel.makeUnaryRequest(
        path,
        serialize,
        deserialize,
        request,
        toMetadata({ ...metadata, ...options.metadata }),
        grpcOptions(options, fallbackMs),
        (err: ServiceError | null, response) => {
          signal?.removeEventListener("abort", onAbort);
          if (!err) return resolve(response);
          // Our own cancellation: report the caller's reason, not "Cancelled on client".
          if (signal?.aborted) return reject(abortReason(signal, path));
          reject(statusToError(err, path));
        },
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
}

function streamMethod({ channel, path, serialize, deserialize, fallbackMs, metadata }: MethodCall) {
  return (request: object, options: CallOptions = {}): AsyncIterable<unknown> => ({
    async *[Symbol.asyncIterator]() {
      const { signal } = options;
      if (signal?.aborted) throw abortReason(signal, path);
      const call = channel.makeServerStreamRequest(
        path,
        serialize,
        deserialize,
        request,
        toMetadata({ ...metadata, ...options.metadata }),
        grpcOptions(options, fallbackMs),
      );
      const onAbort = () => call.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const message of call) yield message;
      } catch (err) {
        if (signal?.aborted) throw abortReason(signal, path);
        if (err instanceof FerryError) throw err;
        throw statusToError(err as ServiceError, path);
      } finally {
        signal?.removeEventListener("abort", onAbort);
        // Breaking out of the loop early must not leave the stream open.
        call.cancel();
      }
    },
  });
}
