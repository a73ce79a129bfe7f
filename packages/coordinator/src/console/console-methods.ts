/**
 * The operator API methods the console may call, by URL (`POST /api/<method>`). Everything
 * else is 404: the console has no business running maintenance or changing policies.
 */
export const CONSOLE_METHODS = [
  "listMovers",
  "listVms",
  "listPolicies",
  "listJobs",
  "getJob",
  "listRestorePoints",
  "protectionReport",
  "plan",
  "backupNow",
  "restore",
] as const;

/** One of {@link CONSOLE_METHODS}. */
export type ConsoleMethod = (typeof CONSOLE_METHODS)[number];

const KNOWN = new Set<string>(CONSOLE_METHODS);

/** True when the console serves `name`. */
export const isConsoleMethod = (name: string): name is ConsoleMethod => KNOWN.has(name);
