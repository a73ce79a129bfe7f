import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FerryError, type Vm } from "@ferry/common";
import type { CatalogStore } from "../catalog/catalog-store.js";
import type {
  JobRecord,
  KindedTaskSpec,
  PolicyRecord,
  QuiesceModeName,
  TaskRecord,
  TransportName,
} from "../catalog/records.js";
import { backupSpec, restoreSpec } from "../catalog/task-spec.js";
import { QUIESCE_TO_WIRE, TRANSPORT_TO_WIRE } from "../catalog/wire-names.js";
import type { Dispatcher } from "../dispatch/dispatcher.js";
import type { JobEvents } from "../dispatch/job-events.js";
import { selectVms } from "../policy/vm-selector.js";
import type { MoverRegistry } from "../registry/mover-registry.js";
import { newJobId, newTaskId } from "./ids.js";

/** Options of a one-off backup without a policy. */
export interface AdHocBackup {
  repository: string;
  quiesce: QuiesceModeName;
  transport: TransportName;
}

/** Creates jobs (one task per VM) and hands them to the dispatcher. */
export interface JobService {
  /** A backup job for a policy's VMs, or for named VMs with `adHoc` settings. */
  backupNow(request: {
    policy?: PolicyRecord;
    vmRefs?: readonly string[];
    adHoc?: AdHocBackup;
    /** Read every disk whole even where an incremental is possible. */
    forceFull?: boolean;
    /** Tasks not started by then fail: the backup window closed. */
    windowEndsAt?: Date;
  }): Promise<JobRecord>;
  /** A restore job with one task. */
  restore(request: {
    restorePointId: string;
    diskIds: readonly string[];
    targetDir: string;
    /** Let the mover replace existing image files that no process holds. */
    overwrite?: boolean;
    /** A new libvirt domain of this name on the restored disks; "" or unset = images only. */
    domainName?: string;
    /** With domainName: boot it from the backup first, then move it (instant recovery). */
    instant?: boolean;
    /** With domainName: the mover to restore on; ""/unset = the one that took the backup. */
    moverId?: string;
  }): Promise<JobRecord>;
}

/** Creates the job service. */
export function createJobService(deps: {
  catalog: CatalogStore;
  registry: MoverRegistry;
  dispatcher: Dispatcher;
  events: JobEvents;
}): JobService {
  const task = (jobId: string, vm: Pick<Vm, "id" | "name">, spec: KindedTaskSpec): TaskRecord => ({
    id: newTaskId(),
    jobId,
    vmId: vm.id,
    vmName: vm.name,
    moverId: null,
    transport: null,
    state: "queued",
    attempt: 0,
    notBefore: null,
    startedAt: null,
    endedAt: null,
    errorCode: null,
    errorMessage: null,
    errorRetryable: false,
    restorePointId: null,
    spec,
  });
  const submit = async (job: JobRecord, tasks: TaskRecord[]) => {
    await deps.catalog.jobs.create(job, tasks);
    deps.events.notify(job.id);
    deps.dispatcher.kick();
    return job;
  };
  const newJob = (kind: JobRecord["kind"], policyId: string | null): JobRecord => ({
    id: newJobId(),
    policyId,
    kind,
    state: "queued",
    reason: "",
    createdAt: new Date(),
    endedAt: null,
  });

  return {
    async backupNow({ policy, vmRefs = [], adHoc, forceFull, windowEndsAt }) {
      const known = deps.registry.vms();
      let vms: Vm[];
      if (policy) {
        vms = selectVms(known, policy);
        if (vms.length === 0)
          throw new FerryError(
            "FAILED_PRECONDITION",
            `policy ${policy.name} matches no VM that a mover reports`,
          );
      } else {
        if (vmRefs.length === 0)
          throw new FerryError("INVALID_ARGUMENT", "name a policy or at least one VM");
        vms = vmRefs.map((ref) => {
          const vm = known.find((v) => v.id === ref || v.name === ref);
          if (!vm)
            throw new FerryError(
              "NOT_FOUND",
              `no VM ${JSON.stringify(ref)} is reported by a mover that is up (see ferry vms)`,
            );
          return vm;
        });
      }
      const settings = policy ?? adHoc;
      if (!settings?.repository)
        throw new FerryError(
          "INVALID_ARGUMENT",
          "a repository is required (the policy's, or --repo)",
        );
      const job = newJob("backup", policy?.id ?? null);
      const spec = backupSpec({
        repository: settings.repository,
        quiesce: QUIESCE_TO_WIRE[settings.quiesce],
        transport: TRANSPORT_TO_WIRE[settings.transport],
        forceFull: forceFull === true,
        fullEveryBackups: policy?.fullEvery.backups ?? 0,
        fullEveryDays: policy?.fullEvery.days ?? 0,
        testRestore: policy?.testRestore === true,
        ...(windowEndsAt ? { windowEndsAt: timestampFromDate(windowEndsAt) } : {}),
      });
      return submit(
        job,
        vms.map((vm) => task(job.id, vm, spec)),
      );
    },
    async restore({ restorePointId, diskIds, targetDir, overwrite, domainName, instant, moverId }) {
      const rp = await deps.catalog.restorePoints.get(restorePointId);
      if (!rp)
        throw new FerryError(
          "NOT_FOUND",
          `no restore point ${restorePointId} in the catalog (see ferry restore-points)`,
        );
      if (!targetDir.startsWith("/"))
        throw new FerryError(
          "INVALID_ARGUMENT",
          "the restore target must be an absolute directory path on the mover",
        );
      if (instant && !domainName)
        throw new FerryError(
          "INVALID_ARGUMENT",
          "instant recovery boots a libvirt domain: name it (domainName, ferry restore --domain)",
        );
      if (moverId && !domainName)
        throw new FerryError(
          "INVALID_ARGUMENT",
          "a mover is chosen for a domain restore only: name the domain (domainName, --domain)",
        );
      if (domainName && overwrite)
        throw new FerryError(
          "INVALID_ARGUMENT",
          "a domain restore never replaces images: pick a new directory instead of overwrite",
        );
      if (domainName && diskIds.length > 0)
        throw new FerryError(
          "INVALID_ARGUMENT",
          "a domain is restored with all its disks: leave the disk list empty",
        );
      const job = newJob("restore", null);
      return submit(job, [
        task(
          job.id,
          { id: rp.vmId, name: rp.vmName },
          restoreSpec({
            repository: rp.repository,
            restorePointId,
            diskIds: [...diskIds],
            targetDir,
            overwrite: overwrite === true,
            // The domain is defined where it was backed up (that mover's libvirt) unless told.
            ...(domainName
              ? { domainName, instant: instant === true, moverId: moverId || rp.moverId }
              : {}),
          }),
        ),
      ]);
    },
  };
}
