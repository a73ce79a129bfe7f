import { access, rm } from "node:fs/promises";
import { FerryError, toFerryError } from "@ferry/common";
import { runCommand } from "../util/run-command.js";
import type { QmpEvent, QmpSession } from "./qmp-client.js";

/** Options of {@link moveDiskLive}. */
export interface MoveDiskLiveOptions {
  /** A monitor session of the running VM. */
  qmp: QmpSession;
  /** Node name of the disk's current root (for instant recovery: its NBD node). */
  nodeName: string;
  /** New qcow2 image on production storage; must not exist yet. */
  target: string;
  sizeBytes: number;
  /** Longest the copy may take, milliseconds; default one hour. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Copies a running VM's disk to a new qcow2 image while the guest keeps running, then
 * switches the VM over to it (QEMU's mirror job: writes during the copy go to both) and
 * drops the old node, so its server (the instant-recovery export) can stop. On failure
 * the VM stays on its old disk and the new image is removed. Resolves with the new node.
 */
export async function moveDiskLive(o: MoveDiskLiveOptions): Promise<{ nodeName: string }> {
  const exists = await access(o.target).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new FerryError("ALREADY_EXISTS", `${o.target} exists: a disk move never overwrites`);
  const stamp = Date.now().toString(36);
  const node = `ferry-prod-${stamp}`;
  const job = `ferry-move-${stamp}`;
  const timeoutMs = o.timeoutMs ?? 3_600_000;
  const call = { ...(o.signal ? { signal: o.signal } : {}) };
  await runCommand("qemu-img", ["create", "-q", "-f", "qcow2", o.target, String(o.sizeBytes)], {
    debianPackage: "qemu-utils",
    ...call,
  });
  let added = false;
  let started = false;
  try {
    await o.qmp.execute(
      "blockdev-add",
      { driver: "qcow2", "node-name": node, file: { driver: "file", filename: o.target } },
      call,
    );
    added = true;
    const forJob = (e: QmpEvent) => e.data.device === job;
    const ready = o.qmp.waitForEvent("BLOCK_JOB_READY", forJob, { ...call, timeoutMs });
    const completed = o.qmp.waitForEvent("BLOCK_JOB_COMPLETED", forJob, { ...call, timeoutMs });
    // Neither wait may go unhandled if the other side fails first.
    ready.catch(() => undefined);
    completed.catch(() => undefined);
    await o.qmp.execute(
      "blockdev-mirror",
      { "job-id": job, device: o.nodeName, target: node, sync: "full" },
      call,
    );
    started = true;
    await Promise.race([ready, completed]);
    await o.qmp.execute("job-complete", { id: job }, call);
    const done = await completed;
    started = false;
    if (typeof done.data.error === "string")
      throw new FerryError(
        "QMP_ERROR",
        `moving the disk to ${o.target} failed: ${done.data.error}`,
      );
    // The device now reads the new image; the old node has no users left.
    await o.qmp.execute("blockdev-del", { "node-name": o.nodeName }, call);
    return { nodeName: node };
  } catch (err) {
    if (started)
      await o.qmp.execute("block-job-cancel", { device: job, force: true }).catch(() => undefined);
    if (added) await o.qmp.execute("blockdev-del", { "node-name": node }).catch(() => undefined);
    await rm(o.target, { force: true });
    throw toFerryError(err);
  }
}
