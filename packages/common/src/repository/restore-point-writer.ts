// Writing one restore point: a staging directory, fixed indexes, and the commit protocol of
// docs/repository-format.md (flush chunks, indexes, manifest last, rename, fsync parents).
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "../errors/ferry-error.js";
import { throwIfAborted } from "../util/signals.js";
import type { RestorePointAuth } from "./chunk-protection.js";
import type { ChunkWriter } from "./chunk-store.js";
import { fsyncPath, removeTree, writeFileAtomic } from "./durable-fs.js";
import { createFixedIndexWriter, type FixedIndexWriter } from "./fixed-index.js";
import {
  FIXED_INDEX_SUFFIX,
  MANIFEST_FILE,
  RESTORE_POINT_MAC_FILE,
  RESTORE_POINTS_DIR,
  STAGING_PREFIX,
} from "./format.js";
import { fsError } from "./fs-errors.js";
import {
  type Manifest,
  type ManifestConsistency,
  type ManifestMode,
  type ManifestSource,
  type ManifestVmConfig,
  serializeManifest,
  validateManifest,
} from "./manifest.js";
import { assertSafeName, formatRestorePointId, newRestorePointName } from "./names.js";
import { serializeRestorePointMac } from "./restore-point-mac.js";

/** Options of `Repository.beginRestorePoint`. */
export interface BeginRestorePointOptions {
  vmId: string;
  /** Display name of the VM (1–1024 characters). */
  vmName: string;
  /** When the point-in-time view was taken; default now. Names the restore point. */
  createdAt?: Date;
  signal?: AbortSignal;
}

/** Options of `RestorePointWriter.addDisk`. */
export interface AddDiskOptions {
  diskId: string;
  /** Disk size, bytes. */
  sizeBytes: number;
  /** Chunk size, bytes; default 4 MiB. */
  chunkSizeBytes?: number;
}

/** Per-disk counters recorded in the manifest. */
export interface DiskStats {
  /** Bytes read from the source. */
  bytesRead: number;
  /** Bytes added to the chunk store: sum of `storedBytes` of puts that wrote. */
  bytesNew: number;
  /** How the disk was read (default: the restore point's mode). */
  mode?: ManifestMode;
  /** Why the whole disk was read when an incremental was wanted. */
  fullReason?: string;
  /** Dirty bitmap tracking writes since this snapshot, for the next incremental. */
  dirtyBitmap?: string;
}

/** What the caller knows only at the end of a backup. */
export interface RestorePointCommitFields {
  consistency: ManifestConsistency;
  mode: ManifestMode;
  parentRestorePointId?: string;
  source: ManifestSource;
  /** Counters of every added disk, by disk id. */
  diskStats: Readonly<Record<string, DiskStats>>;
  /** Incrementals since the last full, this one included (0 for a full). */
  incrementalsSinceFull?: number;
  /** When the chain's last full was taken (default: this restore point's time for a full). */
  lastFullAt?: Date;
  /** The VM's definition (a libvirt domain XML), for a restore that defines the VM anew. */
  vmConfig?: ManifestVmConfig;
}

/**
 * A restore point being written. Invisible to readers until `commit` returns; `abort` (or
 * disposal before commit) removes it. Not safe for concurrent commit/abort calls.
 */
export interface RestorePointWriter extends AsyncDisposable {
  /** `<vm-id>/<name>`. */
  readonly id: string;
  readonly vmId: string;
  /** ISO 8601 UTC time the restore point is named after. */
  readonly createdAt: string;
  /** Absolute path of the staging directory. */
  readonly stagingPath: string;
  /** A fixed index writer for one disk; fill every slot before `commit`. */
  addDisk(options: AddDiskOptions): FixedIndexWriter;
  /**
   * Flushes chunks, writes every index and then the manifest into the staging directory, and
   * renames it into place, durably. Validation errors (unset slots, missing stats, bad fields)
   * leave the writer open; an I/O error leaves it failed: call `abort`. Returns the manifest.
   */
  commit(fields: RestorePointCommitFields, signal?: AbortSignal): Promise<Manifest>;
  /** Removes the staging directory; idempotent; a no-op after a successful commit. */
  abort(): Promise<void>;
}

type State =
  | { t: "open" }
  | { t: "committing" }
  | { t: "committed"; manifest: Manifest }
  | { t: "failed"; error: unknown }
  | { t: "aborted" };

/** Creates the staging directory and returns its writer. Used by the repository. */
export async function beginRestorePointIn(
  root: string,
  chunks: ChunkWriter,
  auth: RestorePointAuth,
  options: BeginRestorePointOptions,
): Promise<RestorePointWriter> {
  throwIfAborted(options.signal, "begin restore point");
  if (auth.t === "locked") {
    // Without the key its restore point could be neither sealed nor authenticated.
    throw new FerryError(
      "KEY_REQUIRED",
      `repository ${root} is encrypted: writing a restore point needs its passphrase`,
      { details: { repository: root } },
    );
  }
  assertSafeName(options.vmId, "VM id");
  if (
    typeof options.vmName !== "string" ||
    options.vmName.length < 1 ||
    options.vmName.length > 1024
  ) {
    throw new FerryError("INVALID_ARGUMENT", "VM name must be a string of 1-1024 characters");
  }
  const createdAt = options.createdAt ?? new Date();
  const name = newRestorePointName(createdAt);
  const restorePoints = join(root, RESTORE_POINTS_DIR);
  const staging = join(restorePoints, `${STAGING_PREFIX}${name}`);
  try {
    await mkdir(restorePoints, { recursive: true });
    await mkdir(staging);
  } catch (err) {
    throw fsError(err, "creating a staging directory", staging);
  }
  return new StagedRestorePoint(
    restorePoints,
    staging,
    name,
    options,
    createdAt.toISOString(),
    chunks,
    auth,
  );
}

class StagedRestorePoint implements RestorePointWriter {
  readonly id: string;
  readonly vmId: string;
  private state: State = { t: "open" };
  private readonly disks = new Map<string, FixedIndexWriter>();

  constructor(
    private readonly restorePoints: string,
    readonly stagingPath: string,
    private readonly name: string,
    private readonly options: BeginRestorePointOptions,
    readonly createdAt: string,
    private readonly chunks: ChunkWriter,
    private readonly auth: RestorePointAuth,
  ) {
    this.vmId = options.vmId;
    this.id = formatRestorePointId({ vmId: options.vmId, name });
  }

  addDisk(options: AddDiskOptions): FixedIndexWriter {
    this.assertOpen();
    assertSafeName(options.diskId, "disk id");
    if (this.disks.has(options.diskId)) {
      throw new FerryError("ALREADY_EXISTS", `disk ${options.diskId} already added to ${this.id}`);
    }
    const writer = createFixedIndexWriter({
      path: join(this.stagingPath, `${options.diskId}${FIXED_INDEX_SUFFIX}`),
      sizeBytes: options.sizeBytes,
      ...(options.chunkSizeBytes === undefined ? {} : { chunkSizeBytes: options.chunkSizeBytes }),
    });
    this.disks.set(options.diskId, writer);
    return writer;
  }

  async commit(fields: RestorePointCommitFields, signal?: AbortSignal): Promise<Manifest> {
    this.assertOpen();
    throwIfAborted(signal, "restore point commit");
    // Everything that can be checked without I/O is checked first: the writer stays open.
    const draft = this.draftManifest(fields);
    this.state = { t: "committing" };
    try {
      // 1. Chunks first: nothing may reference a chunk that is not durable.
      await this.chunks.flush(signal);
      // 2. Indexes, each durable in the staging directory.
      const tables = new Map<string, Uint8Array>();
      for (const [diskId, writer] of this.disks)
        tables.set(diskId, (await writer.commit(signal)).tableChecksum);
      // 3. The manifest (and its MAC when encrypted), last: a staging directory without one
      // is plainly incomplete.
      const manifest = { ...draft, committedAt: new Date().toISOString() };
      const text = Buffer.from(serializeManifest(manifest));
      if (this.auth.t === "mac") {
        const mac = serializeRestorePointMac(text, manifest, tables, this.auth.macOf);
        await writeFileAtomic(join(this.stagingPath, RESTORE_POINT_MAC_FILE), [mac], {
          fsync: true,
          what: `authentication of ${this.id}`,
        });
      }
      await writeFileAtomic(join(this.stagingPath, MANIFEST_FILE), [text], {
        fsync: true,
        what: `manifest of ${this.id}`,
      });
      // 4. Publish atomically, then make both changed directory entries durable.
      const vmDir = join(this.restorePoints, this.vmId);
      const target = join(vmDir, this.name);
      try {
        await mkdir(vmDir, { recursive: true });
        await rename(this.stagingPath, target);
      } catch (err) {
        throw fsError(err, `publishing restore point ${this.id}`, target);
      }
      await fsyncPath(vmDir, `syncing ${vmDir}`);
      await fsyncPath(this.restorePoints, `syncing ${this.restorePoints}`);
      this.state = { t: "committed", manifest };
      return manifest;
    } catch (err) {
      this.state = { t: "failed", error: err };
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.state.t === "committed" || this.state.t === "aborted") return;
    this.state = { t: "aborted" };
    for (const writer of this.disks.values()) await writer.abort();
    await removeTree(this.stagingPath, `staging directory of ${this.id}`);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.abort();
  }

  private draftManifest(fields: RestorePointCommitFields): Manifest {
    return draftRestorePointManifest(this, this.options.vmName, this.disks, fields);
  }

  private assertOpen(): void {
    if (this.state.t !== "open") {
      throw new FerryError("FAILED_PRECONDITION", `restore point ${this.id} is ${this.state.t}`);
    }
  }
}

// A full starts a chain; an incremental carries its chain's start when the caller knows it.
function chainStart(fields: RestorePointCommitFields, createdAt: string): { lastFullAt?: string } {
  if (fields.mode === "full") return { lastFullAt: createdAt };
  return fields.lastFullAt === undefined ? {} : { lastFullAt: fields.lastFullAt.toISOString() };
}

/**
 * The manifest of restore point `rp` from its disks' index writers and the commit's fields,
 * checked (INVALID_ARGUMENT, FAILED_PRECONDITION); `committedAt` is still `createdAt`.
 */
export function draftRestorePointManifest(
  rp: { readonly id: string; readonly vmId: string; readonly createdAt: string },
  vmName: string,
  disksById: ReadonlyMap<string, FixedIndexWriter>,
  fields: RestorePointCommitFields,
): Manifest {
  if (disksById.size === 0) throw new FerryError("FAILED_PRECONDITION", `${rp.id} has no disks`);
  for (const id of Object.keys(fields.diskStats)) {
    if (!disksById.has(id))
      throw new FerryError("INVALID_ARGUMENT", `diskStats names unknown disk ${id}`);
  }
  const disks = [...disksById.entries()].map(([id, writer]) => {
    const stats = fields.diskStats[id];
    if (!stats) throw new FerryError("INVALID_ARGUMENT", `diskStats lacks disk ${id}`);
    if (writer.unsetCount > 0) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `disk ${id} of ${rp.id}: ${writer.unsetCount} slots unset`,
      );
    }
    return {
      id,
      sizeBytes: writer.sizeBytes,
      chunkSizeBytes: writer.chunkSizeBytes,
      indexFile: `${id}${FIXED_INDEX_SUFFIX}`,
      indexUuid: writer.uuid,
      bytesRead: stats.bytesRead,
      bytesNew: stats.bytesNew,
      ...(stats.mode === undefined ? {} : { mode: stats.mode }),
      ...(stats.fullReason === undefined ? {} : { fullReason: stats.fullReason }),
      ...(stats.dirtyBitmap === undefined ? {} : { dirtyBitmap: stats.dirtyBitmap }),
    };
  });
  const draft: Manifest = {
    format: "ferry-manifest",
    version: 1,
    restorePointId: rp.id,
    vmId: rp.vmId,
    vmName: vmName,
    createdAt: rp.createdAt,
    committedAt: rp.createdAt,
    consistency: fields.consistency,
    mode: fields.mode,
    ...(fields.parentRestorePointId === undefined
      ? {}
      : { parentRestorePointId: fields.parentRestorePointId }),
    source: { moverId: fields.source.moverId, transport: fields.source.transport },
    disks,
    incrementalsSinceFull: fields.mode === "full" ? 0 : (fields.incrementalsSinceFull ?? 1),
    ...chainStart(fields, rp.createdAt),
    ...(fields.vmConfig === undefined ? {} : { vmConfig: fields.vmConfig }),
  };
  return validateManifest(draft, rp.id, "INVALID_ARGUMENT");
}
