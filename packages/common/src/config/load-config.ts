import { readFile } from "node:fs/promises";
import { FerryError } from "../errors/ferry-error.js";
import type { Field, Issue } from "./schema.js";

function fail(source: string, issues: Issue[]): never {
  const lines = issues.map((i) => `  ${i.path || "(root)"}: ${i.message}`);
  const first = issues[0];
  throw new FerryError(
    "CONFIG_INVALID",
    `invalid configuration in ${source}:\n${lines.join("\n")}`,
    { details: { source, key: first?.path, issues } },
  );
}

/**
 * Validates an already parsed value against `schema`. `source` names where it
 * came from (a file path) in every error. Throws CONFIG_INVALID listing each
 * bad or unknown key.
 */
export function parseConfig<T>(schema: Field<T>, value: unknown, source: string): T {
  const issues: Issue[] = [];
  const parsed = schema.parse(value, "", issues);
  if (issues.length > 0 || parsed === undefined) fail(source, issues);
  return parsed;
}

/** Reads a JSON configuration file and validates it (see {@link parseConfig}). */
export async function loadConfigFile<T>(
  schema: Field<T>,
  path: string,
  signal?: AbortSignal,
): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, { encoding: "utf8", ...(signal ? { signal } : {}) });
  } catch (cause) {
    throw new FerryError(
      "CONFIG_INVALID",
      `cannot read configuration file ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new FerryError(
      "CONFIG_INVALID",
      `configuration file ${path} is not valid JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  return parseConfig(schema, value, path);
}
