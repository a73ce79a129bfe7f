import { FerryError } from "../errors/ferry-error.js";

/**
 * NATS subjects Ferry publishes on. Subject layout is a wire contract:
 *   ferry.v1.progress.<jobId>.<taskId>   ProgressEvent (throttled)
 *   ferry.v1.task.<jobId>.<taskId>       TaskEvent (every state change)
 */
export const SUBJECT_ROOT = "ferry.v1";

// NATS tokens may not contain separators or wildcards.
const TOKEN = /^[A-Za-z0-9_-]+$/;

function token(kind: string, value: string): string {
  if (!TOKEN.test(value)) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `${kind} ${JSON.stringify(value)} cannot be used in a NATS subject (allowed: letters, digits, _ and -)`,
    );
  }
  return value;
}

/** Subject of a task's progress events. */
export function progressSubject(jobId: string, taskId: string): string {
  return `${SUBJECT_ROOT}.progress.${token("job id", jobId)}.${token("task id", taskId)}`;
}

/** Subject of a task's state events. */
export function taskEventSubject(jobId: string, taskId: string): string {
  return `${SUBJECT_ROOT}.task.${token("job id", jobId)}.${token("task id", taskId)}`;
}

/** Wildcard for the progress of every task of one job, or of all jobs. */
export function progressWildcard(jobId?: string): string {
  return jobId === undefined
    ? `${SUBJECT_ROOT}.progress.>`
    : `${SUBJECT_ROOT}.progress.${token("job id", jobId)}.*`;
}

/** Wildcard for the task events of one job, or of all jobs. */
export function taskEventWildcard(jobId?: string): string {
  return jobId === undefined
    ? `${SUBJECT_ROOT}.task.>`
    : `${SUBJECT_ROOT}.task.${token("job id", jobId)}.*`;
}
