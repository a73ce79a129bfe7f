import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { ERROR_CODES, type ErrorCode, isErrorCode } from "../errors/error-codes.js";
import { FerryError, toFerryError } from "../errors/ferry-error.js";

// Trailer keys that carry the Ferry code across the wire, so the client gets
// back the exact code rather than the coarser gRPC status.
const CODE_KEY = "ferry-error-code";
const RETRYABLE_KEY = "ferry-error-retryable";
// A follower coordinator's answer names the leader's address, for clients to go there.
const LEADER_KEY = "ferry-leader";

const STATUS_TO_CODE: Partial<Record<status, ErrorCode>> = {
  [status.INVALID_ARGUMENT]: "INVALID_ARGUMENT",
  [status.NOT_FOUND]: "NOT_FOUND",
  [status.ALREADY_EXISTS]: "ALREADY_EXISTS",
  [status.FAILED_PRECONDITION]: "FAILED_PRECONDITION",
  [status.PERMISSION_DENIED]: "PERMISSION_DENIED",
  [status.UNAUTHENTICATED]: "UNAUTHENTICATED",
  [status.RESOURCE_EXHAUSTED]: "RESOURCE_EXHAUSTED",
  [status.UNAVAILABLE]: "UNAVAILABLE",
  [status.DEADLINE_EXCEEDED]: "DEADLINE_EXCEEDED",
  [status.CANCELLED]: "CANCELLED",
  [status.UNIMPLEMENTED]: "UNIMPLEMENTED",
};

/** The gRPC status object a server sends for `err`. */
export function errorToStatus(err: unknown): Partial<ServiceError> & { code: status } {
  const fe = toFerryError(err);
  const metadata = new Metadata();
  metadata.set(CODE_KEY, fe.code);
  metadata.set(RETRYABLE_KEY, String(fe.retryable));
  if (typeof fe.details.leader === "string") metadata.set(LEADER_KEY, fe.details.leader);
  return { code: ERROR_CODES[fe.code].grpc as status, details: fe.message, metadata };
}

/** The FerryError a client raises for a failed call to `method`. */
export function statusToError(err: ServiceError, method: string): FerryError {
  const wireCode = String(err.metadata?.get(CODE_KEY)[0] ?? "");
  const code: ErrorCode = isErrorCode(wireCode)
    ? wireCode
    : (STATUS_TO_CODE[err.code as status] ?? "INTERNAL");
  const retryableWire = err.metadata?.get(RETRYABLE_KEY)[0];
  const leader = err.metadata?.get(LEADER_KEY)[0];
  const options = {
    cause: err,
    details: { method, grpcStatus: err.code, ...(leader ? { leader: String(leader) } : {}) },
    ...(retryableWire === undefined ? {} : { retryable: String(retryableWire) === "true" }),
  };
  return new FerryError(code, err.details || err.message, options);
}
