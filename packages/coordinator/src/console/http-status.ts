import type { ErrorCode } from "@ferry/common";

// The HTTP status a console API answer carries for a Ferry error code.
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  CONFIG_INVALID: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  NOT_LEADER: 503,
  DEADLINE_EXCEEDED: 504,
};

/** HTTP status of a Ferry error code: 500 for codes a client cannot act on. */
export const httpStatusOf = (code: ErrorCode): number => STATUS[code] ?? 500;
