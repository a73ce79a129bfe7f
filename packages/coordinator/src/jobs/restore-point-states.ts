import {
  type BootTest,
  type Logger,
  toFerryError,
  type VerifyState,
  withDeadline,
} from "@ferry/common";
import type { RepositoryMaintenance } from "./repository-maintenance.js";

/** What a repository records beside a restore point. */
export interface RecordedStates {
  verify?: VerifyState;
  bootTest?: BootTest;
}

// A listing waits this long for a mover's answer, then shows restore points without states.
const STATES_TIMEOUT_MS = 10_000;

/**
 * The last verify and boot test of restore points, read by a mover per repository. A listing
 * must not fail for want of them: repositories no mover reads now are left out (logged).
 */
export async function restorePointStates(
  maintenance: RepositoryMaintenance,
  points: readonly { id: string; repository: string; moverId: string }[],
  logger: Logger,
  signal: AbortSignal,
): Promise<Map<string, RecordedStates>> {
  const states = new Map<string, RecordedStates>();
  // Per repository: the restore points, and the movers that wrote them (they reach it).
  const byRepository = new Map<string, { ids: string[]; writers: Set<string> }>();
  for (const p of points) {
    let r = byRepository.get(p.repository);
    if (!r) {
      r = { ids: [], writers: new Set() };
      byRepository.set(p.repository, r);
    }
    r.ids.push(p.id);
    if (p.moverId) r.writers.add(p.moverId);
  }
  using deadline = withDeadline(signal, STATES_TIMEOUT_MS, "reading restore point states");
  await Promise.all(
    [...byRepository].map(async ([repository, { ids, writers }]) => {
      try {
        const { result } = await maintenance.list(repository, ids, deadline.signal, writers);
        for (const rp of result)
          states.set(rp.id, {
            ...(rp.verify ? { verify: rp.verify } : {}),
            ...(rp.bootTest ? { bootTest: rp.bootTest } : {}),
          });
      } catch (err) {
        if (signal.aborted) throw err;
        logger.debug("restore points listed without their states", {
          repository,
          err: toFerryError(err),
        });
      }
    }),
  );
  return states;
}
