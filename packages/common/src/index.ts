// Public surface of @ferry/common. Other packages import only from here.

export { type ParsedArgs, parseArgs } from "./cli/args.js";
export * from "./config/load-config.js";
export * as schema from "./config/schema.js";
export { ERROR_CODES, type ErrorCode, isErrorCode } from "./errors/error-codes.js";
export {
  FerryError,
  type FerryErrorOptions,
  isFerryError,
  toFerryError,
} from "./errors/ferry-error.js";
export * from "./gen/ferry/v1/backup_pb.js";
export * from "./gen/ferry/v1/inventory_pb.js";
export * from "./gen/ferry/v1/mover_pb.js";
export * from "./gen/ferry/v1/operator_pb.js";
export { type ClientHandle, type ClientOptions, createClient } from "./grpc/client.js";
export { type MessageCodec, messageCodec } from "./grpc/codec.js";
export {
  bindService,
  type GrpcServer,
  type GrpcServerOptions,
  type ServiceBinding,
  startGrpcServer,
} from "./grpc/server.js";
export { errorToStatus, statusToError } from "./grpc/status-map.js";
export type { CallOptions, Client, HandlerContext, ServiceImpl } from "./grpc/types.js";
export {
  createLogger,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
} from "./logging/logger.js";
export * from "./nats/event-codecs.js";
export * from "./nats/subjects.js";
export {
  abortReason,
  type DeadlineSignal,
  sleep,
  throwIfAborted,
  withDeadline,
} from "./util/signals.js";
