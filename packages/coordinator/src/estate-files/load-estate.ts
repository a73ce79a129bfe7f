// Reads an estate from disk: Ferry's estate JSON, or an RVTools export (a directory holding
// its vInfo, vDisk, vHost and vDatastore CSVs, or those four files, comma-separated).
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { FerryError } from "@ferry/common";
import { parseCsv } from "./csv.js";
import type { Estate } from "./estate.js";
import { parseEstateJson } from "./estate-json.js";
import { RVTOOLS_SHEETS, type RvtoolsSheets, readRvtools } from "./rvtools.js";

/** Options of {@link loadEstate}. */
export interface LoadEstateOptions {
  /** A datastore no VM uses is a note, not an error. */
  allowUnusedDatastores?: boolean;
}

async function read(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (cause) {
    throw new FerryError("INVALID_ARGUMENT", `cannot read ${file}: ${(cause as Error).message}`, {
      cause,
      details: { file },
    });
  }
}

// "RVTools_tabvInfo.csv", "vInfo.csv", "export-vinfo.csv": the sheet its name ends with.
function sheetOf(file: string): (typeof RVTOOLS_SHEETS)[number] | undefined {
  const name = basename(file).toLowerCase();
  return RVTOOLS_SHEETS.find((s) => name.endsWith(`${s.toLowerCase()}.csv`));
}

/**
 * Loads `where`: a .json file, a directory, or CSV files separated by commas. Errors are
 * FerryError INVALID_ARGUMENT naming the file (and line, column or JSON path).
 */
export async function loadEstate(where: string, o: LoadEstateOptions = {}): Promise<Estate> {
  const parts = where.split(",").filter(Boolean);
  let files = parts;
  if (parts.length === 1) {
    const path = parts[0] as string;
    const st = await stat(path).catch((cause: unknown) => {
      throw new FerryError("INVALID_ARGUMENT", `cannot read ${path}: ${(cause as Error).message}`, {
        cause,
      });
    });
    if (!st.isDirectory()) {
      if (!path.toLowerCase().endsWith(".csv")) return parseEstateJson(path, await read(path), o);
    } else files = (await readdir(path)).map((f) => join(path, f));
  }
  const found = new Map<string, string>();
  for (const f of files) {
    const sheet = sheetOf(f);
    if (!sheet) {
      if (parts.length > 1)
        throw new FerryError(
          "INVALID_ARGUMENT",
          `${f}: not an RVTools sheet (the name must end in ${RVTOOLS_SHEETS.map((s) => `${s}.csv`).join(", ")})`,
        );
      continue;
    }
    const other = found.get(sheet);
    if (other)
      throw new FerryError("INVALID_ARGUMENT", `${f} and ${other} are both the ${sheet} sheet`);
    found.set(sheet, f);
  }
  const missing = RVTOOLS_SHEETS.filter((s) => !found.has(s));
  if (missing.length > 0)
    throw new FerryError(
      "INVALID_ARGUMENT",
      `${where}: no ${missing.map((s) => `${s}.csv`).join(", ")} (an RVTools export's vInfo, vDisk, vHost and vDatastore sheets saved as CSV, or an estate .json)`,
    );
  const sheets = {} as Record<(typeof RVTOOLS_SHEETS)[number], ReturnType<typeof parseCsv>>;
  for (const s of RVTOOLS_SHEETS) {
    const file = found.get(s) as string;
    sheets[s] = parseCsv(file, await read(file));
  }
  return readRvtools(sheets as RvtoolsSheets, o);
}
