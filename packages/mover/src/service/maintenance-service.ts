// Repository maintenance the coordinator asks of this mover: the coordinator keeps the
// decisions (retention, the catalog), the mover opens the repository with its own passphrase.
import {
  collectGarbage,
  FerryError,
  isS3Location,
  type MoverService,
  type Repository,
  type ServiceImpl,
  verifyRestorePoints,
} from "@ferry/common";
import { deleteRestorePoints } from "../maintenance/delete-restore-points.js";
import { listRecordedRestorePoints } from "../maintenance/list-restore-points.js";
import {
  bootTestMessage,
  restorePointMessage,
  verifyStateMessage,
} from "./restore-point-message.js";

/** What maintenance needs from the mover. */
export interface MaintenanceDeps {
  /**
   * The existing repository at an absolute path, opened with this mover's passphrase when it
   * has one; NOT_FOUND when there is none.
   */
  repository(root: string): Promise<Repository>;
}

type MaintenanceMethods =
  | "listRepository"
  | "verifyRepository"
  | "collectRepositoryGarbage"
  | "deleteRestorePoints";

/** The MoverService's maintenance handlers. */
export function maintenanceHandlers(
  deps: MaintenanceDeps,
): Pick<ServiceImpl<typeof MoverService>, MaintenanceMethods> {
  const open = (root: string) => {
    if (!root) throw new FerryError("INVALID_ARGUMENT", "repository is required");
    if (!root.startsWith("/") && !isS3Location(root))
      throw new FerryError(
        "INVALID_ARGUMENT",
        `repository "${root}" must be an absolute path or an s3:// repository`,
      );
    return deps.repository(root);
  };
  return {
    listRepository: async (req, ctx) => {
      const repo = await open(req.repository);
      const points = await listRecordedRestorePoints(repo, {
        ...(req.restorePointIds.length > 0 ? { restorePointIds: req.restorePointIds } : {}),
        signal: ctx.signal,
      });
      return {
        restorePoints: points.map((p) => {
          const message = restorePointMessage(p.manifest, req.repository);
          if (p.verify) message.verify = verifyStateMessage(p.verify);
          if (p.bootTest) message.bootTest = bootTestMessage(p.bootTest);
          return message;
        }),
      };
    },
    verifyRepository: async (req, ctx) => {
      const report = await verifyRestorePoints(await open(req.repository), {
        ...(req.restorePointIds.length > 0 ? { restorePointIds: req.restorePointIds } : {}),
        signal: ctx.signal,
      });
      return {
        restorePoints: report.restorePoints.map((s) => ({
          id: s.restorePointId,
          verify: verifyStateMessage(s),
        })),
        chunksChecked: BigInt(report.chunksChecked),
        bytesChecked: BigInt(report.bytesChecked),
        badChunks: report.badChunks.map((b) => ({
          digest: b.digest,
          state: b.state,
          reason: b.reason ?? "",
          restorePointIds: b.restorePoints,
        })),
      };
    },
    collectRepositoryGarbage: async (req, ctx) => {
      const r = await collectGarbage(await open(req.repository), {
        dryRun: req.dryRun,
        ...(req.graceMs === undefined ? {} : { graceMs: Number(req.graceMs) }),
        signal: ctx.signal,
      });
      return {
        restorePoints: r.restorePoints,
        chunksReferenced: BigInt(r.chunksReferenced),
        chunksRemoved: BigInt(r.chunksRemoved),
        bytesFreed: BigInt(r.bytesFreed),
        chunksKept: BigInt(r.chunksKept),
        bytesKept: BigInt(r.bytesKept),
        chunksTooNew: BigInt(r.chunksTooNew),
        staleStagingRemoved: r.staleStagingRemoved,
        dryRun: r.dryRun,
      };
    },
    deleteRestorePoints: async (req, ctx) => {
      const outcome = await deleteRestorePoints(
        await open(req.repository),
        req.restorePointIds,
        ctx.signal,
      );
      return {
        deleted: outcome.deleted,
        missing: outcome.missing,
        failed: outcome.failed.map((f) => ({
          restorePointId: f.restorePointId,
          code: f.error.code,
          message: f.error.message,
        })),
      };
    },
  };
}
