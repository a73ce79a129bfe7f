import { type GrpcStatus, GRPC_STATUS as status } from "./grpc-status.js";

/**
 * Every Ferry error code, with how it crosses the RPC edge and whether a caller
 * may retry it. Codes are part of the wire contract: never rename one.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { grpc: status.INVALID_ARGUMENT, retryable: false },
  NOT_FOUND: { grpc: status.NOT_FOUND, retryable: false },
  ALREADY_EXISTS: { grpc: status.ALREADY_EXISTS, retryable: false },
  FAILED_PRECONDITION: { grpc: status.FAILED_PRECONDITION, retryable: false },
  PERMISSION_DENIED: { grpc: status.PERMISSION_DENIED, retryable: false },
  UNAUTHENTICATED: { grpc: status.UNAUTHENTICATED, retryable: false },
  RESOURCE_EXHAUSTED: { grpc: status.RESOURCE_EXHAUSTED, retryable: true },
  UNAVAILABLE: { grpc: status.UNAVAILABLE, retryable: true },
  DEADLINE_EXCEEDED: { grpc: status.DEADLINE_EXCEEDED, retryable: true },
  CANCELLED: { grpc: status.CANCELLED, retryable: false },
  UNIMPLEMENTED: { grpc: status.UNIMPLEMENTED, retryable: false },
  INTERNAL: { grpc: status.INTERNAL, retryable: false },
  /** A configuration file or value is invalid. */
  CONFIG_INVALID: { grpc: status.INVALID_ARGUMENT, retryable: false },
  /** A peer sent bytes that break its protocol (QMP, guest agent, NBD, NATS payload). */
  PROTOCOL_ERROR: { grpc: status.INTERNAL, retryable: false },
  /** QEMU answered a QMP command with an error. */
  QMP_ERROR: { grpc: status.FAILED_PRECONDITION, retryable: false },
  /** libvirt refused or failed a request (the message names the domain and libvirt's error). */
  LIBVIRT_ERROR: { grpc: status.FAILED_PRECONDITION, retryable: false },
  /**
   * The hypervisor refused an incremental from a checkpoint it had listed (deleted or broken
   * since): a full of the same VM can still be taken.
   */
  CHECKPOINT_REFUSED: { grpc: status.FAILED_PRECONDITION, retryable: true },
  /** The guest agent answered with an error or did not answer. */
  GUEST_AGENT_ERROR: { grpc: status.FAILED_PRECONDITION, retryable: true },
  /** A peer closed the connection or could not be reached. */
  CONNECTION_CLOSED: { grpc: status.UNAVAILABLE, retryable: true },
  /** A required external program is missing or failed to start. */
  TOOL_MISSING: { grpc: status.FAILED_PRECONDITION, retryable: false },
  /** A child process (QEMU, nats-server) exited unexpectedly. */
  PROCESS_FAILED: { grpc: status.INTERNAL, retryable: false },
  /** Stored data failed its checksum or format check. */
  CORRUPT_DATA: { grpc: status.DATA_LOSS, retryable: false },
  /** The target filesystem is full (ENOSPC, EDQUOT): retrying will not help. */
  NO_SPACE: { grpc: status.RESOURCE_EXHAUSTED, retryable: false },
  /** The guest could not be quiesced and the policy requires it. */
  QUIESCE_FAILED: { grpc: status.FAILED_PRECONDITION, retryable: true },
  /** The fleecing overlay grew past its configured limit. */
  OVERLAY_LIMIT: { grpc: status.RESOURCE_EXHAUSTED, retryable: true },
  /**
   * A task with this id already runs on the mover (its coordinator restarted under it): the
   * caller looks again later. Distinct from ALREADY_EXISTS, which a task can fail with.
   */
  TASK_RUNNING: { grpc: status.ALREADY_EXISTS, retryable: false },
  /**
   * This coordinator is a follower: the caller goes to the leader, whose address the error
   * carries (details.leader) when one is known.
   */
  NOT_LEADER: { grpc: status.UNAVAILABLE, retryable: true },
  /** The repository is encrypted and was opened without its passphrase, or with a wrong one. */
  KEY_REQUIRED: { grpc: status.FAILED_PRECONDITION, retryable: false },
} as const satisfies Record<string, { grpc: GrpcStatus; retryable: boolean }>;

/** A machine-readable Ferry error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `value` is one of the known codes (e.g. read from the wire). */
export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}
