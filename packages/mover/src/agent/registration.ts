import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  backoffDelay,
  type DatastoreLatency,
  type LeaderDialer,
  type Logger,
  type MoverRegistryService,
  type RegisterRequestSchema,
  sleep,
  toFerryError,
} from "@ferry/common";
import { sampleMetrics } from "./metrics.js";

/** Options of {@link runRegistration}. */
export interface RegistrationOptions {
  /** The coordinators to register with: the leader among them, found by asking. */
  coordinators: LeaderDialer<typeof MoverRegistryService>;
  /** Builds a fresh registration (inventory is re-read on each registration). */
  describe: (signal: AbortSignal) => Promise<MessageInitShape<typeof RegisterRequestSchema>>;
  runningTaskIds: () => string[];
  /** Guest I/O latency per datastore for the heartbeat; must not throw. */
  datastoreLatencies?: (signal: AbortSignal) => Promise<DatastoreLatency[]>;
  logger: Logger;
  signal: AbortSignal;
  /** Re-register with a fresh inventory this often, milliseconds (default 60000). */
  refreshMs?: number;
  /** Called after every successful register; must not block. */
  onRegistered?: () => void;
  /** Called when a heartbeat or registration fails or is refused; must not block. */
  onUnregistered?: () => void;
}

// Retries of a failed registration: up to 250 ms, doubling to at most 10 s, jittered.
const BACKOFF = { baseMs: 250, capMs: 10_000 };

/**
 * Registers with the coordinator and heartbeats until `signal` aborts. A
 * coordinator that is down or forgot the mover is retried with backoff and
 * registered with again; this loop never throws except on abort.
 */
export async function runRegistration(options: RegistrationOptions): Promise<void> {
  const { coordinators, logger, signal } = options;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const request = await options.describe(signal);
      const moverId = request.mover?.id ?? "";
      const registry = coordinators.client();
      const reply = await registry.register(request, { signal, timeoutMs: 10_000 });
      const intervalMs = Math.max(100, reply.heartbeatIntervalMs || 5000);
      logger.info("registered with the coordinator", {
        coordinator: coordinators.address(),
        heartbeatIntervalMs: intervalMs,
        vms: request.vms?.length ?? 0,
      });
      options.onRegistered?.();
      failures = 0;
      const registeredAt = Date.now();
      for (;;) {
        await sleep(intervalMs, signal);
        // Registering again carries the current inventory: VMs come, go and change.
        if (Date.now() - registeredAt >= (options.refreshMs ?? 60_000)) break;
        const running = options.runningTaskIds();
        const beat = await registry.heartbeat(
          {
            moverId,
            metrics: sampleMetrics(running.length, await options.datastoreLatencies?.(signal)),
            runningTaskIds: running,
          },
          { signal, timeoutMs: intervalMs * 2 },
        );
        if (!beat.known) {
          options.onUnregistered?.();
          logger.warn("the coordinator does not know this mover; registering again");
          break;
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      options.onUnregistered?.();
      const fe = toFerryError(err);
      // A follower named the leader: go there at once.
      if (coordinators.moveOn(fe)) {
        logger.info("going to the leading coordinator", { coordinator: coordinators.address() });
        continue;
      }
      const backoffMs = backoffDelay(++failures, BACKOFF);
      // Refusals are kept trying too (an operator may fix the coordinator side), but louder.
      if (fe.retryable)
        logger.warn("coordinator unreachable; retrying", { err: fe, retryInMs: backoffMs });
      else logger.error("registration refused; retrying", { err: fe, retryInMs: backoffMs });
      await sleep(backoffMs, signal).catch(() => undefined);
    }
  }
}
