import { ERROR_CODES, type ErrorCode } from "./error-codes.js";

/** Options of a {@link FerryError}. */
export interface FerryErrorOptions {
  /** Overrides the code's default retryability. */
  retryable?: boolean;
  /** The underlying error, kept for logs. */
  cause?: unknown;
  /** Structured facts for logs and clients (never secrets). */
  details?: Record<string, unknown>;
}

/**
 * The one error type of Ferry: a machine-readable code, a retryable flag and a
 * cause. Classify errors by `code`, never by message text.
 */
export class FerryError extends Error {
  override readonly name = "FerryError";
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: FerryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.details = options.details ?? {};
  }

  /** JSON form for logs and NATS events. */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** True when `err` is a FerryError, optionally with the given code. */
export function isFerryError(err: unknown, code?: ErrorCode): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code);
}

/**
 * Turns anything thrown into a FerryError. An AbortSignal's reason becomes
 * CANCELLED (or DEADLINE_EXCEEDED for a TimeoutError); other errors become
 * `fallback` with the original as cause.
 */
export function toFerryError(err: unknown, fallback: ErrorCode = "INTERNAL"): FerryError {
  if (err instanceof FerryError) return err;
  if (err instanceof Error && err.name === "TimeoutError") {
    return new FerryError("DEADLINE_EXCEEDED", err.message, { cause: err });
  }
  if (err instanceof Error && err.name === "AbortError") {
    return new FerryError("CANCELLED", err.message, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new FerryError(fallback, message, { cause: err });
}
