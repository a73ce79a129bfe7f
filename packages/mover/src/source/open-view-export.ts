import type { ExportAddress } from "../hypervisor/point-in-time.js";
import type { BlockSource } from "./block-source.js";
import { openNbdSource } from "./nbd-source.js";

/** Opens one export of a point-in-time view, asking for the given dirty bitmaps. */
export function openViewExport(
  address: ExportAddress,
  exportName: string,
  signal: AbortSignal,
  dirtyBitmaps: readonly string[],
): Promise<BlockSource> {
  return openNbdSource({
    ...(address.t === "unix" ? { path: address.path } : { host: address.host, port: address.port }),
    exportName,
    dirtyBitmaps,
    signal,
  });
}
