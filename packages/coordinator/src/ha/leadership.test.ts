import { createLogger } from "@ferry/common";
import { describe, expect, it } from "vitest";
import type { LeaseHolder, LeaseState, LeaseStore } from "../catalog/catalog-store.js";
import { startLeadership } from "./leadership.js";

const quiet = createLogger({ name: "test", write: () => undefined });
const me = { holder: "coord-a#1", address: "10.0.0.1:7100" };
const other = { holder: "coord-b#1", address: "10.0.0.2:7100" };

/** A lease whose answers the test sets. */
function scriptedLease(first: LeaseState) {
  let answer: LeaseState = first;
  const released: LeaseHolder[] = [];
  const lease: LeaseStore = {
    acquire: async () => answer,
    release: async (h) => {
      released.push(h);
    },
  };
  const set = (a: LeaseState) => {
    answer = a;
  };
  return { lease, released, set };
}

describe("the lease loop", () => {
  it("runs a leader term while it holds the lease, ends it when another takes over, and starts a new one with the new token", async () => {
    const s = scriptedLease({ held: true, token: 1n });
    const terms: { token: bigint; closed: boolean }[] = [];
    const leadership = startLeadership({
      lease: s.lease,
      me,
      ttlMs: 60,
      logger: quiet,
      lead: async (token) => {
        const t = { token, closed: false };
        terms.push(t);
        return {
          async close() {
            t.closed = true;
          },
        };
      },
    });
    await leadership.ready;
    expect([leadership.isLeader(), leadership.token()]).toEqual([true, 1n]);
    s.set({ held: false, leader: other });
    await expect.poll(() => leadership.isLeader()).toBe(false);
    expect(leadership.leaderAddress()).toBe(other.address);
    expect(leadership.token()).toBe(0n);
    expect(terms).toEqual([{ token: 1n, closed: true }]);
    s.set({ held: true, token: 3n });
    await expect.poll(() => leadership.token()).toBe(3n);
    await leadership.close();
    expect(terms).toEqual([
      { token: 1n, closed: true },
      { token: 3n, closed: true },
    ]);
    expect(s.released).toEqual([me]);
  });

  it("stops leading when it cannot renew before its lease runs out", async () => {
    const s = scriptedLease({ held: true, token: 5n });
    const leadership = startLeadership({
      lease: s.lease,
      me,
      ttlMs: 60,
      logger: quiet,
      lead: async () => ({ close: async () => undefined }),
    });
    await leadership.ready;
    expect(leadership.isLeader()).toBe(true);
    // The database is gone: no renewal, and the lease's time runs out on our own clock.
    s.lease.acquire = () => new Promise<LeaseState>(() => undefined);
    await expect.poll(() => leadership.isLeader(), { timeout: 2000 }).toBe(false);
    expect(leadership.token()).toBe(0n);
    await leadership.close();
  });
});
