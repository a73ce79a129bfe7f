// Errors crossing between threads (postMessage clones an Error without its code): a
// FerryError keeps its code, message and details; anything else becomes INTERNAL, named.
import { isErrorCode } from "./error-codes.js";
import { FerryError } from "./ferry-error.js";

/** An error as it crosses a thread boundary. */
export interface ThreadError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

/** What a thread sends for `err`. */
export function errorToThread(err: unknown): ThreadError {
  const e = err instanceof Error ? err : new Error(String(err));
  const { code, details } = e as { code?: unknown; details?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(typeof code === "string" ? { code } : {}),
    ...(details && typeof details === "object"
      ? { details: details as Record<string, unknown> }
      : {}),
  };
}

/** The error a thread sent, rebuilt: `what` names the thread for errors without a Ferry code. */
export function errorFromThread(e: ThreadError, what: string): FerryError {
  if (e.code !== undefined && isErrorCode(e.code))
    return new FerryError(e.code, e.message, e.details ? { details: e.details } : {});
  return new FerryError("INTERNAL", `${what} failed: ${e.name}: ${e.message}`);
}
