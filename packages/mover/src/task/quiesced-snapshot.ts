import { Phase } from "@ferry/common";
import type { ProgressReporter } from "../events/progress-reporter.js";
import { type Consistency, type QuiesceOptions, withQuiesce } from "../hypervisor/quiesce.js";

/** Options of {@link quiescedSnapshot}: the quiesce options and where phases go. */
export interface QuiescedSnapshotOptions extends QuiesceOptions {
  reporter: Pick<ProgressReporter, "phase">;
}

/**
 * Runs `takeSnapshot` inside the quiesce window and reports the phases in the order they
 * happen: quiescing (not when the mode is off), then snapshotting. Resolves with the
 * consistency achieved.
 */
export async function quiescedSnapshot(
  o: QuiescedSnapshotOptions,
  takeSnapshot: () => Promise<void>,
): Promise<Consistency> {
  const { reporter, ...quiesce } = o;
  if (o.mode !== "off") reporter.phase(Phase.QUIESCING);
  const { consistency } = await withQuiesce(quiesce, async () => {
    reporter.phase(Phase.SNAPSHOTTING);
    await takeSnapshot();
  });
  return consistency;
}
