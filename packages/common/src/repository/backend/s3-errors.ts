// S3 errors as FerryErrors: classified by HTTP status and S3 error code (the machine-readable
// name in the response, never its message), each naming the bucket and key.
import type { ErrorCode } from "../../errors/error-codes.js";
import { FerryError } from "../../errors/ferry-error.js";

/** Which request failed, for the message and details. */
export interface S3RequestContext {
  /** "GET", "PUT", "create-only PUT", "HEAD", "DELETE", "LIST", "multipart upload". */
  readonly operation: string;
  readonly bucket: string;
  /** The full object key (or listing prefix) in the bucket. */
  readonly key: string;
}

// S3 error codes by what a caller can do about them.
const THROTTLED = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequests",
  "TooManyRequestsException",
]);
const UNAUTHENTICATED = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "RequestTimeTooSkewed",
]);
// A request the server gave up on, or data damaged in transit (Content-MD5 / SHA-256 check).
const TRANSIENT_4XX = new Set([
  "RequestTimeout",
  "BadDigest",
  "XAmzContentSHA256Mismatch",
  "IncompleteBody",
  "ConditionalRequestConflict",
]);
const NO_SPACE = new Set(["QuotaExceeded"]);
// Node socket errors of a connection that broke or could not be made; worth another try.
const CONNECTION = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ERR_STREAM_PREMATURE_CLOSE",
]);
// TLS verification failures: configuration (the CA), not worth retrying.
const TLS = /^(?:ERR_TLS_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|CERT_)/;

/** What the SDK's errors carry that matters here. */
interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
}

/** The S3 error code of `err` ("NoSuchKey", "PreconditionFailed"), if it is an S3 answer. */
export function s3ErrorCode(err: unknown): string | undefined {
  const e = err as SdkErrorShape | undefined;
  return typeof e?.$metadata?.httpStatusCode === "number" && typeof e.name === "string"
    ? e.name
    : undefined;
}

/** The HTTP status of an S3 answer `err`, if it is one. */
export function s3Status(err: unknown): number | undefined {
  const status = (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

/**
 * `err` (from the S3 client) as a FerryError: 404 NOT_FOUND, 403 PERMISSION_DENIED (bad keys:
 * UNAUTHENTICATED), throttling RESOURCE_EXHAUSTED and 5xx UNAVAILABLE (both retryable), a
 * broken connection CONNECTION_CLOSED (retryable), a request timeout DEADLINE_EXCEEDED
 * (retryable), a quota NO_SPACE, anything else INTERNAL. FerryErrors pass through.
 */
export function s3Error(err: unknown, ctx: S3RequestContext): FerryError {
  if (err instanceof FerryError) return err;
  const where = `s3://${ctx.bucket}/${ctx.key}`;
  const status = s3Status(err);
  const e = err as SdkErrorShape;
  const name = typeof e?.name === "string" ? e.name : undefined;
  const details: Record<string, unknown> = {
    bucket: ctx.bucket,
    key: ctx.key,
    operation: ctx.operation,
  };
  if (status !== undefined) {
    details.httpStatus = status;
    if (name) details.s3Code = name;
    if (typeof e.$metadata?.requestId === "string") details.requestId = e.$metadata.requestId;
    const [code, text, retryable] = classifyAnswer(status, name ?? "", ctx, where);
    return new FerryError(code, text, {
      cause: err,
      details,
      ...(retryable === undefined ? {} : { retryable }),
    });
  }
  const sysCode = typeof e?.code === "string" ? e.code : undefined;
  if (sysCode) details.errno = sysCode;
  // Checked first: the SDK names a reset connection a TimeoutError too.
  if (sysCode && CONNECTION.has(sysCode)) {
    return new FerryError(
      "CONNECTION_CLOSED",
      `${ctx.operation} ${where}: connection failed (${sysCode})`,
      { cause: err, details },
    );
  }
  if (name === "TimeoutError" || sysCode === "ETIMEDOUT") {
    return new FerryError("DEADLINE_EXCEEDED", `${ctx.operation} ${where}: the request timed out`, {
      cause: err,
      details,
      retryable: true,
    });
  }
  if (sysCode && TLS.test(sysCode)) {
    return new FerryError(
      "UNAVAILABLE",
      `${ctx.operation} ${where}: the server's TLS certificate is not trusted (${sysCode}); give the CA that signed it`,
      { cause: err, details, retryable: false },
    );
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new FerryError("INTERNAL", `${ctx.operation} ${where} failed: ${reason}`, {
    cause: err,
    details,
  });
}

function classifyAnswer(
  status: number,
  name: string,
  ctx: S3RequestContext,
  where: string,
): [ErrorCode, string, boolean?] {
  const said = `${ctx.operation} ${where}: ${name || "error"} (HTTP ${status})`;
  if (name === "NoSuchBucket") return ["NOT_FOUND", `${said}: bucket ${ctx.bucket} does not exist`];
  if (status === 404) return ["NOT_FOUND", `${said}: no such object`];
  if (UNAUTHENTICATED.has(name))
    return ["UNAUTHENTICATED", `${said}: the S3 credentials are refused`];
  if (NO_SPACE.has(name)) return ["NO_SPACE", `${said}: over the bucket's quota or size limit`];
  if (status === 403)
    return ["PERMISSION_DENIED", `${said}: access denied to bucket ${ctx.bucket}, key ${ctx.key}`];
  if (THROTTLED.has(name) || status === 429)
    return ["RESOURCE_EXHAUSTED", `${said}: the server asks to slow down`, true];
  if (status === 412) return ["FAILED_PRECONDITION", `${said}: precondition failed`];
  if (status >= 500) return ["UNAVAILABLE", `${said}: server error`, true];
  if (TRANSIENT_4XX.has(name)) return ["UNAVAILABLE", `${said}`, true];
  return ["INTERNAL", said];
}
