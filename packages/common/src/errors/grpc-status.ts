// gRPC status codes as numbers (the gRPC spec's doc/statuscodes.md): the same values as
// @grpc/grpc-js's `status`, without loading grpc-js, so that errors (and a CLI's --help)
// stay cheap to import. grpc-status.test.ts checks they agree.

/** gRPC status codes. Wire values: never change one. */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** One of the gRPC status codes. */
export type GrpcStatus = (typeof GRPC_STATUS)[keyof typeof GRPC_STATUS];
