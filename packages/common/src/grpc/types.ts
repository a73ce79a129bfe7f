import type {
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";

/** Per-call options of a client method. */
export interface CallOptions {
  /** Aborting cancels the call; the promise rejects with CANCELLED. */
  signal?: AbortSignal;
  /** Deadline relative to now, in milliseconds; on expiry DEADLINE_EXCEEDED. */
  timeoutMs?: number;
  /** Extra request metadata (ASCII keys and values). */
  metadata?: Record<string, string>;
}

/** What a handler learns about the call it serves. */
export interface HandlerContext {
  /** Aborted when the client cancels, the deadline passes or the server stops. */
  signal: AbortSignal;
  /** Request metadata, first value of each key. */
  metadata: Record<string, string>;
  /** Peer address as grpc-js reports it. */
  peer: string;
}

/** A typed client for service `S`: one async method per RPC. */
export type Client<S extends DescService> = {
  [P in keyof S["method"]]: S["method"][P] extends DescMethodUnary<infer I, infer O>
    ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
    : S["method"][P] extends DescMethodServerStreaming<infer I, infer O>
      ? (request: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
      : never;
};

/** The implementation of service `S`: throw FerryErrors to fail a call. */
export type ServiceImpl<S extends DescService> = {
  [P in keyof S["method"]]: S["method"][P] extends DescMethodUnary<infer I, infer O>
    ? (request: MessageShape<I>, ctx: HandlerContext) => Promise<MessageInitShape<O>>
    : S["method"][P] extends DescMethodServerStreaming<infer I, infer O>
      ? (request: MessageShape<I>, ctx: HandlerContext) => AsyncIterable<MessageInitShape<O>>
      : never;
};
