// Where JSON text breaks: JSON.parse's messages give no position for many errors (Node 20),
// so a file's syntax error is located by this small scanner, run only after JSON.parse fails.

/** The first syntax error's offset in `text` and what was expected there; undefined if none. */
export function jsonSyntaxError(text: string): { offset: number; expected: string } | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i] as string)) i++;
  };
  class Stop {
    constructor(readonly expected: string) {}
  }
  const expect = (what: string): never => {
    throw new Stop(what);
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else expect("a value");
  };
  const string = () => {
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) expect("a closing quote (no line breaks inside a string)");
      if (text[i] === "\\") {
        i++;
        if (!'"\\/bfnrtu'.includes(text[i] ?? "")) expect('an escape (\\n, \\", \\u....)');
      }
      i++;
    }
    if (i >= text.length) expect("a closing quote");
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') expect("a key in double quotes");
        string();
        ws();
        if (text[i] !== ":") expect('":"');
        i++;
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        expect('"," or "}"');
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        expect('"," or "]"');
      }
    }
    const word = { '"': "", t: "true", f: "false", n: "null" }[c ?? ""];
    if (word === "") string();
    else if (word) literal(word);
    if (word !== undefined) return;
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) expect("a value");
    i += (m as RegExpExecArray)[0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) expect("the end of the file");
    return undefined;
  } catch (err) {
    if (err instanceof Stop) return { offset: i, expected: err.expected };
    throw err;
  }
}
