// RFC 4180 CSV, as spreadsheet exports write it: quoted fields with commas, quotes ("") and
// line breaks inside, CRLF or LF, a UTF-8 byte order mark, and the delimiter a locale picks
// (comma, semicolon or tab: whichever the header line has most of). Pure.
import { inputError } from "./input-error.js";

/** One record: its fields and the line each field starts on (1-based). */
export interface CsvRecord {
  fields: string[];
  lines: number[];
}

/** A parsed file: the header record, then the data records (blank lines left out). */
export interface CsvTable {
  file: string;
  header: CsvRecord;
  records: CsvRecord[];
}

function delimiterOf(text: string): string {
  const counts = new Map([
    [",", 0],
    [";", 0],
    ["\t", 0],
  ]);
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, (counts.get(ch) as number) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? ",";
}

/**
 * Parses `text` (the contents of `file`). A field that opens a quote must close it, and only
 * a delimiter or line break may follow the closing quote; every record must have as many
 * fields as the header. Errors are FerryError INVALID_ARGUMENT naming file, line and column.
 */
export function parseCsv(file: string, text: string): CsvTable {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const delimiter = delimiterOf(src);
  const records: CsvRecord[] = [];
  let line = 1;
  let fields: string[] = [];
  let lines: number[] = [];
  let field = "";
  // The field was quoted: an empty quoted field is still a field, and no second quote opens.
  let quoted = false;
  let fieldLine = 1;
  let i = 0;
  const endField = () => {
    fields.push(field);
    lines.push(fieldLine);
    field = "";
    quoted = false;
    fieldLine = line;
  };
  const endRecord = () => {
    const wasQuoted = quoted;
    endField();
    if (!(fields.length === 1 && fields[0] === "" && !wasQuoted)) records.push({ fields, lines });
    fields = [];
    lines = [];
  };
  while (i < src.length) {
    const ch = src[i] as string;
    if (ch === '"' && field === "" && !quoted) {
      quoted = true;
      const open = { line, column: fields.length + 1 };
      i++;
      for (;;) {
        if (i >= src.length)
          throw inputError({ file, ...open }, "a quoted field is not closed (missing '\"')");
        const c = src[i] as string;
        if (c === '"') {
          if (src[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === "\n") line++;
        if (c === "\r" && src[i + 1] !== "\n") line++;
        field += c;
        i++;
      }
      const next = src[i];
      if (next !== undefined && next !== delimiter && next !== "\n" && next !== "\r")
        throw inputError(
          { file, line, column: fields.length + 1 },
          `unexpected ${JSON.stringify(next)} after a quoted field's closing quote (write "" for a quote inside a field)`,
        );
      continue;
    }
    if (ch === delimiter) {
      endField();
      i++;
      continue;
    }
    if (ch === "\n" || ch === "\r") {
      endRecord();
      i += ch === "\r" && src[i + 1] === "\n" ? 2 : 1;
      line++;
      fieldLine = line;
      continue;
    }
    field += ch;
    i++;
  }
  if (field !== "" || quoted || fields.length > 0) endRecord();
  const header = records.shift();
  if (!header) throw inputError({ file, line: 1 }, "the file is empty: expected a header line");
  header.fields = header.fields.map((f) => f.trim());
  for (const r of records)
    if (r.fields.length !== header.fields.length)
      throw inputError(
        { file, line: r.lines[0] as number },
        `${r.fields.length} field(s), but the header (line ${header.lines[0]}) has ${header.fields.length}`,
      );
  return { file, header, records };
}
