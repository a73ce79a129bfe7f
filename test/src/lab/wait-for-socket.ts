import { connect } from "node:net";
import { FerryError } from "@ferry/common";
import type { LabChild } from "./child.js";

/** Waits until `path` accepts a connection, failing early if `child` exits. */
export async function waitForSocket(
  path: string,
  child: LabChild,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.hasExited)
      throw new FerryError(
        "PROCESS_FAILED",
        `${child.name} exited before listening on ${path}:\n${child.output()}`,
      );
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ path });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new FerryError(
    "DEADLINE_EXCEEDED",
    `${child.name} did not listen on ${path} within ${timeoutMs} ms`,
  );
}
