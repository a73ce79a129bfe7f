import { type ErrorCode, FerryError, type FerryErrorOptions } from "@ferry/common/core";
import {
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOMEM,
  NBD_ENOSPC,
  NBD_ENOTSUP,
  NBD_EOVERFLOW,
  NBD_EPERM,
  NBD_ESHUTDOWN,
} from "./constants.js";

interface ErrnoInfo {
  name: string;
  text: string;
  code: ErrorCode;
  retryable: boolean;
}

// How each NBD error number crosses into Ferry. EIO may be a transient media or
// network-storage hiccup and ESHUTDOWN a server restart: both are worth a retry.
// ENOSPC is permanent (as for local writes); EINVAL means Ferry sent a bad request.
const ERRNOS: Readonly<Record<number, ErrnoInfo>> = {
  [NBD_EPERM]: {
    name: "EPERM",
    text: "operation not permitted",
    code: "PERMISSION_DENIED",
    retryable: false,
  },
  [NBD_EIO]: { name: "EIO", text: "input/output error", code: "UNAVAILABLE", retryable: true },
  [NBD_ENOMEM]: {
    name: "ENOMEM",
    text: "cannot allocate memory",
    code: "RESOURCE_EXHAUSTED",
    retryable: true,
  },
  [NBD_EINVAL]: {
    name: "EINVAL",
    text: "invalid argument",
    code: "INVALID_ARGUMENT",
    retryable: false,
  },
  [NBD_ENOSPC]: {
    name: "ENOSPC",
    text: "no space left on device",
    code: "NO_SPACE",
    retryable: false,
  },
  [NBD_EOVERFLOW]: {
    name: "EOVERFLOW",
    text: "value too large",
    code: "INVALID_ARGUMENT",
    retryable: false,
  },
  [NBD_ENOTSUP]: {
    name: "ENOTSUP",
    text: "operation not supported",
    code: "UNIMPLEMENTED",
    retryable: false,
  },
  [NBD_ESHUTDOWN]: {
    name: "ESHUTDOWN",
    text: "server is shutting down",
    code: "UNAVAILABLE",
    retryable: true,
  },
};

/** The readable name of an NBD error number, e.g. "EIO"; unknown ones read "errno 42". */
export function nbdErrnoName(errno: number): string {
  return ERRNOS[errno]?.name ?? `errno ${errno}`;
}

/**
 * The FerryError for an error number the server replied with. `what` names the
 * request ("read at offset 4096 of 65536 bytes"); `serverMessage` is the
 * server's optional human-readable text. Unknown numbers count as EINVAL, as
 * the spec asks. `details.nbdError` holds the name for programs.
 */
export function nbdServerError(
  errno: number,
  what: string,
  serverMessage = "",
  offset?: number,
): FerryError {
  const info = ERRNOS[errno] ?? { ...(ERRNOS[NBD_EINVAL] as ErrnoInfo), name: `errno ${errno}` };
  const at = offset === undefined ? "" : ` at offset ${offset}`;
  const said = serverMessage ? `: ${serverMessage}` : "";
  return new FerryError(info.code, `NBD ${what} failed${at}: ${info.name} (${info.text})${said}`, {
    retryable: info.retryable,
    details: {
      nbdError: info.name,
      nbdErrno: errno,
      ...(offset === undefined ? {} : { offset }),
    },
  });
}

/** A PROTOCOL_ERROR: the server broke the NBD protocol; the connection is unusable. */
export function nbdProtocolError(message: string, options?: FerryErrorOptions): FerryError {
  return new FerryError("PROTOCOL_ERROR", `NBD protocol error: ${message}`, options);
}
