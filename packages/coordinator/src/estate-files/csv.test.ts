import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { parseCsv } from "./csv.js";

const fail = (text: string) => {
  try {
    parseCsv("x.csv", text);
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe("INVALID_ARGUMENT");
    return (err as FerryError).message;
  }
  throw new Error("parsed");
};

describe("parseCsv", () => {
  it("reads quoted commas, quotes and line breaks, a BOM and CRLF", () => {
    const t = parseCsv(
      "x.csv",
      '\ufeffVM,Path, Note \r\n"db, primary","[ds] a.vmdk","say ""hi""\r\nthere"\r\nweb,,""\r\n\r\n',
    );
    expect(t.header.fields).toEqual(["VM", "Path", "Note"]);
    expect(t.records.map((r) => r.fields)).toEqual([
      ["db, primary", "[ds] a.vmdk", 'say "hi"\r\nthere'],
      ["web", "", ""],
    ]);
    // The record after a quoted line break starts on line 4.
    expect(t.records.map((r) => r.lines[0])).toEqual([2, 4]);
  });

  it("takes the delimiter the header has most of, and a last line without a break", () => {
    const t = parseCsv("x.csv", "VM;Capacity MiB\nweb;1,5\n");
    expect(t.records[0]?.fields).toEqual(["web", "1,5"]);
    expect(parseCsv("x.csv", "a\tb\n1\t2").records[0]?.fields).toEqual(["1", "2"]);
  });

  it("names file, line and column of a quote left open", () => {
    expect(fail('a,b\n1,"open\n\n')).toBe(
      "x.csv line 2, column 2: a quoted field is not closed (missing '\"')",
    );
  });

  it("names file, line and column of text after a closing quote", () => {
    expect(fail('a,b\n1,2\n3,"4"x\n')).toMatch(/^x\.csv line 3, column 2: unexpected "x"/);
  });

  it("names a record whose field count differs from the header's", () => {
    expect(fail("a,b,c\n1,2,3\n1,2\n")).toBe(
      "x.csv line 3: 2 field(s), but the header (line 1) has 3",
    );
  });

  it("rejects an empty file", () => {
    expect(fail("\ufeff")).toMatch(/^x\.csv line 1: the file is empty/);
  });
});
