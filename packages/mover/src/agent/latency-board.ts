// Guest I/O latency per datastore, from successive block counters of the host's VMs.
import { create } from "@bufbuild/protobuf";
import { type DatastoreLatency, DatastoreLatencySchema } from "@ferry/common";
import type { BlockCounters } from "../hypervisor/block-stats.js";

interface Interval {
  datastoreId: string;
  operations: number;
  timeNs: number;
  atMs: number;
}

/** Collects counters as they are read; reports mean latency per datastore. */
export interface LatencyBoard {
  /** Learns where a VM's devices live (from its query-block). */
  place(vmId: string, deviceDatastores: ReadonlyMap<string, string>): void;
  /** Records a VM's counters; the interval since its previous reading counts. */
  observe(vmId: string, counters: ReadonlyMap<string, BlockCounters>, atMs?: number): void;
  /** Mean latency per datastore over intervals that ended within `maxAgeMs`. */
  snapshot(maxAgeMs: number, nowMs?: number): DatastoreLatency[];
}

/** Creates an empty board. */
export function createLatencyBoard(): LatencyBoard {
  const where = new Map<string, ReadonlyMap<string, string>>();
  const previous = new Map<string, BlockCounters>();
  const latest = new Map<string, Interval>();
  return {
    place(vmId, deviceDatastores) {
      where.set(vmId, deviceDatastores);
    },
    observe(vmId, counters, atMs = Date.now()) {
      const places = where.get(vmId);
      for (const [device, now] of counters) {
        const key = `${vmId}\0${device}`;
        const before = previous.get(key);
        previous.set(key, now);
        const datastoreId = places?.get(device);
        // Counters restart with QEMU: a drop is a new baseline, not an interval.
        if (!before || !datastoreId || now.operations < before.operations) continue;
        latest.set(key, {
          datastoreId,
          operations: now.operations - before.operations,
          timeNs: now.timeNs - before.timeNs,
          atMs,
        });
      }
    },
    snapshot(maxAgeMs, nowMs = Date.now()) {
      const sums = new Map<string, { operations: number; timeNs: number }>();
      for (const i of latest.values()) {
        if (nowMs - i.atMs > maxAgeMs || i.operations === 0) continue;
        const s = sums.get(i.datastoreId) ?? { operations: 0, timeNs: 0 };
        s.operations += i.operations;
        s.timeNs += i.timeNs;
        sums.set(i.datastoreId, s);
      }
      return [...sums]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([datastoreId, s]) =>
          create(DatastoreLatencySchema, {
            datastoreId,
            latencyMs: s.timeNs / s.operations / 1e6,
            operations: BigInt(s.operations),
          }),
        );
    },
  };
}
