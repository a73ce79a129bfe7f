import { FerryError, type OperatorService, type ServiceImpl } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { createDispatcherSlot } from "./dispatcher-slot.js";
import { followerGate } from "./follower-gate.js";

describe("a follower coordinator", () => {
  const impl = {
    listJobs: async () => ({ jobs: [] }),
    backupNow: async () => ({}),
  } as unknown as ServiceImpl<typeof OperatorService>;
  const ctx = { signal: new AbortController().signal, metadata: {}, peer: "test" };

  it("serves reads of the shared catalog and refuses the rest naming the leader", async () => {
    let leads = false;
    const gated = followerGate(impl, {
      isLeader: () => leads,
      leaderAddress: () => "10.0.0.1:7100",
      reads: ["listJobs"],
    });
    await expect(gated.listJobs({} as never, ctx)).resolves.toEqual({ jobs: [] });
    let refused: unknown;
    try {
      await gated.backupNow({} as never, ctx);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(FerryError);
    expect(refused).toMatchObject({
      code: "NOT_LEADER",
      details: { leader: "10.0.0.1:7100" },
      message: "backupNow: this coordinator is a follower; the leader is at 10.0.0.1:7100",
    });
    leads = true;
    await expect(gated.backupNow({} as never, ctx)).resolves.toEqual({});
  });

  it("has no dispatcher: a kick does nothing, a cancel is refused", async () => {
    const slot = createDispatcherSlot(() => undefined);
    slot.kick();
    expect(slot.waitReasons().size).toBe(0);
    await expect(slot.cancelJob("job-1")).rejects.toMatchObject({
      code: "NOT_LEADER",
      message:
        "cancel: this coordinator is a follower and no leader is known yet; try again shortly",
    });
  });
});
