// Repository maintenance on movers: the coordinator picks a mover and asks it. It never
// opens a repository and holds no passphrase; each mover uses its own.

import {
  type ChannelCredentials,
  type Client,
  type ClientHandle,
  type CollectRepositoryGarbageResponse,
  type DeleteRestorePointsResponse,
  FerryError,
  type Logger,
  type MoverService,
  type RestorePoint,
  throwIfAborted,
  toFerryError,
  type VerifyRepositoryResponse,
} from "@ferry/common";
import type { CatalogStore } from "../catalog/catalog-store.js";
import { moverClient } from "../dispatch/mover-client.js";
import type { MoverRegistry } from "../registry/mover-registry.js";
import { bestMaintenanceMover, maintenanceMovers } from "./maintenance-movers.js";

/** A mover's answer and which mover gave it. */
export interface Maintained<T> {
  result: T;
  moverId: string;
}

/**
 * Maintenance calls, each run on one up mover (see maintenanceMovers). Every repository path
 * is one the movers see. Aborting `signal` cancels the mover's work too.
 */
export interface RepositoryMaintenance extends Disposable {
  /**
   * Restore points with their recorded verify and boot test; empty `restorePointIds` = all.
   * `reached`: movers known to reach the repository (those that wrote the restore points
   * asked about), asked first; the catalog is asked which movers wrote into it otherwise.
   */
  list(
    repository: string,
    restorePointIds: readonly string[],
    signal: AbortSignal,
    reached?: ReadonlySet<string>,
  ): Promise<Maintained<RestorePoint[]>>;
  /** Re-reads every chunk of the restore points (empty = all); records each one's state. */
  verify(
    repository: string,
    restorePointIds: readonly string[],
    signal: AbortSignal,
  ): Promise<Maintained<VerifyRepositoryResponse>>;
  /** Mark and sweep; `graceMs` default 5 minutes. */
  collectGarbage(
    repository: string,
    options: { dryRun: boolean; graceMs?: number },
    signal: AbortSignal,
  ): Promise<Maintained<CollectRepositoryGarbageResponse>>;
  /** Deletes restore points; per id: deleted, missing or failed. */
  deleteRestorePoints(
    repository: string,
    restorePointIds: readonly string[],
    signal: AbortSignal,
  ): Promise<Maintained<DeleteRestorePointsResponse>>;
  /** Closes the connections to movers it keeps. Idempotent; later calls dial again. */
  close(): void;
}

/** What {@link createRepositoryMaintenance} needs. */
export interface RepositoryMaintenanceDeps {
  registry: MoverRegistry;
  /** Read for the movers that wrote into a repository: they are asked first. */
  catalog: CatalogStore;
  /** How to reach movers (mutual TLS when configured). */
  moverCredentials?: ChannelCredentials;
  /** The lease token this coordinator leads with now (fencing); absent without a lease. */
  leaseToken?: () => bigint;
  logger: Logger;
}

type MoverCall<T> = (client: Client<typeof MoverService>, signal: AbortSignal) => Promise<T>;

// A connection to a mover is kept this long after its last call: a listing asks a mover for
// verify states each time, and dialing costs more than the call.
const IDLE_CLOSE_MS = 60_000;

interface Kept {
  client: ClientHandle<typeof MoverService>;
  calls: number;
  idle?: NodeJS.Timeout;
}

/**
 * Runs maintenance on movers. A mover that cannot be reached (UNAVAILABLE), or that does not
 * find a repository it never wrote to (NOT_FOUND: it may not see that path), hands the call
 * to the next one; other errors are the answer, with the mover named in the message.
 */
export function createRepositoryMaintenance(
  deps: RepositoryMaintenanceDeps,
): RepositoryMaintenance {
  const maintaining = new Map<string, number>();
  const count = (moverId: string, delta: number) => {
    const n = (maintaining.get(moverId) ?? 0) + delta;
    if (n > 0) maintaining.set(moverId, n);
    else maintaining.delete(moverId);
  };

  // By address and lease token: a new leadership term dials with its own token (fencing).
  const kept = new Map<string, Kept>();
  const dial = (address: string) => {
    const key = `${address} ${deps.leaseToken?.() ?? 0n}`;
    let k = kept.get(key);
    if (!k) {
      k = { client: moverClient(deps, address), calls: 0 };
      kept.set(key, k);
    }
    clearTimeout(k.idle);
    k.calls++;
    const entry = k;
    return {
      client: k.client,
      done: () => {
        if (--entry.calls > 0 || kept.get(key) !== entry) return;
        entry.idle = setTimeout(() => {
          kept.delete(key);
          entry.client.close();
        }, IDLE_CLOSE_MS);
        entry.idle.unref();
      },
    };
  };
  const close = () => {
    for (const k of kept.values()) {
      clearTimeout(k.idle);
      k.client.close();
    }
    kept.clear();
  };

  const onMover = async <T>(
    what: string,
    repository: string,
    signal: AbortSignal,
    call: MoverCall<T>,
    knownReached?: ReadonlySet<string>,
  ): Promise<Maintained<T>> => {
    const reached =
      knownReached && knownReached.size > 0
        ? knownReached
        : new Set(await deps.catalog.restorePoints.moverIds(repository));
    const all = deps.registry.movers();
    const hints = { reached, maintaining };
    // The best mover alone, found without sorting them all; the whole order only once it
    // fails (a restore point listing sorted a thousand movers to ask one).
    let movers = [bestMaintenanceMover(all, hints, `${what} ${repository}`)];
    const asked: string[] = [];
    for (let i = 0; i < movers.length; i++) {
      const mover = movers[i];
      if (mover === undefined) break;
      throwIfAborted(signal, `${what} ${repository}`);
      asked.push(mover.id);
      count(mover.id, 1);
      // Released in finally, not by `using`: esbuild's lowering of `using` in a loop (vitest)
      // rethrew an earlier iteration's error.
      const { client, done } = dial(mover.address);
      try {
        return { result: await call(client, signal), moverId: mover.id };
      } catch (err) {
        const e = toFerryError(err);
        if (movers.length === 1)
          movers = [
            mover,
            ...maintenanceMovers(all, hints, `${what} ${repository}`).filter(
              (m) => m.id !== mover.id,
            ),
          ];
        const another =
          i < movers.length - 1 &&
          !signal.aborted &&
          (e.code === "UNAVAILABLE" || (e.code === "NOT_FOUND" && !reached.has(mover.id)));
        if (!another) {
          const on = asked.length === 1 ? `on mover ${mover.id}` : `asked ${asked.join(", ")}`;
          throw new FerryError(e.code, `${e.message} (${on})`, {
            cause: e,
            retryable: e.retryable,
          });
        }
        deps.logger.warn("repository maintenance: asking another mover", {
          what,
          repository,
          moverId: mover.id,
          err: e,
        });
      } finally {
        done();
        count(mover.id, -1);
      }
    }
    // maintenanceMovers returns at least one mover, and the last one's error is thrown.
    throw new FerryError("INTERNAL", `no mover answered to ${what} ${repository}`);
  };

  return {
    list: (repository, restorePointIds, signal, reached) =>
      onMover(
        "list the restore points of",
        repository,
        signal,
        async (c, s) => {
          const res = await c.listRepository(
            { repository, restorePointIds: [...restorePointIds] },
            { signal: s },
          );
          return res.restorePoints;
        },
        reached,
      ),
    verify: (repository, restorePointIds, signal) =>
      onMover("verify", repository, signal, (c, s) =>
        c.verifyRepository({ repository, restorePointIds: [...restorePointIds] }, { signal: s }),
      ),
    collectGarbage: (repository, options, signal) =>
      onMover("collect garbage in", repository, signal, (c, s) =>
        c.collectRepositoryGarbage(
          {
            repository,
            dryRun: options.dryRun,
            ...(options.graceMs === undefined ? {} : { graceMs: BigInt(options.graceMs) }),
          },
          { signal: s },
        ),
      ),
    deleteRestorePoints: (repository, restorePointIds, signal) =>
      onMover("delete restore points in", repository, signal, (c, s) =>
        c.deleteRestorePoints({ repository, restorePointIds: [...restorePointIds] }, { signal: s }),
      ),
    close,
    [Symbol.dispose]: close,
  };
}
