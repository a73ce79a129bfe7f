// The benchmark's side of a fleet process (control-plane-fleet.ts): forks it and turns its
// IPC replies into promises, one command in flight at a time.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { FerryError } from "@ferry/common";
import type { FleetCommand, FleetReply } from "./control-plane-fleet.js";

const FLEET_MAIN = fileURLToPath(new URL("./control-plane-fleet.js", import.meta.url));

/** One fleet process. */
export interface FleetProcess extends AsyncDisposable {
  readonly pid: number;
  /** Sends `command` and resolves with the reply of type `t` (an "error" reply rejects). */
  ask<T extends FleetReply["t"]>(
    command: FleetCommand,
    t: T,
    timeoutMs: number,
  ): Promise<Extract<FleetReply, { t: T }>>;
  /** Stops its movers and waits for it to exit; kills it if it hangs. Idempotent. */
  stop(): Promise<void>;
}

/** Forks a fleet process (it waits for a "start" command). */
export function forkFleet(): FleetProcess {
  const child: ChildProcess = fork(FLEET_MAIN, [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: ["--enable-source-maps"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let queue: Promise<unknown> = Promise.resolve();
  const ask = <T extends FleetReply["t"]>(command: FleetCommand, t: T, timeoutMs: number) => {
    const asked = queue.then(
      () =>
        new Promise<Extract<FleetReply, { t: T }>>((resolve, reject) => {
          const timer = setTimeout(
            () =>
              done(new FerryError("DEADLINE_EXCEEDED", `fleet: no ${t} within ${timeoutMs} ms`)),
            timeoutMs,
          );
          const onMessage = (reply: FleetReply) => {
            if (reply.t === "error") done(new FerryError("INTERNAL", `fleet: ${reply.message}`));
            else if (reply.t === t) done(undefined, reply as Extract<FleetReply, { t: T }>);
          };
          const onExit = () => done(new FerryError("PROCESS_FAILED", "a fleet process exited"));
          const done = (err: Error | undefined, reply?: Extract<FleetReply, { t: T }>) => {
            clearTimeout(timer);
            child.off("message", onMessage);
            child.off("exit", onExit);
            if (err) reject(err);
            else resolve(reply as Extract<FleetReply, { t: T }>);
          };
          child.on("message", onMessage);
          child.once("exit", onExit);
          child.send(command);
        }),
    );
    queue = asked.catch(() => undefined);
    return asked;
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await ask({ t: "stop" }, "stopped", 30_000).catch(() => child.kill("SIGKILL"));
      await exited;
    })();
    return stopping;
  };
  return { pid: child.pid as number, ask, stop, [Symbol.asyncDispose]: stop };
}
