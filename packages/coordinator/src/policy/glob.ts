// Shell-style globs for VM names: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]` and
// `\` to quote. Matched by a linear-time backtracking walk rather than a
// RegExp so an operator's "*a*a*a*a*b" cannot stall the coordinator.
import { FerryError } from "@ferry/common";

/** Tests a whole name against a compiled glob; case-sensitive. */
export type GlobMatcher = (name: string) => boolean;

type Token =
  | { readonly t: "char"; readonly c: string }
  | { readonly t: "any" }
  | { readonly t: "star" }
  | { readonly t: "class"; readonly negate: boolean; readonly ranges: readonly [number, number][] };

function invalid(pattern: string, message: string): FerryError {
  return new FerryError("INVALID_ARGUMENT", `glob "${pattern}": ${message}`, {
    details: { glob: pattern },
  });
}

/**
 * Compiles `pattern` into a matcher of whole names. Throws FerryError
 * INVALID_ARGUMENT for an unclosed `[`, a reversed range or a trailing `\`.
 */
export function compileGlob(pattern: string): GlobMatcher {
  const tokens = tokenize(pattern);
  return (name) => matchTokens(tokens, Array.from(name));
}

function tokenize(pattern: string): Token[] {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === "*") {
      // Runs of stars match the same as one.
      if (tokens.at(-1)?.t !== "star") tokens.push({ t: "star" });
    } else if (c === "?") {
      tokens.push({ t: "any" });
    } else if (c === "[") {
      i = parseClass(pattern, chars, i, tokens);
    } else if (c === "\\") {
      const quoted = chars[++i];
      if (quoted === undefined) throw invalid(pattern, `ends with a lone "\\"`);
      tokens.push({ t: "char", c: quoted });
    } else {
      tokens.push({ t: "char", c });
    }
  }
  return tokens;
}

/** Parses `[...]` starting at `open`; returns the index of its `]`. */
function parseClass(pattern: string, chars: string[], open: number, out: Token[]): number {
  let i = open + 1;
  const negate = chars[i] === "!" || chars[i] === "^";
  if (negate) i++;
  const ranges: [number, number][] = [];
  // A `]` right after the opening is a member, as in POSIX shells.
  for (let first = true; ; first = false) {
    let c = chars[i];
    if (c === undefined) throw invalid(pattern, `unclosed "["`);
    if (c === "]" && !first) break;
    if (c === "\\") c = chars[++i] ?? "";
    if (c === "") throw invalid(pattern, `unclosed "["`);
    const lo = c.codePointAt(0) ?? 0;
    let hi = lo;
    const after = chars[i + 2];
    if (chars[i + 1] === "-" && after !== undefined && after !== "]") {
      hi = after.codePointAt(0) ?? 0;
      if (hi < lo) throw invalid(pattern, `range "${c}-${after}" is reversed`);
      i += 2;
    }
    ranges.push([lo, hi]);
    i++;
  }
  out.push({ t: "class", negate, ranges });
  return i;
}

function matchOne(token: Token, c: string): boolean {
  switch (token.t) {
    case "char":
      return token.c === c;
    case "any":
      return true;
    case "class": {
      const cp = c.codePointAt(0) ?? -1;
      return token.ranges.some(([lo, hi]) => cp >= lo && cp <= hi) !== token.negate;
    }
    case "star":
      return false;
  }
}

// Every token but `star` consumes exactly one character, so backtracking only
// to the latest star is enough and keeps the walk O(pattern * name).
function matchTokens(tokens: readonly Token[], name: readonly string[]): boolean {
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  while (s < name.length) {
    const token = tokens[p];
    if (token !== undefined && token.t !== "star" && matchOne(token, name[s] as string)) {
      p++;
      s++;
    } else if (token?.t === "star") {
      starP = p++;
      starS = s;
    } else if (starP >= 0) {
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (tokens[p]?.t === "star") p++;
  return p === tokens.length;
}
