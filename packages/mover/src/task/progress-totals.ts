import type { ProgressReporter } from "../events/progress-reporter.js";
import type { DiskBackupStats } from "../pipeline/backup-disk.js";

/** Sums the disks of one task into the reporter's totals. */
export function createProgressTotals(bytesTotal: number, reporter: ProgressReporter) {
  const disks = new Map<string, DiskBackupStats>();
  return {
    set(diskId: string, stats: DiskBackupStats): void {
      disks.set(diskId, stats);
      let read = 0;
      let fresh = 0;
      let dedup = 0;
      for (const s of disks.values()) {
        // Holes count as covered: the total is what must be read or skipped.
        read += s.bytesDone;
        fresh += s.bytesNew;
        dedup += s.bytesDeduplicated;
      }
      reporter.update({
        bytesTotal,
        bytesRead: read,
        bytesNew: fresh,
        bytesDeduplicated: dedup,
      });
    },
  };
}
