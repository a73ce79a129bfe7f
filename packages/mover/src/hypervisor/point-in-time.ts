import { randomBytes } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  FerryError,
  type Logger,
  type TlsFiles,
  throwIfAborted,
  toFerryError,
} from "@ferry/common";
import { addBitmapAction } from "../cbt/dirty-bitmaps.js";
import { runCommand } from "../util/run-command.js";
import {
  AUTHZ_PREFIX,
  authzObjectArgs,
  prepareTlsCredsDir,
  readQemuTlsIdentity,
  TLS_CREDS_PREFIX,
  type TlsCredsObject,
  tlsCredsObjectArgs,
} from "./nbd-tls-creds.js";
import type { QmpSession } from "./qmp-client.js";
import { removeBlockObjects } from "./remove-block-objects.js";

/** A disk to take a point-in-time view of. */
export interface PointInTimeDisk {
  /** The disk's QEMU node name (e.g. "disk0"). */
  nodeName: string;
  /** Its image path: the overlay goes into the same directory (same datastore). */
  imagePath: string;
  sizeBytes: number;
  /** A persistent dirty bitmap to start on the disk's node in the snapshot transaction. */
  startBitmap?: string;
  /** A dirty bitmap of the disk's node to export (qemu:dirty-bitmap:NAME) for an incremental. */
  exportBitmap?: string;
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

/**
 * Where and how the point-in-time view is served. With `tls` (the mover's certificate, key
 * and CA) a TCP export speaks only TLS and admits only the client presenting the mover's own
 * certificate (signed by the CA, with the same distinguished name).
 */
export type ExportAddress =
  | { t: "unix"; path: string }
  | { t: "inet"; host: string; port: number; tls?: TlsFiles };

/** A point-in-time view of a VM's disks, exported over NBD. Disposing tears it all down. */
export interface PointInTimeView extends AsyncDisposable {
  readonly disks: readonly FleecedDisk[];
  readonly address: ExportAddress;
  /** Bytes the overlays occupy on the datastore now (allocated, not apparent). */
  overlayBytes(): Promise<number>;
  /** Removes exports, jobs, nodes and overlay files; never throws; idempotent. */
  teardown(): Promise<void>;
}

const COMMAND_TIMEOUT_MS = 30_000;

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
  /** Parent of the view's private files (the TLS credential directory); default the temp dir. */
  runDir?: string;
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
  // What we asked QEMU for, recorded before asking: a command that timed out
  // may still have happened, and teardown must look for it.
  const planned = {
    exports: [] as string[],
    jobs: [] as string[],
    nodes: [] as string[],
    overlays: new Map<string, string>(),
    stopServer: false,
    tlsCreds: [] as TlsCredsObject[],
    authz: [] as string[],
  };
  let running: Promise<void> | undefined;
  const teardown = () => {
    running ??= removeBlockObjects(qmp, planned, logger).then(() => undefined);
    return running;
  };
  // Graph-changing QMP commands get deadlines, not the task's signal: a cancel
  // lands between steps, so we always know what to undo.
  const checkCancel = () => throwIfAborted(options.signal, "creating the point-in-time view");
  try {
    for (const [i, d] of disks.entries()) {
      checkCancel();
      const size = String(options.disks[i]?.sizeBytes);
      planned.overlays.set(d.fleeceNode, d.overlayPath);
      // The overlay is ours alone until the node exists: remove it directly on failure.
      await runCommand("qemu-img", ["create", "-q", "-f", "qcow2", d.overlayPath, size], {
        debianPackage: "qemu-utils",
      }).catch(async (err: unknown) => {
        await rm(d.overlayPath, { force: true });
        throw err;
      });
      planned.nodes.push(d.fleeceNode);
      await qmp
        .execute(
          "blockdev-add",
          {
            driver: "qcow2",
            "node-name": d.fleeceNode,
            file: { driver: "file", filename: d.overlayPath },
            backing: d.nodeName,
          },
          { timeoutMs: COMMAND_TIMEOUT_MS },
        )
        .catch(async (err: unknown) => {
          if (isQmpRefusal(err)) await rm(d.overlayPath, { force: true });
          throw err;
        });
    }
    checkCancel();
    await options.aroundSnapshot(async () => {
      planned.jobs.push(...disks.map((d) => d.jobId));
      const actions: unknown[] = disks.map((d) => ({
        type: "blockdev-backup",
        data: {
          device: d.nodeName,
          target: d.fleeceNode,
          sync: "none",
          "job-id": d.jobId,
          "auto-finalize": true,
        },
      }));
      // In the same transaction: a new bitmap tracks exactly the writes after this view.
      for (const d of options.disks)
        if (d.startBitmap) actions.push(addBitmapAction(d.nodeName, d.startBitmap));
      await qmp.execute(
        "transaction",
        { actions },
        // The guest is frozen now: a hung QMP must not keep it frozen for long.
        { timeoutMs: 15_000 },
      );
    });
    checkCancel();
    const addr =
      options.address.t === "unix"
        ? { type: "unix", data: { path: options.address.path } }
        : {
            type: "inet",
            data: { host: options.address.host, port: String(options.address.port) },
          };
    const tls = options.address.t === "inet" ? options.address.tls : undefined;
    let serverTls: { "tls-creds": string; "tls-authz": string } | undefined;
    if (tls) {
      // Read before anything is made: an unreadable certificate leaves nothing to undo.
      const identity = await readQemuTlsIdentity(tls.cert);
      const creds = {
        id: `${TLS_CREDS_PREFIX}${short}`,
        dir: await prepareTlsCredsDir(tls, options.runDir),
      };
      planned.tlsCreds.push(creds);
      await qmp.execute("object-add", tlsCredsObjectArgs(creds), {
        timeoutMs: COMMAND_TIMEOUT_MS,
      });
      // verify-peer admits any certificate the CA signed (an operator's too): the mover is
      // the only reader of its own backup export, so only its name passes.
      const authz = `${AUTHZ_PREFIX}${short}`;
      planned.authz.push(authz);
      await qmp.execute("object-add", authzObjectArgs(authz, identity), {
        timeoutMs: COMMAND_TIMEOUT_MS,
      });
      serverTls = { "tls-creds": creds.id, "tls-authz": authz };
    }
    planned.stopServer = true;
    await qmp
      .execute("nbd-server-start", { addr, ...serverTls }, { timeoutMs: COMMAND_TIMEOUT_MS })
      .catch((err: unknown) => {
        // Refused (e.g. a server is already running): not ours to stop.
        if (isQmpRefusal(err)) planned.stopServer = false;
        throw err;
      });
    for (const [i, d] of disks.entries()) {
      checkCancel();
      const bitmap = options.disks[i]?.exportBitmap;
      planned.exports.push(d.exportName);
      await qmp.execute(
        "block-export-add",
        {
          type: "nbd",
          id: d.exportName,
          "node-name": d.fleeceNode,
          name: d.exportName,
          writable: false,
          ...(bitmap ? { bitmaps: [{ node: d.nodeName, name: bitmap }] } : {}),
        },
        { timeoutMs: COMMAND_TIMEOUT_MS },
      );
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

// QEMU answered with an error: the command did not happen.
function isQmpRefusal(err: unknown): boolean {
  return err instanceof FerryError && err.code === "QMP_ERROR";
}
