import { createLogger, isFerryError, type Repository } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { runDomainRestore } from "./domain-restore-task.js";

describe("a domain restore task", () => {
  it("is refused by a mover without the libvirt adapter, naming the setting it lacks", async () => {
    const err = await runDomainRestore({
      virsh: undefined,
      moverId: "mover-q",
      // Never reached: the refusal comes first.
      repository: {} as Repository,
      restorePointId: "vm/rp",
      taskId: "t1",
      name: "web-2",
      imageDir: "/srv/restored",
      instant: false,
      runDir: "/run/ferry",
      logger: createLogger({ name: "test", level: "error", write: () => undefined }),
      signal: new AbortController().signal,
    }).catch((e: unknown) => e);
    expect(isFerryError(err, "FAILED_PRECONDITION")).toBe(true);
    expect((err as Error).message).toBe(
      'mover mover-q does not run the libvirt adapter ("hypervisor": {"libvirt": URI}): it cannot define domain web-2',
    );
  });
});
