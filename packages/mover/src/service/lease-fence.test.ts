import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bindService,
  createClient,
  createLogger,
  FerryError,
  leaseTokenMetadata,
  MoverService,
  type ServiceImpl,
  startGrpcServer,
} from "@ferry/common";
import { describe, expect, it } from "vitest";
import { createLeaseFence, fencedMoverService } from "./lease-fence.js";
import { readLeaseToken, writeLeaseToken } from "./lease-token-file.js";

const unused = async (): Promise<never> => {
  throw new FerryError("UNIMPLEMENTED", "not in this test");
};

describe("the mover's lease fence", () => {
  it("refuses commands from a coordinator whose lease ended, and lets reads through", async () => {
    const cancelled: string[] = [];
    const impl = {
      describe: async () => ({}),
      cancel: async (req: { taskId: string }) => {
        cancelled.push(req.taskId);
        return { cancelled: true };
      },
      runBackup: unused,
      runRestore: unused,
      setReadRateLimit: unused,
      listFiles: unused,
      extractFiles: unused,
      listRepository: unused,
      verifyRepository: unused,
      collectRepositoryGarbage: unused,
      deleteRestorePoints: unused,
    } as unknown as ServiceImpl<typeof MoverService>;
    await using server = await startGrpcServer({
      services: [bindService(MoverService, fencedMoverService(impl, createLeaseFence()))],
    });
    const coordinator = (token: bigint) =>
      createClient(MoverService, server.address, { metadata: leaseTokenMetadata(token) });
    using leader2 = coordinator(2n);
    using paused1 = coordinator(1n);
    using leader3 = coordinator(3n);
    using noLease = coordinator(0n);
    await leader2.cancel({ taskId: "a" });
    await expect(paused1.cancel({ taskId: "b" })).rejects.toMatchObject({
      code: "FAILED_PRECONDITION",
      message: expect.stringContaining("lease ended (token 1; the leader's is 2)"),
    });
    await leader3.cancel({ taskId: "c" });
    await expect(leader2.cancel({ taskId: "d" })).rejects.toMatchObject({
      code: "FAILED_PRECONDITION",
    });
    await expect(noLease.cancel({ taskId: "e" })).rejects.toMatchObject({
      code: "FAILED_PRECONDITION",
    });
    expect(cancelled).toEqual(["a", "c"]);
    // A read from the old leader is answered.
    await expect(paused1.describe({})).resolves.toBeDefined();
  });
});

describe("the newest lease token across a mover's restart", () => {
  it("is stored when it grows and read back by the next mover, which refuses the old leader", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-fence-"));
    try {
      const quiet = createLogger({ name: "test", write: () => undefined });
      expect(readLeaseToken(dir)).toBe(0n);
      const first = createLeaseFence(readLeaseToken(dir), (t) => writeLeaseToken(dir, t, quiet));
      first.admit(7n, "runBackup");
      first.admit(7n, "cancel");
      // Restarted: the token survives, and the paused leader's command is refused.
      const next = createLeaseFence(readLeaseToken(dir));
      expect(next.newest()).toBe(7n);
      expect(() => next.admit(6n, "runBackup")).toThrow(
        /lease ended \(token 6; the leader's is 7\)/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
