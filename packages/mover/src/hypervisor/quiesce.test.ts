import { createLogger, FerryError, isFerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import type { GuestAgent, GuestAgentCallOptions } from "./guest-agent-client.js";
import { type QuiesceMode, withQuiesce } from "./quiesce.js";

const logger = createLogger({ name: "test", level: "error" });

/**
 * An agent whose freeze takes `freezeMs`, and which, like qemu-ga, runs one command at a
 * time: a thaw sent meanwhile is answered only after the freeze has finished (and frozen).
 */
function slowFreezeAgent(freezeMs: number) {
  const log: string[] = [];
  let state: "thawed" | "frozen" = "thawed";
  let busy: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>, options?: GuestAgentCallOptions, what = "") => {
    const result = busy.then(run);
    busy = result.catch(() => undefined);
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs === undefined) return result;
    return Promise.race([
      result,
      new Promise<never>((_, reject) =>
        setTimeout(
          () =>
            reject(new FerryError("DEADLINE_EXCEEDED", `${what} timed out after ${timeoutMs} ms`)),
          timeoutMs,
        ).unref(),
      ),
    ]);
  };
  const agent: GuestAgent = {
    execute: () => Promise.reject(new Error("not used")),
    ping: async () => undefined,
    freeze: (options) =>
      serial(
        async () => {
          await new Promise((r) => setTimeout(r, freezeMs));
          state = "frozen";
          log.push("frozen");
          return 1;
        },
        options,
        "guest-fsfreeze-freeze",
      ),
    thaw: (options) =>
      serial(
        async () => {
          state = "thawed";
          log.push("thawed");
          return 1;
        },
        options,
        "guest-fsfreeze-thaw",
      ),
    freezeStatus: (options) => serial(async () => state, options, "guest-fsfreeze-status"),
    close: async () => {
      log.push("closed");
    },
    [Symbol.asyncDispose]: async () => undefined,
  };
  return { agent, log, state: () => state };
}

const quiesce = (mode: QuiesceMode, agent: GuestAgent, snapshot: () => Promise<string>) =>
  withQuiesce({ mode, agent: async () => agent, freezeTimeoutMs: 50, logger }, snapshot);

describe("withQuiesce with a freeze that hangs past its timeout", () => {
  it("required: fails QUIESCE_FAILED naming the timeout, takes no snapshot, and thaws after the late freeze", async () => {
    const fake = slowFreezeAgent(300);
    let snapshots = 0;
    const err = await quiesce("required", fake.agent, async () => {
      snapshots++;
      return "view";
    }).catch((e: unknown) => e);
    expect(isFerryError(err, "QUIESCE_FAILED")).toBe(true);
    expect((err as FerryError).message).toMatch(/guest-fsfreeze-freeze timed out after 50 ms/);
    expect(snapshots).toBe(0);
    // The freeze finished after the timeout; the thaw came after it, before the task ended.
    expect(fake.log).toEqual(["frozen", "thawed", "closed"]);
    expect(fake.state()).toBe("thawed");
  });

  it("preferred: takes a crash-consistent snapshot at once, then thaws after the late freeze", async () => {
    const fake = slowFreezeAgent(300);
    const order: string[] = [];
    const { result, consistency } = await quiesce("preferred", fake.agent, async () => {
      order.push(`snapshot while ${fake.state()}`);
      return "view";
    });
    expect(result).toBe("view");
    expect(consistency).toBe("crash");
    expect(order).toEqual(["snapshot while thawed"]);
    expect(fake.log).toEqual(["frozen", "thawed", "closed"]);
  });

  it("a freeze within its timeout: application-consistent, thawed right after the snapshot", async () => {
    const fake = slowFreezeAgent(0);
    const order: string[] = [];
    const { consistency } = await withQuiesce(
      { mode: "required", agent: async () => fake.agent, freezeTimeoutMs: 5000, logger },
      async () => {
        order.push(`snapshot while ${fake.state()}`);
      },
    );
    expect(consistency).toBe("application");
    expect(order).toEqual(["snapshot while frozen"]);
    expect(fake.log).toEqual(["frozen", "thawed", "closed"]);
  });
});

describe("withQuiesce while an earlier task's late thaw of the same guest runs", () => {
  it("does not freeze again: required fails naming the late thaw, preferred goes on crash-consistent", async () => {
    // Its thaws are refused three times, so the task hands the thaw to the background.
    const stuck = slowFreezeAgent(0);
    stuck.agent.thaw = () => Promise.reject(new FerryError("GUEST_AGENT_ERROR", "thaw refused"));
    const guestId = `guest-${Math.random()}`;
    await withQuiesce(
      { mode: "required", agent: async () => stuck.agent, guestId, freezeTimeoutMs: 1000, logger },
      async () => "view",
    );
    expect(stuck.state()).toBe("frozen");

    const next = slowFreezeAgent(0);
    const options = { agent: async () => next.agent, guestId, freezeTimeoutMs: 1000, logger };
    const err = await withQuiesce({ ...options, mode: "required" }, async () => "view").catch(
      (e: unknown) => e,
    );
    expect(isFerryError(err, "QUIESCE_FAILED")).toBe(true);
    expect((err as FerryError).message).toMatch(/late thaw is running/);
    const preferred = await withQuiesce({ ...options, mode: "preferred" }, async () => "view");
    expect(preferred.consistency).toBe("crash");
    // The second task never froze (nor thawed) the guest under the late thaw's feet.
    expect(next.log.filter((l) => l !== "closed")).toEqual([]);
    // Another guest is not held back.
    const other = slowFreezeAgent(0);
    const { consistency } = await withQuiesce(
      { ...options, agent: async () => other.agent, guestId: "other", mode: "required" },
      async () => "view",
    );
    expect(consistency).toBe("application");
  });
});
