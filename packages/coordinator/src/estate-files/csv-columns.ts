// Finding an export's columns by name (and unit), and reading typed cells with errors that
// name the file, line and column. Pure.
import type { CsvRecord, CsvTable } from "./csv.js";
import { inputError } from "./input-error.js";

/** A column found in a table's header: its 0-based index and its header text. */
export interface Column {
  index: number;
  name: string;
  /** Bytes per unit for a size column ("Capacity MiB": 2^20), else 1. */
  unitBytes: number;
}

/**
 * Size units in column names. RVTools wrote "MB" before version 4.1 and "MiB" since for the
 * same binary figures, so MB and GB are read as MiB and GiB.
 */
export const SIZE_UNITS: Record<string, number> = {
  MiB: 2 ** 20,
  MB: 2 ** 20,
  GiB: 2 ** 30,
  GB: 2 ** 30,
  TiB: 2 ** 40,
  TB: 2 ** 40,
};

const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, " ");

/** The first column named one of `names` (case and spacing ignored), or undefined. */
export function findColumn(t: CsvTable, names: readonly string[]): Column | undefined {
  for (const name of names) {
    const index = t.header.fields.findIndex((h) => norm(h) === norm(name));
    if (index >= 0) return { index, name: t.header.fields[index] as string, unitBytes: 1 };
  }
  return undefined;
}

/** A size column "<base> <unit>" in any unit of {@link SIZE_UNITS}, or undefined. */
export function findSizeColumn(t: CsvTable, bases: readonly string[]): Column | undefined {
  for (const base of bases)
    for (const [unit, bytes] of Object.entries(SIZE_UNITS)) {
      const c = findColumn(t, [`${base} ${unit}`]);
      if (c) return { ...c, unitBytes: bytes };
    }
  return undefined;
}

/** What a reader expects a column to be called, for the error when none is there. */
export function missingColumn(t: CsvTable, wanted: string): Error {
  const shown = t.header.fields.slice(0, 12).join(", ");
  return inputError(
    { file: t.file, line: t.header.lines[0] as number },
    `the header has no ${wanted} column (it has: ${shown}${t.header.fields.length > 12 ? ", ..." : ""})`,
  );
}

/** Like findColumn, but a missing column is an error naming the file and the header line. */
export function requireColumn(t: CsvTable, names: readonly string[]): Column {
  const c = findColumn(t, names);
  if (c) return c;
  throw missingColumn(t, names.map((n) => `"${n}"`).join(" or "));
}

/** Like findSizeColumn, but a missing column is an error. */
export function requireSizeColumn(t: CsvTable, bases: readonly string[]): Column {
  const c = findSizeColumn(t, bases);
  if (c) return c;
  throw missingColumn(t, bases.map((b) => `"${b} MiB" (or MB, GiB, GB)`).join(" or "));
}

/** A cell's place, for errors. */
export function cellPlace(t: CsvTable, r: CsvRecord, c: Column) {
  return {
    file: t.file,
    line: r.lines[c.index] as number,
    column: c.index + 1,
    columnName: c.name,
  };
}

/** A cell's text, trimmed; a required one must not be empty. */
export function text(t: CsvTable, r: CsvRecord, c: Column, required = true): string {
  const v = (r.fields[c.index] ?? "").trim();
  if (required && v === "") throw inputError(cellPlace(t, r, c), "is empty");
  return v;
}

/**
 * A size cell in bytes: a plain non-negative number ("40960", "12.5") times the column's
 * unit. Empty: undefined (not required) or an error. Thousands separators and units in the
 * cell are errors: their meaning depends on the locale that wrote them.
 */
export function size(t: CsvTable, r: CsvRecord, c: Column, required = true): number | undefined {
  const v = text(t, r, c, required);
  if (v === "") return undefined;
  if (!/^\d+(\.\d+)?$/.test(v))
    throw inputError(
      cellPlace(t, r, c),
      `${JSON.stringify(v)} is not a number (expected digits and at most one decimal point, in the column's unit)`,
    );
  return Math.round(Number(v) * c.unitBytes);
}
