/**
 * A tiny schema language for configuration files: enough to name every bad or
 * unknown key precisely, without a dependency.
 */

/** A validation failure at `path` (dotted key path, "" for the root). */
export interface Issue {
  path: string;
  message: string;
}

/** A field type: parses an unknown value or records issues. */
export interface Field<T> {
  readonly kind: string;
  /** Returns the parsed value; pushes issues and returns undefined when invalid. */
  parse(value: unknown, path: string, issues: Issue[]): T | undefined;
  /** Present when the key may be left out. */
  readonly fallback?: { value: T | undefined };
}

/** The parsed type of a field. */
export type Infer<F> = F extends Field<infer T> ? T : never;
type Shape = Record<string, Field<unknown>>;
type OptionalKeys<S extends Shape> = {
  [K in keyof S]: S[K]["fallback"] extends { value: infer V }
    ? undefined extends V
      ? K
      : never
    : never;
}[keyof S];
/** The parsed type of an object schema. */
export type InferShape<S extends Shape> = {
  [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]>;
} & { [K in OptionalKeys<S>]?: Infer<S[K]> };

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function make<T>(
  kind: string,
  parse: Field<T>["parse"],
): Field<T> & {
  default(value: T): Field<T> & { fallback: { value: T } };
  optional(): Field<T> & { fallback: { value: T | undefined } };
} {
  const field: Field<T> = { kind, parse };
  return Object.assign(field, {
    default: (value: T) => ({ kind, parse, fallback: { value } }),
    optional: () => ({ kind, parse, fallback: { value: undefined as T | undefined } }),
  });
}

/** A string, optionally matching `pattern` (described by `hint`). */
export function string(opts: { pattern?: RegExp; hint?: string; nonEmpty?: boolean } = {}) {
  return make<string>("string", (value, path, issues) => {
    if (typeof value !== "string") {
      issues.push({ path, message: `expected a string, got ${describe(value)}` });
      return undefined;
    }
    if (opts.nonEmpty && value.length === 0) {
      issues.push({ path, message: "must not be empty" });
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(value)) {
      issues.push({
        path,
        message: `expected ${opts.hint ?? opts.pattern.source}, got ${describe(value)}`,
      });
      return undefined;
    }
    return value;
  });
}

/** A finite number, optionally an integer within [min, max]. */
export function number(opts: { integer?: boolean; min?: number; max?: number } = {}) {
  return make<number>("number", (value, path, issues) => {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      issues.push({ path, message: `expected a number, got ${describe(value)}` });
      return undefined;
    }
    if (opts.integer && !Number.isInteger(value)) {
      issues.push({ path, message: `expected an integer, got ${value}` });
      return undefined;
    }
    if (
      (opts.min !== undefined && value < opts.min) ||
      (opts.max !== undefined && value > opts.max)
    ) {
      issues.push({
        path,
        message: `must be between ${opts.min ?? "-inf"} and ${opts.max ?? "inf"}, got ${value}`,
      });
      return undefined;
    }
    return value;
  });
}

/** A boolean. */
export function boolean() {
  return make<boolean>("boolean", (value, path, issues) => {
    if (typeof value !== "boolean") {
      issues.push({ path, message: `expected true or false, got ${describe(value)}` });
      return undefined;
    }
    return value;
  });
}

/** One of the given string values. */
export function oneOf<const V extends readonly string[]>(values: V) {
  return make<V[number]>("enum", (value, path, issues) => {
    if (typeof value !== "string" || !values.includes(value)) {
      issues.push({
        path,
        message: `expected one of ${values.join(", ")}, got ${describe(value)}`,
      });
      return undefined;
    }
    return value as V[number];
  });
}

/** An array of `item`. */
export function array<T>(item: Field<T>) {
  return make<T[]>("array", (value, path, issues) => {
    if (!Array.isArray(value)) {
      issues.push({ path, message: `expected an array, got ${describe(value)}` });
      return undefined;
    }
    const before = issues.length;
    const out = value.map((v, i) => item.parse(v, `${path}[${i}]`, issues)) as T[];
    return issues.length === before ? out : undefined;
  });
}

/** An object with exactly the keys of `shape`: unknown keys are errors. */
export function object<S extends Shape>(shape: S) {
  return make<InferShape<S>>("object", (value, path, issues) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      issues.push({ path, message: `expected an object, got ${describe(value)}` });
      return undefined;
    }
    const before = issues.length;
    const input = value as Record<string, unknown>;
    const known = Object.keys(shape);
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(shape, key)) {
        issues.push({
          path: path ? `${path}.${key}` : key,
          message: `unknown key (known keys here: ${known.join(", ")})`,
        });
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(shape)) {
      const keyPath = path ? `${path}.${key}` : key;
      if (input[key] === undefined) {
        if (field.fallback) {
          if (field.fallback.value !== undefined) out[key] = field.fallback.value;
        } else {
          issues.push({ path: keyPath, message: "is required" });
        }
        continue;
      }
      const parsed = field.parse(input[key], keyPath, issues);
      if (parsed !== undefined) out[key] = parsed;
    }
    return issues.length === before ? (out as InferShape<S>) : undefined;
  });
}
