/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured logger: a message plus fields; child loggers add bound fields. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Component name, e.g. "mover". */
  name: string;
  level?: LogLevel;
  /** "json": one JSON object a line (default); "pretty": for people at a terminal. */
  format?: "json" | "pretty";
  /** Where lines go; default process.stderr. Must not block. */
  write?: (line: string) => void;
}

// Keys whose values never reach a log line.
const SECRET_KEY = /pass(word|phrase)?|secret|token|credential|private.?key|authorization/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

/** Creates a logger; secrets in fields (by key name) are redacted. */
export function createLogger(options: LoggerOptions): Logger {
  const min = LOG_LEVELS.indexOf(options.level ?? "info");
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const format = options.format ?? "json";
  const build = (bindings: Record<string, unknown>): Logger => {
    const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (LOG_LEVELS.indexOf(level) < min) return;
      const all = redact({ ...bindings, ...fields }) as Record<string, unknown>;
      if (format === "json") {
        write(
          `${JSON.stringify({ time: new Date().toISOString(), level, name: options.name, msg, ...all })}\n`,
        );
      } else {
        const extra = Object.entries(all)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ");
        write(`${level.padEnd(5)} ${options.name}: ${msg}${extra ? ` ${extra}` : ""}\n`);
      }
    };
    return {
      debug: (m, f) => log("debug", m, f),
      info: (m, f) => log("info", m, f),
      warn: (m, f) => log("warn", m, f),
      error: (m, f) => log("error", m, f),
      child: (more) => build({ ...bindings, ...more }),
    };
  };
  return build({});
}
