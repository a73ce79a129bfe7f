// Public surface of @ferry/common. Other packages import only from here, from ./core (the same
// without the wire: what a command that never talks gRPC or NATS loads) or from ./cli.

export * from "./core.js";
export * from "./gen/ferry/v1/backup_pb.js";
export * from "./gen/ferry/v1/inventory_pb.js";
export * from "./gen/ferry/v1/mover_pb.js";
export * from "./gen/ferry/v1/operator_pb.js";
export * from "./gen/ferry/v1/task_spec_pb.js";
export { type ClientHandle, type ClientOptions, createClient } from "./grpc/client.js";
export { type MessageCodec, messageCodec } from "./grpc/codec.js";
export {
  createLeaderDialer,
  followLeader,
  type LeaderDialer,
} from "./grpc/leader-dialer.js";
export { LEASE_TOKEN_HEADER, leaseTokenMetadata, leaseTokenOf } from "./grpc/lease-token.js";
export {
  type BindOptions,
  bindService,
  type GrpcServer,
  type GrpcServerOptions,
  type ServiceBinding,
  startGrpcServer,
} from "./grpc/server.js";
export { errorToStatus, statusToError } from "./grpc/status-map.js";
export type { CallOptions, Client, HandlerContext, ServiceImpl } from "./grpc/types.js";
export {
  checkMetricsExposure,
  isLoopbackHost,
  type MetricsListenerConfig,
  metricsListenerSchema,
} from "./metrics/metrics-listener-config.js";
export {
  type MetricsServer,
  type MetricsServerOptions,
  type MetricsSource,
  startMetricsServer,
} from "./metrics/metrics-server.js";
export * from "./nats/event-codecs.js";
export {
  type NatsAccess,
  natsAccessSchema,
  natsConnectOptions,
  safeUrl,
} from "./nats/nats-access.js";
export * from "./nats/subjects.js";
export {
  type ChannelCredentials,
  clientCredentials,
  readTlsPem,
  type ServerCredentials,
  type TlsCredentials,
  type TlsFiles,
  type TlsPem,
  tlsCredentials,
  tlsSchema,
} from "./tls/tls-files.js";
