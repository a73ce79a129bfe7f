// Guest I/O statistics of a VM's disks (QMP query-blockstats), for backup I/O control.
import type { Datastore } from "@ferry/common";
import { datastoreOf, type QueryBlockDevice } from "../inventory/describe-vm.js";
import type { QmpSession } from "./qmp-client.js";

/** Cumulative guest I/O of one virtual disk. */
export interface BlockCounters {
  operations: number;
  /** Total time the operations took, nanoseconds. */
  timeNs: number;
}

interface QueryBlockStats {
  qdev?: string;
  device?: string;
  stats: {
    rd_operations: number;
    wr_operations: number;
    rd_total_time_ns: number;
    wr_total_time_ns: number;
  };
}

// The guest device path: stable while a backup's filter node sits on the disk.
const keyOf = (d: { qdev?: string; device?: string }) => d.qdev || d.device || "";

/** Reads and writes the guest issued to each disk so far, by device. */
export async function readBlockCounters(
  qmp: QmpSession,
  signal?: AbortSignal,
): Promise<Map<string, BlockCounters>> {
  const stats = await qmp.execute<QueryBlockStats[]>(
    "query-blockstats",
    undefined,
    signal ? { signal } : {},
  );
  return new Map(
    stats.map((s) => [
      keyOf(s),
      {
        operations: s.stats.rd_operations + s.stats.wr_operations,
        timeNs: s.stats.rd_total_time_ns + s.stats.wr_total_time_ns,
      },
    ]),
  );
}

/** Which datastore each device's image lives on. */
export function deviceDatastores(
  devices: readonly (QueryBlockDevice & { qdev?: string })[],
  datastores: readonly Datastore[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of devices) {
    const file = d.inserted?.image?.filename;
    const ds = file ? datastoreOf(file, datastores) : "";
    if (ds) out.set(keyOf(d), ds);
  }
  return out;
}
