// Counts what a Ferry process logs (JSON lines), by level and message: a benchmark says
// what went wrong under load (movers marked down, retries) without keeping the whole log.

/** A running count of log lines by "level: message". */
export interface LogTally {
  /** Feeds output as it arrives; lines may be split across chunks. */
  feed(chunk: string): void;
  /** Counts, most frequent first. */
  counts(): [string, number][];
}

/** A new, empty tally. */
export function createLogTally(): LogTally {
  const counts = new Map<string, number>();
  let partial = "";
  return {
    feed(chunk) {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        let key: string;
        try {
          const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
          key = `${String(entry.level)}: ${String(entry.msg)}`;
        } catch {
          key = `(not JSON): ${line.slice(0, 80)}`;
        }
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    },
    counts: () => [...counts].sort((a, b) => b[1] - a[1]),
  };
}
