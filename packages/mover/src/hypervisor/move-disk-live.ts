import { open, rm } from "node:fs/promises";
import { FerryError, toFerryError } from "@ferry/common";
import { checkTarget, existsError } from "../restore/restore-target.js";
import { runCommand } from "../util/run-command.js";
import type { QmpEvent, QmpSession } from "./qmp-client.js";

/** Options of {@link moveDiskLive}. */
export interface MoveDiskLiveOptions {
  /** A monitor session of the running VM. */
  qmp: QmpSession;
  /** Node name of the disk's current root (for instant recovery: its NBD node). */
  nodeName: string;
  /** New qcow2 image on production storage; must not exist yet unless `overwrite`. */
  target: string;
  /** Replace a file at `target` that no process holds (never a symlink). */
  overwrite?: boolean;
  sizeBytes: number;
  /** Longest the copy may take, milliseconds; default one hour. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Copies a running VM's disk to a new qcow2 image while the guest keeps running, then
 * switches the VM over to it (QEMU's mirror job: writes during the copy go to both) and
 * drops the old node, so its server (the instant-recovery export) can stop. Before the
 * switch a failure leaves the VM on its old disk and removes the new image; after it the
 * new image is the VM's disk and is never removed. Resolves with the new node's name.
 */
export async function moveDiskLive(o: MoveDiskLiveOptions): Promise<{ nodeName: string }> {
  const check = { overwrite: o.overwrite === true, ...(o.signal ? { signal: o.signal } : {}) };
  if ((await checkTarget(o.target, check)) === "replace") await rm(o.target);
  // Claim the name first: qemu-img create would overwrite a file that appeared meanwhile.
  await (
    await open(o.target, "wx", 0o600).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "EEXIST") throw existsError(o.target);
      throw new FerryError("FAILED_PRECONDITION", `cannot create ${o.target}: ${err.message}`);
    })
  ).close();
  const stamp = Date.now().toString(36);
  const node = `ferry-prod-${stamp}`;
  const job = `ferry-move-${stamp}`;
  const timeoutMs = o.timeoutMs ?? 3_600_000;
  const call = { ...(o.signal ? { signal: o.signal } : {}) };
  let added = false;
  let started = false;
  let switched = false;
  try {
    await runCommand("qemu-img", ["create", "-q", "-f", "qcow2", o.target, String(o.sizeBytes)], {
      debianPackage: "qemu-utils",
      ...call,
    });
    await o.qmp.execute(
      "blockdev-add",
      { driver: "qcow2", "node-name": node, file: { driver: "file", filename: o.target } },
      call,
    );
    added = true;
    const forJob = (e: QmpEvent) => e.data.device === job;
    const wait = (name: string) => {
      const event = o.qmp.waitForEvent(name, forJob, { ...call, timeoutMs });
      event.catch(() => undefined); // the other outcome may come first
      return event;
    };
    const ready = wait("BLOCK_JOB_READY");
    const completed = wait("BLOCK_JOB_COMPLETED");
    const cancelled = wait("BLOCK_JOB_CANCELLED");
    await o.qmp.execute(
      "blockdev-mirror",
      { "job-id": job, device: o.nodeName, target: node, sync: "full" },
      call,
    );
    started = true;
    const first = await Promise.race([ready, completed, cancelled]);
    if (first.event !== "BLOCK_JOB_READY") {
      started = false;
      throw new FerryError(
        "QMP_ERROR",
        `copying the disk to ${o.target} ${first.event === "BLOCK_JOB_CANCELLED" ? "was cancelled" : `failed: ${String(first.data.error ?? "it ended early")}`}`,
      );
    }
    await o.qmp.execute("job-complete", { id: job }, call);
    // From here the VM may already write to the new image: it must never be removed.
    switched = true;
    const done = await Promise.race([completed, cancelled]);
    started = false;
    if (done.event !== "BLOCK_JOB_COMPLETED" || typeof done.data.error === "string") {
      switched = false;
      throw new FerryError(
        "QMP_ERROR",
        `switching the VM to ${o.target} failed: ${String(done.data.error ?? "the job was cancelled")}`,
      );
    }
    // The device now reads the new image; the old node has no users left.
    await o.qmp.execute("blockdev-del", { "node-name": o.nodeName }, call).catch((err) => {
      throw new FerryError(
        "QMP_ERROR",
        `the VM runs on ${o.target} now, but its old disk node ${o.nodeName} could not be removed: ${toFerryError(err).message}`,
        { cause: err },
      );
    });
    return { nodeName: node };
  } catch (err) {
    if (!switched) {
      if (started) await cancelJob(o.qmp, job);
      if (added) await o.qmp.execute("blockdev-del", { "node-name": node }).catch(() => undefined);
      await rm(o.target, { force: true });
    }
    throw toFerryError(err);
  }
}

/** Cancels the copy and waits until QEMU let go of it (so its target node can be removed). */
async function cancelJob(qmp: QmpSession, job: string): Promise<void> {
  const gone = qmp
    .waitForEvent("BLOCK_JOB_CANCELLED", (e) => e.data.device === job, { timeoutMs: 10_000 })
    .catch(() => undefined);
  const asked = await qmp.execute("block-job-cancel", { device: job, force: true }).then(
    () => true,
    () => false,
  );
  if (asked) await gone;
}
