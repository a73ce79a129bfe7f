import type { RestorePointDiskRecord } from "./records.js";

// Shape guards for the JSON (and array) columns every store reads back: what a row must
// hold before it becomes a record. A row that fails one was written outside Ferry.

/** A list of strings. */
export const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === "string");

/** Any JSON value: for documents opaque to the store. */
export const isAnyJson = (_v: unknown): _v is unknown => true;

/** A restore point's disks as stored. */
export const isDiskList = (v: unknown): v is RestorePointDiskRecord[] =>
  Array.isArray(v) &&
  v.every(
    (d: Partial<Record<keyof RestorePointDiskRecord, unknown>> | null) =>
      typeof d === "object" &&
      d !== null &&
      typeof d.diskId === "string" &&
      typeof d.sizeBytes === "number" &&
      typeof d.bytesRead === "number" &&
      typeof d.bytesNew === "number" &&
      (d.mode === undefined || d.mode === "full" || d.mode === "incremental") &&
      (d.fullReason === undefined || typeof d.fullReason === "string"),
  );

/** A restore point's disks with only the known fields, as both stores write them. */
export function storedDisks(disks: readonly RestorePointDiskRecord[]): RestorePointDiskRecord[] {
  return disks.map(({ diskId, sizeBytes, bytesRead, bytesNew, mode, fullReason }) => ({
    diskId,
    sizeBytes,
    bytesRead,
    bytesNew,
    ...(mode ? { mode } : {}),
    ...(fullReason ? { fullReason } : {}),
  }));
}
