import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { compileGlob } from "./glob.js";

function matches(pattern: string, names: string[]): boolean[] {
  const m = compileGlob(pattern);
  return names.map((n) => m(n));
}

describe("compileGlob", () => {
  it("matches literal names whole and case-sensitively", () => {
    expect(matches("web", ["web", "Web", "web1", "aweb", "my-web-server", ""])).toEqual([
      true,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(matches("", ["", "a"])).toEqual([true, false]);
  });

  it("* matches any run of characters, including none and '/'", () => {
    expect(matches("web-*", ["web-", "web-01", "web-a-b", "web", "xweb-1"])).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(matches("*", ["", "anything at all"])).toEqual([true, true]);
    expect(matches("*-db", ["pg-db", "-db", "pg-db2"])).toEqual([true, true, false]);
    expect(matches("a*b*c", ["abc", "aXbYc", "acb", "abcc", "ab"])).toEqual([
      true,
      true,
      false,
      true,
      false,
    ]);
    expect(matches("**", ["", "x"])).toEqual([true, true]);
    expect(matches("a*", ["a/b"])).toEqual([true]);
    expect(matches("*a*a*", ["aa", "a", "banana"])).toEqual([true, false, true]);
  });

  it("? matches exactly one character", () => {
    expect(matches("web-??", ["web-01", "web-1", "web-001"])).toEqual([true, false, false]);
    expect(matches("?", ["", "a", "ab"])).toEqual([false, true, false]);
    expect(matches("?*", ["", "a", "abc"])).toEqual([false, true, true]);
  });

  it("[...] matches one character from a set or range", () => {
    expect(matches("db[123]", ["db1", "db3", "db4", "db", "db12"])).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(matches("[a-c]x", ["ax", "bx", "cx", "dx", "Ax"])).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(matches("[a-cx-z0-9]", ["b", "y", "5", "m"])).toEqual([true, true, true, false]);
    expect(matches("[!a-c]", ["a", "d", ""])).toEqual([false, true, false]);
    expect(matches("[^a]", ["a", "b"])).toEqual([false, true]);
  });

  it("takes ], - and escapes literally where shells do", () => {
    expect(matches("[]]", ["]", "a"])).toEqual([true, false]);
    expect(matches("[!]]", ["]", "a"])).toEqual([false, true]);
    expect(matches("[a-]", ["a", "-", "b"])).toEqual([true, true, false]);
    expect(matches("[-a]", ["a", "-"])).toEqual([true, true]);
    expect(matches("[\\]a]", ["]", "a", "\\"])).toEqual([true, true, false]);
    expect(matches("\\*", ["*", "a"])).toEqual([true, false]);
    expect(matches("a\\?", ["a?", "ab"])).toEqual([true, false]);
    expect(matches("a\\[b", ["a[b"])).toEqual([true]);
    expect(matches("a.b", ["a.b", "axb"])).toEqual([true, false]);
    expect(matches("(x)+", ["(x)+", "xx"])).toEqual([true, false]);
  });

  it("treats each Unicode code point as one character", () => {
    expect(matches("caf?", ["café", "cafe", "caf"])).toEqual([true, true, false]);
    expect(matches("vm-?", ["vm-😀"])).toEqual([true]);
    expect(matches("[😀é]", ["😀", "é", "e"])).toEqual([true, true, false]);
  });

  it("stays fast on patterns that make regex engines backtrack", () => {
    const m = compileGlob("*a*a*a*a*a*a*a*a*a*a*b");
    expect(m("a".repeat(5000))).toBe(false);
    expect(m(`${"a".repeat(5000)}b`)).toBe(true);
  });

  const bad: [string, string][] = [
    ["[abc", 'glob "[abc": unclosed "["'],
    ["[", 'glob "[": unclosed "["'],
    ["[]", 'glob "[]": unclosed "["'],
    ["[!", 'glob "[!": unclosed "["'],
    ["web-[0-9", 'glob "web-[0-9": unclosed "["'],
    ["[a\\", 'glob "[a\\": unclosed "["'],
    ["[z-a]", 'glob "[z-a]": range "z-a" is reversed'],
    ["[9-0]", 'glob "[9-0]": range "9-0" is reversed'],
    ["abc\\", 'glob "abc\\": ends with a lone "\\"'],
  ];
  it.each(bad)("rejects %j", (pattern, message) => {
    let caught: unknown;
    try {
      compileGlob(pattern);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FerryError);
    expect((caught as FerryError).code).toBe("INVALID_ARGUMENT");
    expect((caught as FerryError).message).toBe(message);
    expect((caught as FerryError).details).toEqual({ glob: pattern });
  });
});
