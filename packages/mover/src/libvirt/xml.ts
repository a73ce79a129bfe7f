// A strict, small XML reader and writer for libvirt's documents (domain, backup, checkpoint).
// libvirt writes plain XML: elements, attributes, text, comments, no DTDs. Anything else, or
// anything malformed, is a PROTOCOL_ERROR rather than a guess.
import { FerryError } from "@ferry/common";

/** An element: name, attributes, child elements and its own text (trimmed). */
export interface XmlElement {
  name: string;
  attrs: Readonly<Record<string, string>>;
  children: XmlElement[];
  text: string;
}

/** Largest document accepted, characters: a domain XML is a few KiB. */
export const MAX_XML_CHARS = 4 * 1024 * 1024;

const NAME = /^[A-Za-z_][\w.:-]*/;
const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Parses one document; `what` names it in errors (e.g. "domain XML of vm1"). */
export function parseXml(text: string, what: string): XmlElement {
  if (text.length > MAX_XML_CHARS)
    throw new FerryError("PROTOCOL_ERROR", `${what} is larger than ${MAX_XML_CHARS} characters`);
  let i = 0;
  const fail = (why: string): never => {
    throw new FerryError("PROTOCOL_ERROR", `${what}: ${why} at offset ${i}`);
  };
  const skipMisc = () => {
    for (;;) {
      while (i < text.length && /\s/.test(text.charAt(i))) i++;
      if (text.startsWith("<?", i)) {
        const end = text.indexOf("?>", i);
        if (end < 0) fail("unterminated processing instruction");
        i = end + 2;
      } else if (text.startsWith("<!--", i)) {
        const end = text.indexOf("-->", i);
        if (end < 0) fail("unterminated comment");
        i = end + 3;
      } else return;
    }
  };
  const name = (): string => {
    const m = NAME.exec(text.slice(i, i + 256));
    if (!m) return fail("expected a name");
    i += m[0].length;
    return m[0];
  };
  const element = (depth: number): XmlElement => {
    if (depth > 64) fail("nesting deeper than 64");
    if (text.charAt(i) !== "<") fail("expected an element");
    i++;
    const el: XmlElement = { name: name(), attrs: {}, children: [], text: "" };
    const attrs: Record<string, string> = {};
    for (;;) {
      const before = i;
      while (/\s/.test(text.charAt(i))) i++;
      if (text.startsWith("/>", i)) {
        i += 2;
        el.attrs = attrs;
        return el;
      }
      if (text.charAt(i) === ">") {
        i++;
        break;
      }
      if (i === before) fail("expected whitespace before an attribute");
      const key = name();
      if (Object.hasOwn(attrs, key)) fail(`attribute ${key} repeated`);
      if (text.charAt(i) !== "=") fail("expected =");
      i++;
      const quote = text.charAt(i);
      if (quote !== '"' && quote !== "'") fail("expected a quoted value");
      const end = text.indexOf(quote, i + 1);
      if (end < 0) fail("unterminated attribute value");
      attrs[key] = decode(text.slice(i + 1, end), fail);
      i = end + 1;
    }
    el.attrs = attrs;
    let own = "";
    for (;;) {
      const lt = text.indexOf("<", i);
      if (lt < 0) fail(`element ${el.name} is not closed`);
      own += decode(text.slice(i, lt), fail);
      i = lt;
      if (text.startsWith("<!--", i)) {
        const end = text.indexOf("-->", i);
        if (end < 0) fail("unterminated comment");
        i = end + 3;
      } else if (text.startsWith("</", i)) {
        i += 2;
        if (name() !== el.name) fail(`closing tag does not match ${el.name}`);
        while (/\s/.test(text.charAt(i))) i++;
        if (text.charAt(i) !== ">") fail("expected >");
        i++;
        el.text = own.trim();
        return el;
      } else if (text.startsWith("<![CDATA[", i) || text.startsWith("<!", i)) {
        fail("CDATA and declarations are not expected from libvirt");
      } else {
        el.children.push(element(depth + 1));
      }
    }
  };
  skipMisc();
  const root = element(0);
  skipMisc();
  if (i !== text.length) fail("content after the root element");
  return root;
}

function decode(raw: string, fail: (why: string) => never): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&([^;]{1,10});/g, (_m, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    const known = ENTITIES[ref];
    return known ?? fail(`unknown entity &${ref};`);
  });
}

/** The first child named `name`, if any. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

/** Every child named `name`. */
export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** Escapes text for an attribute value or element content. */
export function xmlEscape(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/** Writes an element: attributes with undefined values are left out. */
export function xmlElement(
  name: string,
  attrs: Record<string, string | number | undefined>,
  children: readonly string[] = [],
  text?: string,
): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join("");
  if (children.length === 0 && text === undefined) return `<${name}${a}/>`;
  return `<${name}${a}>${text === undefined ? "" : xmlEscape(text)}${children.join("")}</${name}>`;
}

/** Writes a parsed element back out (comments and layout whitespace are not kept). */
export function serializeXml(el: XmlElement): string {
  return xmlElement(
    el.name,
    el.attrs,
    el.children.map(serializeXml),
    el.text === "" ? undefined : el.text,
  );
}
