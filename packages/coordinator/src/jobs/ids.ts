import { randomBytes } from "node:crypto";

// Ids go into NATS subjects: letters, digits and '-' only. Time first so they sort.
const stamp = () =>
  new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, "")
    .slice(0, 14);

/** A new job id, e.g. "job-20261125101500-a1b2c3". */
export const newJobId = () => `job-${stamp()}-${randomBytes(3).toString("hex")}`;
/** A new task id. */
export const newTaskId = () => `task-${stamp()}-${randomBytes(4).toString("hex")}`;
/** A new policy id. */
export const newPolicyId = () => `pol-${randomBytes(6).toString("hex")}`;
