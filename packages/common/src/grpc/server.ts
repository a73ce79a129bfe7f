import { setMaxListeners } from "node:events";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  ServerCredentials as Creds,
  type Metadata,
  Server,
  type ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { FerryError } from "../errors/ferry-error.js";
import { checkPeerRole, type PeerRole } from "../tls/peer-role.js";
import { messageCodec } from "./codec.js";
import { errorToStatus } from "./status-map.js";
import type { HandlerContext, ServiceImpl } from "./types.js";

/** A service to serve: its descriptor, its implementation and who may call it. */
export interface ServiceBinding<S extends DescService = DescService> {
  service: S;
  impl: ServiceImpl<S>;
  /** See {@link BindOptions.peerRoles}. */
  peerRoles?: readonly PeerRole[];
}

/** Options of {@link bindService}. */
export interface BindOptions {
  /**
   * Certificate roles admitted to every method, checked before any handler runs; others get
   * PERMISSION_DENIED. Enforced only when the server has TLS credentials: a plaintext server
   * has no certificates to check. Default: any certificate the CA signed.
   */
  peerRoles?: readonly PeerRole[];
}

/** Binds `impl` to `service` with full type checking of the implementation. */
export function bindService<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  options: BindOptions = {},
): ServiceBinding {
  return {
    service,
    impl,
    ...(options.peerRoles ? { peerRoles: options.peerRoles } : {}),
  } as unknown as ServiceBinding;
}

/** Options of {@link startGrpcServer}. */
export interface GrpcServerOptions {
  /** "host:port"; port 0 picks a free one. Default "127.0.0.1:0". */
  address?: string;
  services: ServiceBinding[];
  /**
   * TLS server credentials (tls-files.ts); then each binding's `peerRoles` are enforced.
   * Absent: plaintext, and no certificates to check.
   */
  tls?: ServerCredentials;
}

/** A running gRPC server; disposing it stops it (idempotent). */
export interface GrpcServer extends AsyncDisposable {
  /** The bound port. */
  readonly port: number;
  /** "127.0.0.1:port" style address clients can dial. */
  readonly address: string;
  /** Graceful stop; calls still running after `graceMs` are cancelled. */
  close(graceMs?: number): Promise<void>;
}

function firstValues(metadata: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of Object.entries(metadata.getMap())) {
    out[key] = String(values);
  }
  return out;
}

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

// The signal a handler sees: aborted on client cancel, deadline or server stop.
function callSignal(
  call: AnyCall,
  stopping: AbortSignal,
): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  // grpc-js gives a Date or epoch milliseconds (Infinity when none).
  const raw = call.getDeadline();
  const deadlineAt = raw instanceof Date ? raw.getTime() : Number(raw);
  const expire = () =>
    controller.abort(new FerryError("DEADLINE_EXCEEDED", "the call's deadline passed"));
  // grpc-js reports an expired deadline as a cancellation too; tell them apart. The server
  // dates the deadline from when it read the call, later than the client did (by a busy
  // event loop's delay), so the client's expiry arrives early: allow a quarter of the call.
  const slackMs = Math.min(1000, Math.max(5, (deadlineAt - Date.now()) / 4));
  const onCancel = () =>
    Date.now() >= deadlineAt - slackMs
      ? expire()
      : controller.abort(new FerryError("CANCELLED", "the client cancelled the call"));
  const onStop = () => controller.abort(new FerryError("UNAVAILABLE", "the server is stopping"));
  call.on("cancelled", onCancel);
  stopping.addEventListener("abort", onStop, { once: true });
  const ms = deadlineAt - Date.now();
  const timer = Number.isFinite(ms) && ms > 0 ? setTimeout(expire, ms) : undefined;
  return {
    signal: controller.signal,
    done() {
      if (timer) clearTimeout(timer);
      call.removeListener("cancelled", onCancel);
      stopping.removeEventListener("abort", onStop);
    },
  };
}

function methodDefinition(service: DescService, method: DescMethod) {
  const input = messageCodec(method.input);
  const output = messageCodec(method.output);
  return {
    path: `/${service.typeName}/${method.name}`,
    originalName: method.localName,
    requestStream: false,
    responseStream: method.methodKind === "server_streaming",
    requestSerialize: input.serialize,
    requestDeserialize: input.deserialize,
    responseSerialize: output.serialize,
    responseDeserialize: output.deserialize,
  };
}

type AnyHandler = (request: unknown, ctx: HandlerContext) => unknown;

// Throws PERMISSION_DENIED for a caller the service does not admit; undefined admits everyone.
type Admit = ((call: AnyCall) => void) | undefined;

// One check for every method of a service, so no handler can forget it.
function admission(
  service: DescService,
  peerRoles: readonly PeerRole[] | undefined,
  secure: boolean,
): Admit {
  if (!secure || !peerRoles) return undefined;
  return (call) =>
    checkPeerRole(call.getAuthContext().sslPeerCertificate, peerRoles, service.typeName);
}

function unaryHandler(handler: AnyHandler, admit: Admit, stopping: AbortSignal) {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const { signal, done } = callSignal(call, stopping);
    const ctx: HandlerContext = {
      signal,
      metadata: firstValues(call.metadata),
      peer: call.getPeer(),
    };
    Promise.resolve()
      .then(() => {
        admit?.(call);
        return handler(call.request, ctx);
      })
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback(errorToStatus(err)),
      )
      .finally(done);
  };
}

/** Resolves on the stream's next "drain", or when `signal` aborts. */
function drained(call: ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.removeListener("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
    if (signal.aborted) done();
  });
}

function streamHandler(handler: AnyHandler, admit: Admit, stopping: AbortSignal) {
  return (call: ServerWritableStream<unknown, unknown>) => {
    const { signal, done } = callSignal(call, stopping);
    const ctx: HandlerContext = {
      signal,
      metadata: firstValues(call.metadata),
      peer: call.getPeer(),
    };
    const run = async () => {
      admit?.(call);
      const iterable = handler(call.request, ctx) as AsyncIterable<unknown>;
      for await (const message of iterable) {
        if (signal.aborted) break;
        // Respect backpressure: wait for drain before the next message, or for the call to
        // end (a client that left while output was backed up never drains).
        if (!call.write(message)) await drained(call, signal);
      }
    };
    run().then(
      () => {
        if (!signal.aborted) call.end();
        done();
      },
      (err: unknown) => {
        call.emit("error", errorToStatus(err));
        done();
      },
    );
  };
}

/** Starts a gRPC server for `services` and resolves once it is bound. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const server = new Server();
  const stopping = new AbortController();
  // Every call in flight listens for the stop until it ends: hundreds at once are normal
  // for a coordinator of many movers, not a leak (Node warns past 10 by default).
  setMaxListeners(0, stopping.signal);
  // Only with TLS is there a peer certificate to check.
  const secure = options.tls !== undefined;
  for (const { service, impl, peerRoles } of options.services) {
    const admit = admission(service, peerRoles, secure);
    const definition: Record<string, ReturnType<typeof methodDefinition>> = {};
    const handlers: UntypedServiceImplementation = {};
    for (const method of service.methods) {
      const handler = (impl as Record<string, AnyHandler>)[method.localName];
      if (typeof handler !== "function") {
        throw new FerryError(
          "INVALID_ARGUMENT",
          `${service.typeName} has no implementation of ${method.name}`,
        );
      }
      definition[method.localName] = methodDefinition(service, method);
      handlers[method.localName] =
        method.methodKind === "server_streaming"
          ? streamHandler(handler, admit, stopping.signal)
          : unaryHandler(handler, admit, stopping.signal);
    }
    server.addService(definition as ServiceDefinition, handlers);
  }
  const address = options.address ?? "127.0.0.1:0";
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, options.tls ?? Creds.createInsecure(), (err, bound) =>
      err
        ? reject(
            new FerryError("UNAVAILABLE", `cannot listen on ${address}: ${err.message}`, {
              cause: err,
            }),
          )
        : resolve(bound),
    );
  });
  const host = address.slice(0, address.lastIndexOf(":"));
  let closed: Promise<void> | undefined;
  const close = (graceMs = 2000) => {
    closed ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        stopping.abort();
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return closed;
  };
  return {
    port,
    address: `${host}:${port}`,
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}
