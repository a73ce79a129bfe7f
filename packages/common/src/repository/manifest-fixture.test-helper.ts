import type { Manifest } from "./manifest.js";

/** A valid manifest (an incremental with a parent) for tests to start from. */
export const goodManifest: Manifest = {
  format: "ferry-manifest",
  version: 1,
  restorePointId: "vm-101/20261125T093526123Z-9f86d081",
  vmId: "vm-101",
  vmName: "web 01",
  createdAt: "2026-11-25T09:35:26.123Z",
  committedAt: "2026-11-25T09:40:00.000Z",
  consistency: "application",
  mode: "incremental",
  parentRestorePointId: "vm-101/20261124T093526123Z-00000000",
  source: { moverId: "mover-a", transport: "hotadd" },
  disks: [
    {
      id: "disk0",
      sizeBytes: 10 * 2 ** 30,
      chunkSizeBytes: 4 * 2 ** 20,
      indexFile: "disk0.fidx",
      indexUuid: "0f8fad5b-d9cb-469f-a165-70867728950e",
      bytesRead: 123,
      bytesNew: 45,
    },
  ],
};
