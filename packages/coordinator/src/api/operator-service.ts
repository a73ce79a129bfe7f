import { FerryError, type OperatorService, type ServiceImpl } from "@ferry/common";
import type { MoverRegistry } from "../registry/mover-registry.js";

// Policies, jobs and restores arrive with issue 4; fail plainly until then.
const notYet = (what: string) => async () => {
  throw new FerryError("UNIMPLEMENTED", `${what} is not available in this coordinator yet`);
};

/** The operator API handlers. */
export function createOperatorService(
  registry: MoverRegistry,
): ServiceImpl<typeof OperatorService> {
  return {
    listMovers: async () => ({ movers: registry.movers() }),
    listVms: async (req) => ({
      vms: registry.vms().filter((vm) => req.tags.every((t) => vm.tags.includes(t))),
      hosts: registry.hosts(),
      datastores: registry.datastores(),
    }),
    createPolicy: notYet("creating policies"),
    listPolicies: notYet("listing policies"),
    deletePolicy: notYet("deleting policies"),
    backupNow: notYet("backup now"),
    listJobs: notYet("listing jobs"),
    getJob: notYet("showing a job"),
    // biome-ignore lint/correctness/useYield: fails before the first message on purpose
    watchJob: async function* () {
      throw new FerryError(
        "UNIMPLEMENTED",
        "watching jobs is not available in this coordinator yet",
      );
    },
    listRestorePoints: notYet("listing restore points"),
    restore: notYet("restoring"),
  };
}
