import type { Repository } from "@ferry/common";
import type { ExportDevice } from "../nbd-server/export-device.js";
import { openOverlayDevice } from "./overlay-device.js";
import { openRestorePointDevice } from "./restore-point-device.js";

/** Options of {@link openRestorePointDisk}. */
export interface RestorePointDiskOptions {
  repository: Repository;
  restorePointId: string;
  diskId: string;
  /** Accept writes into a scratch overlay (never into the repository); default false. */
  writable?: boolean;
  /** Directory of the overlay's scratch file; default the system temp dir. */
  overlayDir?: string;
  signal?: AbortSignal;
}

/**
 * A restore point's disk as a device to serve: read-only, or writable through an overlay
 * that is thrown away on close. The caller closes the device.
 */
export async function openRestorePointDisk(o: RestorePointDiskOptions): Promise<ExportDevice> {
  const point = await o.repository.openRestorePoint(o.restorePointId, o.signal);
  const index = await point.readIndex(o.diskId, o.signal);
  const base = openRestorePointDevice({ index, chunks: o.repository.chunks });
  if (!o.writable) return base;
  const overlay = await openOverlayDevice({
    base,
    ...(o.overlayDir === undefined ? {} : { dir: o.overlayDir }),
  });
  return {
    ...overlay,
    close: async () => {
      await overlay.close();
      await base.close();
    },
  } as ExportDevice;
}
