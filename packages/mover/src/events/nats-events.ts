import { type Logger, type NatsAccess, natsConnectOptions, safeUrl } from "@ferry/common";
import { connect, type NatsConnection } from "nats";

/** The mover's NATS connection for progress and task events. */
export interface EventsConnection {
  /** Undefined until the first connect succeeded. */
  readonly connection: NatsConnection | undefined;
  close(): Promise<void>;
}

/**
 * Connects to NATS in the background and keeps reconnecting: a NATS outage
 * costs progress messages, never a backup. Undefined when no URL is set.
 */
export async function connectEvents(
  url: string | undefined,
  logger: Logger,
  access?: NatsAccess,
): Promise<EventsConnection | undefined> {
  if (!url) return undefined;
  // Read now: a missing password file is a configuration error, not a NATS outage.
  const auth = await natsConnectOptions(access);
  let connection: NatsConnection | undefined;
  let closed = false;
  const attempt = async (): Promise<void> => {
    while (!closed && !connection) {
      try {
        connection = await connect({
          // A cluster's servers, comma-separated: any one of them gets the mover in.
          servers: url.split(","),
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
          name: "ferry-mover",
          ...auth,
        });
        logger.info("connected to NATS", { url: safeUrl(url) });
        watchClosed(connection);
      } catch (err) {
        logger.warn("NATS unreachable; retrying", { url: safeUrl(url), err });
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  // nats.js stops reconnecting for good in some cases (the same authentication error
  // twice): a closed connection is replaced, or a long-lived mover stays silent forever.
  const watchClosed = (c: NatsConnection) =>
    void c.closed().then((err) => {
      if (closed || connection !== c) return;
      logger.warn("NATS connection closed; connecting anew", {
        url: safeUrl(url),
        ...(err ? { err } : {}),
      });
      connection = undefined;
      void attempt();
    });
  const first = attempt();
  // Give a reachable server a moment so the first task's events are not lost.
  await Promise.race([first, new Promise((r) => setTimeout(r, 2000))]);
  return {
    get connection() {
      return connection;
    },
    async close() {
      closed = true;
      await connection?.drain().catch(() => undefined);
    },
  };
}
