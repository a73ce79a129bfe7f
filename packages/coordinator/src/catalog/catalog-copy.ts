import { FerryError, toFerryError } from "@ferry/common";
import type { CatalogStore } from "./catalog-store.js";
import type { RestorePointRecord } from "./records.js";

/** Records {@link copyCatalog} wrote, by kind. */
export interface CatalogCounts {
  policies: number;
  jobs: number;
  tasks: number;
  restorePoints: number;
  movers: number;
}

/** What `store` holds, by kind (tasks are not counted: jobs are). */
async function holdings(store: CatalogStore): Promise<string[]> {
  const kinds: [string, number][] = [
    ["policies", (await store.policies.list()).length],
    ["jobs", (await store.jobs.list({ limit: 1 })).length],
    ["restore points", (await store.restorePoints.list()).length],
    ["movers", (await store.movers.list()).length],
  ];
  return kinds.filter(([, n]) => n > 0).map(([kind]) => kind);
}

/**
 * Copies every record of `from` into `to` through the CatalogStore interface, so any two
 * stores work (SQLite to PostgreSQL and back). `to` must be empty: FAILED_PRECONDITION
 * otherwise, before anything is written. Jobs go in oldest first, so both stores list them
 * in the same order. `from` must not change meanwhile (stop the coordinator). Not one
 * transaction: an error after the check has `details.partial` set and its `cause` is the
 * error itself; `to` may then hold part of the copy. Checks `signal` between records.
 */
export async function copyCatalog(
  from: CatalogStore,
  to: CatalogStore,
  signal?: AbortSignal,
): Promise<CatalogCounts> {
  const held = await holdings(to);
  if (held.length > 0) {
    throw new FerryError(
      "FAILED_PRECONDITION",
      `the target catalog is not empty (it holds ${held.join(", ")}): copy into a new one`,
    );
  }
  try {
    return await copyRecords(from, to, signal);
  } catch (err) {
    const cause = toFerryError(err);
    throw new FerryError(
      cause.code,
      `${cause.message}; the copy stopped part way: empty the target before copying again`,
      { cause, retryable: cause.retryable, details: { ...cause.details, partial: true } },
    );
  }
}

async function copyRecords(
  from: CatalogStore,
  to: CatalogStore,
  signal: AbortSignal | undefined,
): Promise<CatalogCounts> {
  const counts: CatalogCounts = { policies: 0, jobs: 0, tasks: 0, restorePoints: 0, movers: 0 };
  // Policies before the jobs that name them.
  for (const policy of await from.policies.list()) {
    signal?.throwIfAborted();
    await to.policies.create(policy);
    counts.policies++;
  }
  // Newest first, equal times latest created first: reversed, each store's creation order.
  for (const job of (await from.jobs.list()).reverse()) {
    signal?.throwIfAborted();
    const tasks = await from.tasks.listByJob(job.id);
    await to.jobs.create(job, tasks);
    counts.jobs++;
    counts.tasks += tasks.length;
  }
  // One transaction per repository rather than one per restore point.
  const byRepository = new Map<string, RestorePointRecord[]>();
  for (const rp of await from.restorePoints.list()) {
    const list = byRepository.get(rp.repository) ?? [];
    list.push(rp);
    byRepository.set(rp.repository, list);
  }
  for (const [repository, rps] of byRepository) {
    signal?.throwIfAborted();
    await to.restorePoints.replaceForRepository(repository, rps);
    counts.restorePoints += rps.length;
  }
  for (const mover of await from.movers.list()) {
    signal?.throwIfAborted();
    await to.movers.upsert(mover);
    counts.movers++;
  }
  return counts;
}
