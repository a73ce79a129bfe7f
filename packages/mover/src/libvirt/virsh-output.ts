// The few human-oriented virsh outputs Ferry reads, parsed strictly (virsh runs with LC_ALL=C).
import { FerryError } from "@ferry/common";

/** One disk of `virsh domstats --block`. */
export interface DomBlockStats {
  /** Target device ("vda"). */
  name: string;
  path?: string;
  /** Virtual size, bytes (absent for a domain that is not running). */
  capacity?: number;
  /** Read and write requests so far. */
  operations: number;
  /** Their total time, nanoseconds. */
  timeNs: number;
}

/** Reads `virsh domstats DOMAIN --block`: lines `block.N.key=value`, other lines ignored. */
export function parseDomStats(out: string): DomBlockStats[] {
  const byIndex = new Map<number, Record<string, string>>();
  for (const line of out.split("\n")) {
    const m = /^\s*block\.(\d+)\.([\w.]+)=(.*)$/.exec(line);
    if (!m) continue;
    const i = Number(m[1]);
    const rec = byIndex.get(i) ?? {};
    rec[m[2] as string] = (m[3] as string).trim();
    byIndex.set(i, rec);
  }
  const num = (rec: Record<string, string>, key: string): number | undefined => {
    const v = rec[key];
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new FerryError("PROTOCOL_ERROR", `domstats: ${key}=${v}`);
    return Number(v);
  };
  return [...byIndex.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([, rec]) => {
      // Backing-chain entries (with --backing) repeat a name with a backingIndex: keep the top.
      if (!rec.name) return [];
      const capacity = num(rec, "capacity");
      return [
        {
          name: rec.name,
          ...(rec.path ? { path: rec.path } : {}),
          ...(capacity === undefined ? {} : { capacity }),
          operations: (num(rec, "rd.reqs") ?? 0) + (num(rec, "wr.reqs") ?? 0),
          timeNs: (num(rec, "rd.times") ?? 0) + (num(rec, "wr.times") ?? 0),
        },
      ];
    });
}

/** The job a domain runs now, from `virsh domjobinfo`. */
export interface JobInfo {
  /** "None", "Unbounded", "Bounded". */
  type: string;
  /** "Backup", "Outgoing migration", ...; "" when no job runs. */
  operation: string;
}

/** Reads `virsh domjobinfo DOMAIN` ("Job type:  Unbounded", "Operation:  Backup"). */
export function parseJobInfo(out: string): JobInfo {
  const field = (label: string) =>
    new RegExp(`^${label}:\\s*(.*?)\\s*$`, "m").exec(out)?.[1] ?? undefined;
  const type = field("Job type");
  if (type === undefined)
    throw new FerryError("PROTOCOL_ERROR", `domjobinfo printed no job type: ${out.slice(0, 200)}`);
  return { type, operation: type === "None" ? "" : (field("Operation") ?? "") };
}
