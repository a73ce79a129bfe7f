// Persistent dirty bitmaps of a VM's disks over QMP: what exists, and the few commands we use.
import { randomBytes } from "node:crypto";
import type { QmpSession } from "../hypervisor/qmp-client.js";

/** A dirty bitmap as QEMU reports it (query-named-block-nodes). */
export interface DirtyBitmapInfo {
  name: string;
  recording: boolean;
  persistent: boolean;
  busy: boolean;
  /** QEMU sets this on a persistent bitmap it could not save (it stopped uncleanly). */
  inconsistent: boolean;
  granularity: number;
  /** Dirty bytes. */
  count: number;
}

/** Prefix of the changed-block-tracking bitmaps Ferry creates. */
export const CBT_BITMAP_PREFIX = "ferry-cbt-";

const TIMEOUT_MS = 15_000;

/** A fresh bitmap name: started at one restore point's snapshot, read by the next backup. */
export function newBitmapName(at: Date): string {
  const compact = at.toISOString().replace(/[-:.]/g, "");
  return `${CBT_BITMAP_PREFIX}${compact}-${randomBytes(3).toString("hex")}`;
}

/** Bitmaps of every node, by node name. */
export async function dirtyBitmapsByNode(
  qmp: QmpSession,
  signal?: AbortSignal,
): Promise<Map<string, DirtyBitmapInfo[]>> {
  const nodes = await qmp.execute<
    Array<{ "node-name": string; "dirty-bitmaps"?: Array<Partial<DirtyBitmapInfo>> }>
  >("query-named-block-nodes", { flat: true }, signal ? { signal } : {});
  const out = new Map<string, DirtyBitmapInfo[]>();
  for (const node of nodes) {
    out.set(
      node["node-name"],
      (node["dirty-bitmaps"] ?? []).map((b) => ({
        name: String(b.name),
        recording: b.recording === true,
        persistent: b.persistent === true,
        busy: b.busy === true,
        inconsistent: b.inconsistent === true,
        granularity: Number(b.granularity ?? 0),
        count: Number(b.count ?? 0),
      })),
    );
  }
  return out;
}

/** The transaction action that starts tracking a disk's writes from the snapshot on. */
export function addBitmapAction(node: string, name: string) {
  return { type: "block-dirty-bitmap-add", data: { node, name, persistent: true } };
}

/** Removes a bitmap. */
export async function removeBitmap(qmp: QmpSession, node: string, name: string): Promise<void> {
  await qmp.execute("block-dirty-bitmap-remove", { node, name }, { timeoutMs: TIMEOUT_MS });
}

/** Adds `from`'s dirty bits to `into`: a failed backup's changes stay tracked. */
export async function mergeBitmap(
  qmp: QmpSession,
  node: string,
  from: string,
  into: string,
): Promise<void> {
  await qmp.execute(
    "block-dirty-bitmap-merge",
    { node, target: into, bitmaps: [from] },
    { timeoutMs: TIMEOUT_MS },
  );
}
