import { FerryError, type Logger, toFerryError } from "@ferry/common";
import type { GuestAgent } from "./guest-agent-client.js";

/** What to do when the guest cannot be frozen. */
export type QuiesceMode = "required" | "preferred" | "off";

/** How consistent the point-in-time view is. */
export type Consistency = "application" | "crash";

/** Options of {@link withQuiesce}. */
export interface QuiesceOptions {
  mode: QuiesceMode;
  /** Opens the guest agent; undefined when the VM has none. */
  agent: (() => Promise<GuestAgent>) | undefined;
  /**
   * Names the guest across tasks (its agent socket): no freeze is tried while an earlier
   * task's late thaw of it still runs, or that thaw could undo this freeze mid-snapshot.
   */
  guestId?: string;
  /** Limit for the freeze itself, milliseconds (a hung freeze is the common failure). */
  freezeTimeoutMs: number;
  logger: Logger;
  signal?: AbortSignal;
}

/**
 * Runs `snapshot` with the guest's filesystems frozen when the policy allows,
 * and thaws right after, always, also when `snapshot` fails. Resolves with
 * the snapshot's result and the consistency achieved.
 */
export async function withQuiesce<T>(
  options: QuiesceOptions,
  snapshot: () => Promise<T>,
): Promise<{ result: T; consistency: Consistency }> {
  if (options.mode === "off") return { result: await snapshot(), consistency: "crash" };
  let agent: GuestAgent | undefined;
  let frozen = false;
  try {
    try {
      if (!options.agent)
        throw new FerryError("QUIESCE_FAILED", "the VM has no guest agent socket");
      if (options.guestId !== undefined && lateThaws.has(options.guestId))
        throw new FerryError(
          "QUIESCE_FAILED",
          "an earlier freeze of this guest is still being undone (a late thaw is running)",
        );
      agent = await options.agent();
      const count = await agent.freeze({
        timeoutMs: options.freezeTimeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      frozen = true;
      options.logger.info("guest filesystems frozen", { filesystems: count });
    } catch (err) {
      const cause = toFerryError(err);
      // A freeze that timed out may still complete in the guest: thaw anyway below.
      frozen = agent !== undefined;
      // A cancelled task is cancelled, not a quiesce failure.
      if (options.signal?.aborted) throw toFerryError(options.signal.reason);
      if (options.mode === "required") {
        throw new FerryError("QUIESCE_FAILED", `cannot quiesce the guest: ${cause.message}`, {
          cause,
        });
      }
      options.logger.warn("quiesce failed; taking a crash-consistent view", { err: cause });
      return { result: await snapshot(), consistency: "crash" };
    }
    return { result: await snapshot(), consistency: "application" };
  } finally {
    if (agent) {
      if (frozen && !(await thaw(agent, options.logger))) {
        // Still not thawed (a slow freeze may finish later): keep trying on a
        // fresh connection after the task is gone; a frozen guest is an outage.
        if (options.agent) {
          const key = options.guestId ?? Symbol("guest");
          lateThaws.set(
            key,
            thawInBackground(options.agent, options.logger).finally(() => lateThaws.delete(key)),
          );
        }
      }
      await agent.close();
    }
  }
}

// Thaw must not be skipped by a cancelled task: it gets its own short deadline.
async function thaw(agent: GuestAgent, logger: Logger): Promise<boolean> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await agent.thaw({ timeoutMs: 10_000 });
      logger.info("guest filesystems thawed");
      return true;
    } catch (err) {
      logger.error("thaw failed", { attempt, err: toFerryError(err) });
    }
  }
  return false;
}

const BACKGROUND_THAW_MS = 10 * 60_000;

// Late thaws still running, by guest id, across every task of this mover.
const lateThaws = new Map<string | symbol, Promise<void>>();

async function thawInBackground(open: () => Promise<GuestAgent>, logger: Logger): Promise<void> {
  const until = Date.now() + BACKGROUND_THAW_MS;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 5000).unref());
    try {
      await using agent = await open();
      if ((await agent.freezeStatus({ timeoutMs: 10_000 })) === "thawed") return;
      await agent.thaw({ timeoutMs: 10_000 });
      logger.warn("guest filesystems thawed late, after the task");
      return;
    } catch (err) {
      logger.error("the guest may still be frozen; retrying the thaw", { err: toFerryError(err) });
    }
  }
  logger.error("gave up thawing the guest after 10 minutes: thaw it by hand (guest-fsfreeze-thaw)");
}
