import { createLogger, Phase } from "@ferry/common";
import { describe, expect, it } from "vitest";
import type { GuestAgent } from "../hypervisor/guest-agent-client.js";
import type { QuiesceMode } from "../hypervisor/quiesce.js";
import { quiescedSnapshot } from "./quiesced-snapshot.js";

const logger = createLogger({ name: "test", level: "error" });

/** Runs a quiesced snapshot; `events` holds reported phases and what the guest saw, in order. */
async function run(mode: QuiesceMode, withAgent: boolean) {
  const events: string[] = [];
  const agent: GuestAgent = {
    execute: () => Promise.reject(new Error("not used")),
    ping: async () => undefined,
    freeze: async () => {
      events.push("guest frozen");
      return 1;
    },
    thaw: async () => {
      events.push("guest thawed");
      return 1;
    },
    freezeStatus: async () => "thawed",
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
  const consistency = await quiescedSnapshot(
    {
      mode,
      agent: withAgent ? async () => agent : undefined,
      freezeTimeoutMs: 1000,
      reporter: { phase: (p) => events.push(`phase ${Phase[p]}`) },
      logger,
    },
    async () => {
      events.push("snapshot taken");
    },
  );
  return { events, consistency };
}

describe("quiescedSnapshot", () => {
  it("reports quiescing, then snapshotting once the guest is frozen, and thaws after", async () => {
    expect(await run("required", true)).toEqual({
      events: [
        "phase QUIESCING",
        "guest frozen",
        "phase SNAPSHOTTING",
        "snapshot taken",
        "guest thawed",
      ],
      consistency: "application",
    });
  });

  it("still reports quiescing before snapshotting when the freeze cannot happen (preferred)", async () => {
    expect(await run("preferred", false)).toEqual({
      events: ["phase QUIESCING", "phase SNAPSHOTTING", "snapshot taken"],
      consistency: "crash",
    });
  });

  it("skips quiescing when the mode is off", async () => {
    expect(await run("off", true)).toEqual({
      events: ["phase SNAPSHOTTING", "snapshot taken"],
      consistency: "crash",
    });
  });
});
