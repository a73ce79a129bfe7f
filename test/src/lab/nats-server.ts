import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LabChild, spawnChild } from "./child.js";

/** A nats-server this helper started, with JetStream on a temporary store. */
export interface NatsServer extends AsyncDisposable {
  /** "nats://127.0.0.1:PORT" */
  readonly url: string;
  readonly port: number;
  readonly process: LabChild;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its store. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts nats-server on 127.0.0.1 on a free port and waits until it accepts clients; with
 * `auth`, only that user and password get in.
 */
export async function startNatsServer(
  options: { timeoutMs?: number; auth?: { user: string; pass: string }; port?: number } = {},
): Promise<NatsServer> {
  const store = await mkdtemp(join(tmpdir(), "ferry-nats-"));
  const child = await spawnChild(
    "nats-server",
    "nats-server",
    [
      "-a",
      "127.0.0.1",
      "-p",
      // -1 lets the server pick a free port itself: no race with other tests.
      String(options.port ?? -1),
      "-js",
      "-sd",
      store,
      ...(options.auth ? ["--user", options.auth.user, "--pass", options.auth.pass] : []),
    ],
    {
      debianPackage: "nats-server",
    },
  );
  try {
    const timeoutMs = options.timeoutMs ?? 15_000;
    const [, port] = await child.waitForOutput(
      /Listening for client connections on 127\.0\.0\.1:(\d+)/,
      timeoutMs,
    );
    await child.waitForOutput(/Server is ready/, timeoutMs);
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        if (!(await child.terminate("SIGTERM", 5000))) await child.terminate("SIGKILL", 5000);
        await rm(store, { recursive: true, force: true });
      })();
      return stopping;
    };
    return {
      url: `nats://127.0.0.1:${port}`,
      port: Number(port),
      process: child,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await child.terminate("SIGKILL", 5000);
    await rm(store, { recursive: true, force: true });
    throw err;
  }
}
