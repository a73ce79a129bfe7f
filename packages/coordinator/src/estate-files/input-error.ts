// Errors in an estate file: where (file, line, column or JSON path) and what. The CLI prints
// the message as it is, so it must say everything an operator needs to fix the file.
import { FerryError } from "@ferry/common";

/** Where in a file something is wrong; line and column are 1-based. */
export interface InputPlace {
  file: string;
  line?: number;
  /** A CSV field's position in its record, or a character's in its line (JSON syntax). */
  column?: number;
  /** The CSV column's header, e.g. "Capacity MiB". */
  columnName?: string;
  /** A JSON path, e.g. "vms[3].hostId". */
  path?: string;
}

/** "vDisk.csv line 5, column 4 (Capacity MiB)", "estate.json at vms[3].hostId". */
export function placeText(p: InputPlace): string {
  let s = p.file;
  if (p.line !== undefined) s += ` line ${p.line}`;
  if (p.column !== undefined) s += `${p.line !== undefined ? "," : ""} column ${p.column}`;
  if (p.columnName !== undefined) s += ` (${p.columnName})`;
  if (p.path !== undefined) s += ` at ${p.path || "(root)"}`;
  return s;
}

/** FerryError INVALID_ARGUMENT "<place>: <message>", with the place in its details. */
export function inputError(place: InputPlace, message: string, cause?: unknown): FerryError {
  return new FerryError("INVALID_ARGUMENT", `${placeText(place)}: ${message}`, {
    details: { ...place },
    ...(cause === undefined ? {} : { cause }),
  });
}
