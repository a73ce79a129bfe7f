// Names that become path segments in a repository: VM ids, disk ids, restore point ids.
import { randomBytes } from "node:crypto";
import { FerryError } from "../errors/ferry-error.js";

// A letter or digit first: never ".", "..", a hidden staging/temp name, or a separator.
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const RESTORE_POINT_NAME = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;

/** True when `name` may be a VM id or disk id: 1–128 of [A-Za-z0-9._-], alphanumeric first. */
export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name);
}

/** Throws INVALID_ARGUMENT naming `what` unless `name` is a safe name. */
export function assertSafeName(name: string, what: string): void {
  if (typeof name !== "string" || !isSafeName(name)) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `${what} ${JSON.stringify(name)} must be 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit`,
    );
  }
}

/** True when `name` is a restore point directory name (`20261125T093526123Z-9f86d081`). */
export function isRestorePointName(name: string): boolean {
  return RESTORE_POINT_NAME.test(name);
}

/**
 * A new restore point name for time `at`: `YYYYMMDDTHHMMSSmmmZ-<8 random hex>`. Names sort by
 * time as strings; the random part keeps two backups in the same millisecond apart.
 */
export function newRestorePointName(at: Date): string {
  const compact = at.toISOString().replace(/[-:.]/g, "");
  return `${compact}-${randomBytes(4).toString("hex")}`;
}

/** A restore point id: `<vm-id>/<restore point name>`, its path below `restore-points/`. */
export interface RestorePointIdParts {
  vmId: string;
  name: string;
}

/** Joins a VM id and restore point name into a restore point id. */
export function formatRestorePointId(parts: RestorePointIdParts): string {
  return `${parts.vmId}/${parts.name}`;
}

/** True when `id` is a well-formed restore point id. */
export function isRestorePointId(id: string): boolean {
  const slash = id.indexOf("/");
  return slash > 0 && isSafeName(id.slice(0, slash)) && isRestorePointName(id.slice(slash + 1));
}

/** Splits a restore point id; INVALID_ARGUMENT when malformed. */
export function parseRestorePointId(id: string): RestorePointIdParts {
  if (typeof id !== "string" || !isRestorePointId(id)) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `restore point id ${JSON.stringify(id)} is not <vm-id>/<YYYYMMDDTHHMMSSmmmZ>-<8 hex>`,
    );
  }
  const slash = id.indexOf("/");
  return { vmId: id.slice(0, slash), name: id.slice(slash + 1) };
}
