import { randomBytes } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type Logger, toFerryError } from "@ferry/common";
import { runCommand } from "../util/run-command.js";
import type { QmpSession } from "./qmp-client.js";

/** A disk to take a point-in-time view of. */
export interface PointInTimeDisk {
  /** The disk's QEMU node name (e.g. "disk0"). */
  nodeName: string;
  /** Its image path: the overlay goes into the same directory (same datastore). */
  imagePath: string;
  sizeBytes: number;
}

/** The fleecing state of one disk: what teardown must undo. */
export interface FleecedDisk {
  nodeName: string;
  fleeceNode: string;
  jobId: string;
  overlayPath: string;
  /** NBD export name once exported. */
  exportName: string;
}

/** Where and how the point-in-time view is served. */
export type ExportAddress = { t: "unix"; path: string } | { t: "inet"; host: string; port: number };

/** A point-in-time view of a VM's disks, exported over NBD. Disposing tears it all down. */
export interface PointInTimeView extends AsyncDisposable {
  readonly disks: readonly FleecedDisk[];
  readonly address: ExportAddress;
  /** Bytes the overlays occupy on the datastore now (allocated, not apparent). */
  overlayBytes(): Promise<number>;
  /** Removes exports, jobs, nodes and overlay files; never throws; idempotent. */
  teardown(): Promise<void>;
}

/** Prefix of every QEMU object Ferry creates: the orphan sweep looks for it. */
export const FERRY_PREFIX = "ferry-";

/** Options of {@link createPointInTimeView}. */
export interface PointInTimeOptions {
  qmp: QmpSession;
  disks: readonly PointInTimeDisk[];
  /** Task id, part of every name so leftovers can be traced. */
  taskId: string;
  /** Export address; a unix path for hot-add, inet for the nbd transport. */
  address: ExportAddress;
  /**
   * Called between preparing the fleecing nodes and the atomic snapshot
   * transaction: the quiesce window (freeze before, thaw after) wraps only the
   * transaction.
   */
  aroundSnapshot: (takeSnapshot: () => Promise<void>) => Promise<void>;
  logger: Logger;
  signal?: AbortSignal;
}

/**
 * Image fleecing: per disk a qcow2 overlay backed by the live disk, one QMP
 * transaction of blockdev-backup sync=none jobs (copy-before-write) so the
 * overlay shows every disk as it was at that instant, then an NBD export of
 * each overlay node. On any failure everything made so far is torn down.
 */
export async function createPointInTimeView(options: PointInTimeOptions): Promise<PointInTimeView> {
  const { qmp, logger } = options;
  const tag = options.taskId;
  // QEMU node and job names are at most 31 characters: short random tag plus the disk's position.
  const short = randomBytes(3).toString("hex");
  const disks: FleecedDisk[] = options.disks.map((d, i) => ({
    nodeName: d.nodeName,
    fleeceNode: `${FERRY_PREFIX}f-${short}-${i}`,
    jobId: `${FERRY_PREFIX}j-${short}-${i}`,
    overlayPath: join(
      dirname(d.imagePath),
      `.${FERRY_PREFIX}fleece-${tag}-${short}-${d.nodeName}.qcow2`,
    ),
    exportName: `${FERRY_PREFIX}${tag}-${short}-${d.nodeName}`,
  }));
  const done = {
    overlays: [] as string[],
    nodes: [] as string[],
    jobs: [] as string[],
    exports: [] as string[],
    server: false,
  };
  const teardown = onceTeardown(qmp, done, logger);
  const sig = options.signal ? { signal: options.signal } : {};
  try {
    for (const [i, d] of disks.entries()) {
      const size = String(options.disks[i]?.sizeBytes);
      // No backing file in the header: the node's backing is set to the live disk below.
      await runCommand("qemu-img", ["create", "-q", "-f", "qcow2", d.overlayPath, size], {
        debianPackage: "qemu-utils",
        ...sig,
      });
      done.overlays.push(d.overlayPath);
      await qmp.execute(
        "blockdev-add",
        {
          driver: "qcow2",
          "node-name": d.fleeceNode,
          file: { driver: "file", filename: d.overlayPath },
          backing: d.nodeName,
        },
        sig,
      );
      done.nodes.push(d.fleeceNode);
    }
    await options.aroundSnapshot(async () => {
      await qmp.execute(
        "transaction",
        {
          actions: disks.map((d) => ({
            type: "blockdev-backup",
            data: {
              device: d.nodeName,
              target: d.fleeceNode,
              sync: "none",
              "job-id": d.jobId,
              "auto-finalize": true,
            },
          })),
        },
        // The guest is frozen now: a hung QMP must not keep it frozen for long.
        { timeoutMs: 15_000, ...sig },
      );
      done.jobs.push(...disks.map((d) => d.jobId));
    });
    const addr =
      options.address.t === "unix"
        ? { type: "unix", data: { path: options.address.path } }
        : {
            type: "inet",
            data: { host: options.address.host, port: String(options.address.port) },
          };
    await qmp.execute("nbd-server-start", { addr }, sig);
    done.server = true;
    for (const d of disks) {
      await qmp.execute(
        "block-export-add",
        {
          type: "nbd",
          id: d.exportName,
          "node-name": d.fleeceNode,
          name: d.exportName,
          writable: false,
        },
        sig,
      );
      done.exports.push(d.exportName);
    }
  } catch (err) {
    await teardown();
    throw toFerryError(err);
  }
  return {
    disks,
    address: options.address,
    async overlayBytes() {
      let total = 0;
      for (const d of disks)
        total += await stat(d.overlayPath).then(
          (s) => s.blocks * 512,
          () => 0,
        );
      return total;
    },
    teardown,
    [Symbol.asyncDispose]: teardown,
  };
}

interface Made {
  overlays: string[];
  nodes: string[];
  jobs: string[];
  exports: string[];
  server: boolean;
}

// Undo in reverse order; each step is tried even when an earlier one failed.
function onceTeardown(qmp: QmpSession, made: Made, logger: Logger): () => Promise<void> {
  let running: Promise<void> | undefined;
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      logger.warn(`teardown: ${what} failed`, { err: toFerryError(err) });
    }
  };
  return () => {
    running ??= (async () => {
      for (const id of made.exports.splice(0).reverse()) {
        const deleted = qmp.waitForEvent("BLOCK_EXPORT_DELETED", (e) => e.data.id === id, {
          timeoutMs: 10_000,
        });
        deleted.catch(() => undefined);
        await step(`block-export-del ${id}`, async () => {
          await qmp.execute("block-export-del", { id, mode: "hard" });
          await deleted;
        });
      }
      if (made.server) await step("nbd-server-stop", () => qmp.execute("nbd-server-stop"));
      made.server = false;
      for (const id of made.jobs.splice(0).reverse()) {
        const gone = qmp.waitForEvent("BLOCK_JOB_CANCELLED", (e) => e.data.device === id, {
          timeoutMs: 10_000,
        });
        gone.catch(() => undefined);
        await step(`block-job-cancel ${id}`, async () => {
          await qmp.execute("block-job-cancel", { device: id, force: true });
          await gone;
        });
      }
      for (const node of made.nodes.splice(0).reverse()) {
        await step(`blockdev-del ${node}`, () =>
          qmp.execute("blockdev-del", { "node-name": node }),
        );
      }
      for (const path of made.overlays.splice(0))
        await step(`rm ${path}`, () => rm(path, { force: true }));
    })();
    return running;
  };
}
