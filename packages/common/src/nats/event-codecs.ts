import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { FerryError } from "../errors/ferry-error.js";
import {
  type ProgressEvent,
  ProgressEventSchema,
  type TaskEvent,
  TaskEventSchema,
} from "../gen/ferry/v1/backup_pb.js";

// Events are small; anything larger is not ours.
const MAX_EVENT_BYTES = 64 * 1024;

function decode<T>(what: string, bytes: Uint8Array, parse: (b: Uint8Array) => T): T {
  if (bytes.byteLength > MAX_EVENT_BYTES) {
    throw new FerryError(
      "PROTOCOL_ERROR",
      `${what} of ${bytes.byteLength} bytes exceeds the ${MAX_EVENT_BYTES}-byte limit`,
    );
  }
  try {
    return parse(bytes);
  } catch (cause) {
    throw new FerryError("PROTOCOL_ERROR", `malformed ${what}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

function requireIds(what: string, event: { taskId: string; jobId: string }): void {
  if (!event.taskId || !event.jobId) {
    throw new FerryError("PROTOCOL_ERROR", `${what} without a task id or job id`);
  }
}

/** Encodes a progress event for NATS (protobuf binary). */
export function encodeProgress(event: MessageInitShape<typeof ProgressEventSchema>): Uint8Array {
  const message = create(ProgressEventSchema, event);
  requireIds("progress event", message);
  return toBinary(ProgressEventSchema, message);
}

/** Decodes a progress event; malformed or oversized payloads throw PROTOCOL_ERROR. */
export function decodeProgress(bytes: Uint8Array): ProgressEvent {
  const event = decode("progress event", bytes, (b) => fromBinary(ProgressEventSchema, b));
  requireIds("progress event", event);
  return event;
}

/** Encodes a task state event for NATS (protobuf binary). */
export function encodeTaskEvent(event: MessageInitShape<typeof TaskEventSchema>): Uint8Array {
  const message = create(TaskEventSchema, event);
  requireIds("task event", message);
  return toBinary(TaskEventSchema, message);
}

/** Decodes a task state event; malformed or oversized payloads throw PROTOCOL_ERROR. */
export function decodeTaskEvent(bytes: Uint8Array): TaskEvent {
  const event = decode("task event", bytes, (b) => fromBinary(TaskEventSchema, b));
  requireIds("task event", event);
  return event;
}
