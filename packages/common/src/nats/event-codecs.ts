import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FerryError } from "../errors/ferry-error.js";
import {
  type ProgressEvent,
  ProgressEventSchema,
  type TaskEvent,
  TaskEventSchema,
} from "../gen/ferry/v1/backup_pb.js";
import { decodeProgressEvent } from "./progress-decoder.js";

// Events are small; anything larger is not ours.
const MAX_EVENT_BYTES = 64 * 1024;

/** Encoder and decoder of one NATS event type. */
export interface EventCodec<M extends DescMessage> {
  /** Encodes as protobuf binary; an event without job and task ids throws PROTOCOL_ERROR. */
  encode(event: MessageInitShape<M>): Uint8Array;
  /** Decodes; malformed, oversized or id-less payloads throw PROTOCOL_ERROR. */
  decode(bytes: Uint8Array): MessageShape<M>;
}

function eventCodec<M extends DescMessage>(
  schema: M,
  what: string,
  decodeBinary: (bytes: Uint8Array) => MessageShape<M> = (bytes) => fromBinary(schema, bytes),
): EventCodec<M> {
  const requireIds = (event: MessageShape<M>) => {
    const { taskId, jobId } = event as unknown as { taskId: string; jobId: string };
    if (!taskId || !jobId)
      throw new FerryError("PROTOCOL_ERROR", `${what} without a task id or job id`);
    return event;
  };
  return {
    encode: (event) => toBinary(schema, requireIds(create(schema, event))),
    decode(bytes) {
      if (bytes.byteLength > MAX_EVENT_BYTES) {
        throw new FerryError(
          "PROTOCOL_ERROR",
          `${what} of ${bytes.byteLength} bytes exceeds the ${MAX_EVENT_BYTES}-byte limit`,
        );
      }
      let event: MessageShape<M>;
      try {
        event = decodeBinary(bytes);
      } catch (cause) {
        throw new FerryError("PROTOCOL_ERROR", `malformed ${what}: ${(cause as Error).message}`, {
          cause,
        });
      }
      return requireIds(event);
    },
  };
}

/** Progress events (throttled, per task). */
export const progressCodec: EventCodec<typeof ProgressEventSchema> = eventCodec(
  ProgressEventSchema,
  "progress event",
  // The coordinator decodes one per running task a second: written out, not reflective.
  decodeProgressEvent,
);
/** Task state events (every change). */
export const taskEventCodec: EventCodec<typeof TaskEventSchema> = eventCodec(
  TaskEventSchema,
  "task event",
);

/** Encodes a progress event for NATS. */
export const encodeProgress = progressCodec.encode;
/** Decodes a progress event from NATS. */
export const decodeProgress: (bytes: Uint8Array) => ProgressEvent = progressCodec.decode;
/** Encodes a task state event for NATS. */
export const encodeTaskEvent = taskEventCodec.encode;
/** Decodes a task state event from NATS. */
export const decodeTaskEvent: (bytes: Uint8Array) => TaskEvent = taskEventCodec.decode;
