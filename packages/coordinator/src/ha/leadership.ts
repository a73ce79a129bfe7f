// The lease loop: try to take or keep the leader lease every third of its length, start a
// leader term (dispatcher, scheduler) when it is won, end the term when it is lost or runs
// out unrenewed. Several coordinators on one catalog: exactly one leads at a time.
import { performance } from "node:perf_hooks";
import { type Logger, toFerryError } from "@ferry/common";
import type { LeaseHolder, LeaseState, LeaseStore } from "../catalog/catalog-store.js";
import { mayLead, nextRole, type Role } from "./lease-role.js";

/** What a leader runs; closed when it stops leading. */
export interface LeaderTerm {
  close(): Promise<void>;
}

/** Options of {@link startLeadership}. */
export interface LeadershipOptions {
  lease: LeaseStore;
  me: LeaseHolder;
  /** The lease's length, ms; renewed every third of it. */
  ttlMs: number;
  /** Starts a leader term with its fencing token. */
  lead(token: bigint): Promise<LeaderTerm>;
  logger: Logger;
}

/** This coordinator's place among the coordinators sharing its catalog. */
export interface Leadership {
  /** True while this coordinator holds a lease it may act on. */
  isLeader(): boolean;
  /** The leader's address as last seen, when another coordinator leads. */
  leaderAddress(): string | undefined;
  /** The token of the term now led; 0 when not leading. */
  token(): bigint;
  /** Resolves after the first attempt on the lease, so the role is known. */
  readonly ready: Promise<void>;
  /** Ends the term (if leading), gives the lease up and stops trying. */
  close(): Promise<void>;
}

/** Starts trying for the lease. */
export function startLeadership(o: LeadershipOptions): Leadership {
  let role: Role = { t: "follower" };
  let term: { token: bigint; run: LeaderTerm } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const every = Math.max(1, Math.floor(o.ttlMs / 3));

  const endTerm = async (why: string) => {
    const ending = term;
    term = undefined;
    if (!ending) return;
    o.logger.warn("no longer the leader", { term: String(ending.token), why });
    await ending.run
      .close()
      .catch((err: unknown) =>
        o.logger.error("cannot end the leader term", { err: toFerryError(err) }),
      );
  };

  const attempt = async () => {
    const askedAt = performance.now();
    let result: LeaseState | "error";
    try {
      result = await o.lease.acquire(o.me, o.ttlMs);
    } catch (err) {
      o.logger.warn("cannot reach the leader lease", { err: toFerryError(err) });
      result = "error";
    }
    if (closed) return;
    role = nextRole(role, result, askedAt, o.ttlMs);
    if (!mayLead(role, performance.now())) {
      await endTerm(
        role.t === "follower"
          ? "another coordinator holds the lease"
          : "the lease ran out unrenewed",
      );
      return;
    }
    if (role.t === "leader" && term?.token !== role.token) {
      await endTerm("a new term began");
      o.logger.info("leading the coordinators", { term: String(role.token) });
      const run = await o.lead(role.token);
      // Closed while the term started: end it at once, nothing may outlive close().
      if (closed) await run.close();
      else term = { token: role.token, run };
    }
  };

  // One attempt at a time; the next is due a third of the lease after the last began.
  const loop = async () => {
    const began = performance.now();
    await attempt().catch((err: unknown) =>
      o.logger.error("leader lease loop failed", { err: toFerryError(err) }),
    );
    if (closed) return;
    timer = setTimeout(loop, Math.max(0, every - (performance.now() - began)));
  };
  const ready = attempt().catch((err: unknown) =>
    o.logger.error("leader lease loop failed", { err: toFerryError(err) }),
  );
  void ready.then(() => {
    if (!closed) timer = setTimeout(loop, every);
  });

  return {
    isLeader: () => term !== undefined && mayLead(role, performance.now()),
    leaderAddress: () => (role.t === "follower" ? role.leader?.address : undefined),
    token: () => (term && mayLead(role, performance.now()) ? term.token : 0n),
    ready,
    async close() {
      closed = true;
      clearTimeout(timer);
      await ready;
      const led = term !== undefined;
      await endTerm("the coordinator is stopping");
      if (led) await o.lease.release(o.me).catch(() => undefined);
    },
  };
}
