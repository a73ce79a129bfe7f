import { createLogger, type Logger } from "@ferry/common";

/** A logger that drops everything: tests assert on behaviour, not log lines. */
export function quietLogger(): Logger {
  return createLogger({ name: "test", write: () => undefined });
}
