import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Consistency, JobState, Phase, type ProgressEvent, TaskState } from "@ferry/common";
import { formatBytes } from "./table.js";

/** Readable names of wire enums for tables. */
export const JOB_STATE: Record<number, string> = {
  [JobState.QUEUED]: "queued",
  [JobState.RUNNING]: "running",
  [JobState.SUCCEEDED]: "succeeded",
  [JobState.PARTLY_FAILED]: "partly failed",
  [JobState.FAILED]: "failed",
  [JobState.CANCELLED]: "cancelled",
};
export const TASK_STATE: Record<number, string> = {
  [TaskState.QUEUED]: "queued",
  [TaskState.RUNNING]: "running",
  [TaskState.SUCCEEDED]: "succeeded",
  [TaskState.FAILED]: "failed",
  [TaskState.CANCELLED]: "cancelled",
};
export const PHASE: Record<number, string> = {
  [Phase.QUEUED]: "queued",
  [Phase.QUIESCING]: "quiescing",
  [Phase.SNAPSHOTTING]: "snapshotting",
  [Phase.READING]: "reading",
  [Phase.COMMITTING]: "committing",
  [Phase.CLEANING_UP]: "cleaning up",
  [Phase.DONE]: "done",
};
export const CONSISTENCY: Record<number, string> = {
  [Consistency.APPLICATION]: "application",
  [Consistency.CRASH]: "crash",
};

/** ISO time of a wire timestamp, "-" when unset. */
export const time = (t: Timestamp | undefined) =>
  t
    ? timestampDate(t)
        .toISOString()
        .replace(/\.\d+Z$/, "Z")
    : "-";

/** One progress line: phase, a bar, percent, rate and ETA. */
export function progressLine(
  name: string,
  state: string,
  p: ProgressEvent | undefined,
  width = 24,
): string {
  if (!p || p.bytesTotal === 0n)
    return `${name.padEnd(16)} ${p ? (PHASE[p.phase] ?? state) : state}`;
  const done = Number(p.bytesRead) / Number(p.bytesTotal);
  const filled = Math.round(Math.min(1, done) * width);
  const rate = `${formatBytes(p.rateBytesPerSec)}/s`;
  const eta = p.etaSeconds > 0n ? ` ETA ${p.etaSeconds}s` : "";
  const limited =
    p.readRateLimit > 0n ? `  limited to ${formatBytes(p.readRateLimit)}/s (I/O control)` : "";
  return `${name.padEnd(16)} ${(PHASE[p.phase] ?? state).padEnd(12)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(done * 100).toFixed(0).padStart(3)}%  ${rate}${eta}  new ${formatBytes(p.bytesNew)}, dedup ${formatBytes(p.bytesDeduplicated)}${limited}`;
}
