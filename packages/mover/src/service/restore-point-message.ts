// Repository records as wire messages.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  BackupMode,
  type BootTest,
  type BootTestResult,
  BootTestSchema,
  Consistency,
  type Manifest,
  type RestorePoint,
  RestorePointSchema,
  type VerifyOutcome,
  type VerifyState,
  VerifyStateSchema,
} from "@ferry/common";

/** The manifest as the wire's RestorePoint message. */
export function restorePointMessage(manifest: Manifest, repository: string): RestorePoint {
  return create(RestorePointSchema, {
    id: manifest.restorePointId,
    vmId: manifest.vmId,
    vmName: manifest.vmName,
    createdAt: timestampFromMs(Date.parse(manifest.createdAt)),
    consistency:
      manifest.consistency === "application" ? Consistency.APPLICATION : Consistency.CRASH,
    mode: manifest.mode === "incremental" ? BackupMode.INCREMENTAL : BackupMode.FULL,
    repository,
    moverId: manifest.source.moverId,
    parentId: manifest.parentRestorePointId ?? "",
    disks: manifest.disks.map((d) => ({
      diskId: d.id,
      sizeBytes: BigInt(d.sizeBytes),
      indexPath: `${manifest.restorePointId}/${d.indexFile}`,
      bytesRead: BigInt(d.bytesRead),
      bytesNew: BigInt(d.bytesNew),
      mode: (d.mode ?? manifest.mode) === "incremental" ? BackupMode.INCREMENTAL : BackupMode.FULL,
      fullReason: d.fullReason ?? "",
    })),
  });
}

/** A restore point's last verification on the wire. */
export function verifyStateMessage(v: VerifyOutcome): VerifyState {
  return create(VerifyStateSchema, {
    verifiedAt: timestampFromMs(Date.parse(v.verifiedAt)),
    ok: v.ok,
    missingChunks: v.missing,
    corruptChunks: v.corrupt,
  });
}

/** A restore point's last boot test on the wire. */
export function bootTestMessage(b: BootTestResult): BootTest {
  return create(BootTestSchema, {
    ok: b.ok,
    testedAt: timestampFromMs(Date.parse(b.testedAt)),
    bootMs: b.bootMs,
    filesystems: b.filesystems,
    error: b.error ?? "",
  });
}
