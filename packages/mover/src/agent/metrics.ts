import { cpus, loadavg } from "node:os";
import { create } from "@bufbuild/protobuf";
import { type DatastoreLatency, type MoverMetrics, MoverMetricsSchema } from "@ferry/common";

/** Samples the mover's load for a heartbeat. */
export function sampleMetrics(
  runningTasks: number,
  datastoreLatencies: DatastoreLatency[] = [],
): MoverMetrics {
  return create(MoverMetricsSchema, {
    runningTasks,
    datastoreLatencies,
    cpuLoad: (loadavg()[0] ?? 0) / Math.max(1, cpus().length),
    rssBytes: BigInt(process.memoryUsage.rss()),
  });
}
