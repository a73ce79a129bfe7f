import { rm } from "node:fs/promises";
import { basename } from "node:path";
import { type Logger, toFerryError } from "@ferry/common";
import { FERRY_PREFIX } from "./point-in-time.js";
import type { QmpSession } from "./qmp-client.js";

/** What a sweep removed. */
export interface SweepResult {
  exports: string[];
  jobs: string[];
  nodes: string[];
  overlays: string[];
}

/**
 * Removes what a mover that died mid-backup left in a VM: Ferry's NBD exports,
 * copy-before-write jobs and fleecing nodes (names start with "ferry-"), and
 * the overlay files those nodes had open. Call it only when no task runs on
 * the VM. Each step is tried even when another failed.
 */
export async function sweepOrphans(qmp: QmpSession, logger: Logger): Promise<SweepResult> {
  const result: SweepResult = { exports: [], jobs: [], nodes: [], overlays: [] };
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      logger.warn(`orphan sweep: ${what} failed`, { err: toFerryError(err) });
    }
  };
  const exports = await qmp.execute<{ id: string; "node-name": string }[]>("query-block-exports");
  for (const e of exports.filter((x) => x.id.startsWith(FERRY_PREFIX))) {
    await step(`block-export-del ${e.id}`, async () => {
      await qmp.execute("block-export-del", { id: e.id, mode: "hard" });
      result.exports.push(e.id);
    });
  }
  // nbd-server-stop would also stop servers Ferry did not start: only when it served nothing else.
  if (result.exports.length > 0 && exports.length === result.exports.length) {
    await step("nbd-server-stop", () => qmp.execute("nbd-server-stop"));
  }
  const jobs = await qmp.execute<{ device: string }[]>("query-block-jobs");
  for (const j of jobs.filter((x) => x.device.startsWith(FERRY_PREFIX))) {
    await step(`block-job-cancel ${j.device}`, async () => {
      const gone = qmp.waitForEvent("BLOCK_JOB_CANCELLED", (e) => e.data.device === j.device, {
        timeoutMs: 10_000,
      });
      gone.catch(() => undefined);
      await qmp.execute("block-job-cancel", { device: j.device, force: true });
      await gone;
      result.jobs.push(j.device);
    });
  }
  const nodes = await qmp.execute<{ "node-name": string; file: string }[]>(
    "query-named-block-nodes",
    { flat: true },
  );
  const fleece = nodes.filter((x) => x["node-name"].startsWith(FERRY_PREFIX));
  // The overlay is the file under the fleece node; QEMU tells us which, so
  // overlays of other VMs' backups on the same datastore are never touched.
  const overlays = fleece
    .map((n) => imageFile(n.file))
    .filter(
      (file): file is string =>
        file !== undefined && basename(file).startsWith(`.${FERRY_PREFIX}fleece-`),
    );
  for (const n of fleece) {
    await step(`blockdev-del ${n["node-name"]}`, async () => {
      await qmp.execute("blockdev-del", { "node-name": n["node-name"] });
      result.nodes.push(n["node-name"]);
    });
  }
  for (const file of overlays) {
    await step(`rm ${file}`, async () => {
      await rm(file, { force: true });
      result.overlays.push(file);
    });
  }
  return result;
}

// QEMU names a node whose options were overridden (our backing) as
// `json:{..., "file": {"driver": "file", "filename": "/path"}}`.
function imageFile(name: string): string | undefined {
  if (!name.startsWith("json:")) return name;
  try {
    const spec = JSON.parse(name.slice(5)) as { file?: { filename?: unknown } };
    return typeof spec.file?.filename === "string" ? spec.file.filename : undefined;
  } catch {
    return undefined;
  }
}
