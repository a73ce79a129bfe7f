// GetJob's page tokens: opaque to clients, tied to the listing that gave them (the job and
// the state filter), so a token used with another request is refused, not misread.
import { FerryError } from "@ferry/common";
import type { TaskStateName } from "../catalog/records.js";

/** What a token says: where the next page of which listing starts. */
export interface TaskPageCursor {
  jobId: string;
  /** The state filter, or "" for every state. */
  state: TaskStateName | "";
  /** The position of the last task already listed (TaskPage.next). */
  after: number;
}

/** The token that reads the page after `cursor.after`. */
export function encodePageToken(cursor: TaskPageCursor): string {
  return Buffer.from(JSON.stringify([1, cursor.jobId, cursor.state, cursor.after])).toString(
    "base64url",
  );
}

/**
 * The position a token continues after; INVALID_ARGUMENT when it is malformed or was given
 * for another job or another state filter.
 */
export function decodePageToken(token: string, expected: Omit<TaskPageCursor, "after">): number {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    value = undefined;
  }
  if (
    !Array.isArray(value) ||
    value.length !== 4 ||
    value[0] !== 1 ||
    !Number.isSafeInteger(value[3]) ||
    value[3] < 0
  )
    throw new FerryError("INVALID_ARGUMENT", "page_token is not one GetJob gave");
  if (value[1] !== expected.jobId || value[2] !== expected.state)
    throw new FerryError(
      "INVALID_ARGUMENT",
      "page_token was given for another job or task_state: page with the same request",
    );
  return value[3];
}
