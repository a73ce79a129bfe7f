// After a backup: keep exactly the bitmap the newest restore point names, or undo the new one.
import { type Logger, toFerryError } from "@ferry/common";
import type { QmpSession } from "../hypervisor/qmp-client.js";
import type { DiskMode } from "./choose-disk-mode.js";
import {
  CBT_BITMAP_PREFIX,
  dirtyBitmapsByNode,
  mergeBitmap,
  removeBitmap,
} from "./dirty-bitmaps.js";

/** One disk's bitmaps in a backup. */
export interface BitmapPlan {
  disk: { id: string };
  mode: DiskMode;
  /** Started in the snapshot transaction (may not exist if the backup failed before it). */
  newBitmap: string;
}

/**
 * "committed": the new bitmap is the chain's head; every other Ferry bitmap of the disk
 * (the one just read, and any a crashed backup left) goes. "failed": the new bitmap is
 * merged into the one the last restore point names (so no write is lost even if that one
 * was stopped) and removed. Never throws: a bitmap left over only costs a full later.
 */
export async function settleBitmaps(
  qmp: QmpSession,
  plan: readonly BitmapPlan[],
  outcome: "committed" | "failed",
  logger: Logger,
): Promise<void> {
  let present: Map<string, { name: string }[]>;
  try {
    present = await dirtyBitmapsByNode(qmp);
  } catch (err) {
    logger.warn("cannot list dirty bitmaps after the backup", { err: toFerryError(err) });
    return;
  }
  for (const { disk, mode, newBitmap } of plan) {
    const names = new Set((present.get(disk.id) ?? []).map((b) => b.name));
    const attempt = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        logger.warn(`cannot ${what}`, { disk: disk.id, err: toFerryError(err) });
      }
    };
    if (outcome === "committed") {
      for (const name of names) {
        if (name.startsWith(CBT_BITMAP_PREFIX) && name !== newBitmap)
          await attempt(`remove dirty bitmap ${name}`, () => removeBitmap(qmp, disk.id, name));
      }
      continue;
    }
    if (!names.has(newBitmap)) continue;
    if (mode.t === "incremental" && names.has(mode.bitmap)) {
      await attempt(`merge dirty bitmap ${newBitmap} into ${mode.bitmap}`, () =>
        mergeBitmap(qmp, disk.id, newBitmap, mode.bitmap),
      );
    }
    await attempt(`remove dirty bitmap ${newBitmap}`, () => removeBitmap(qmp, disk.id, newBitmap));
  }
}
