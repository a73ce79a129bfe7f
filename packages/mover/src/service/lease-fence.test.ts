import {
  bindService,
  createClient,
  FerryError,
  leaseTokenMetadata,
  MoverService,
  type ServiceImpl,
  startGrpcServer,
} from "@ferry/common";
import { describe, expect, it } from "vitest";
import { createLeaseFence, fencedMoverService } from "./lease-fence.js";

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
