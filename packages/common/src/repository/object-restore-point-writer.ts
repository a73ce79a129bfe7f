// Writing one restore point into object storage (docs/repository-format.md, "Commit: the
// manifest is written last"): an in-progress marker before the first chunk, the indexes under
// the final prefix, the manifest last and create-only, then the marker goes. No rename: a
// prefix without its manifest is never listed as a restore point.
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError, isFerryError } from "../errors/ferry-error.js";
import { throwIfAborted } from "../util/signals.js";
import type { RepositoryBackend } from "./backend/repository-backend.js";
import type { RestorePointAuth } from "./chunk-protection.js";
import type { ChunkWriter } from "./chunk-store.js";
import { removeTree } from "./durable-fs.js";
import { createFixedIndexWriter, type FixedIndexWriter } from "./fixed-index.js";
import {
  FIXED_INDEX_SUFFIX,
  IN_PROGRESS_DIR,
  MANIFEST_FILE,
  RESTORE_POINT_MAC_FILE,
  RESTORE_POINTS_DIR,
} from "./format.js";
import { waitForGarbageCollection } from "./garbage-collection-lock.js";
import { type Manifest, serializeManifest } from "./manifest.js";
import { assertSafeName, formatRestorePointId, newRestorePointName } from "./names.js";
import { serializeRestorePointMac } from "./restore-point-mac.js";
import {
  type AddDiskOptions,
  type BeginRestorePointOptions,
  draftRestorePointManifest,
  type RestorePointCommitFields,
  type RestorePointWriter,
} from "./restore-point-writer.js";

/** Key of the in-progress marker of restore point `id` (`<vm-id>/<name>`). */
export function inProgressMarkerKey(id: string): string {
  return `${IN_PROGRESS_DIR}/${id}`;
}

type State =
  | { t: "open" }
  | { t: "committing" }
  | { t: "committed"; manifest: Manifest }
  | { t: "failed"; error: unknown }
  | { t: "aborted" };

/**
 * Creates the restore point's in-progress marker (before any chunk of it is written, so
 * garbage collection sees the backup) and returns its writer. Indexes are built in a local
 * temporary directory until the commit uploads them.
 */
export async function beginObjectRestorePoint(
  backend: RepositoryBackend,
  chunks: ChunkWriter,
  auth: RestorePointAuth,
  options: BeginRestorePointOptions,
): Promise<RestorePointWriter> {
  throwIfAborted(options.signal, "begin restore point");
  if (auth.t === "locked") {
    throw new FerryError(
      "KEY_REQUIRED",
      `repository ${backend.location} is encrypted: writing a restore point needs its passphrase`,
      { details: { repository: backend.location } },
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
  const id = formatRestorePointId({ vmId: options.vmId, name });
  const marker = JSON.stringify({ restorePointId: id, startedAt: new Date().toISOString() });
  await backend.putIfAbsent(inProgressMarkerKey(id), [Buffer.from(`${marker}\n`)], options.signal);
  let scratch: string;
  try {
    // Marker first, then the fence: see garbage-collection-lock.ts.
    await waitForGarbageCollection(backend, options.signal);
    scratch = await mkdtemp(join(tmpdir(), "ferry-rp-"));
  } catch (err) {
    await backend.delete(inProgressMarkerKey(id)).catch(() => {});
    throw err;
  }
  return new ObjectRestorePoint(
    backend,
    scratch,
    id,
    options,
    createdAt.toISOString(),
    chunks,
    auth,
  );
}

class ObjectRestorePoint implements RestorePointWriter {
  readonly vmId: string;
  private state: State = { t: "open" };
  private readonly disks = new Map<string, FixedIndexWriter>();
  /** Objects of this restore point uploaded so far (removed again by abort). */
  private readonly uploaded: string[] = [];

  constructor(
    private readonly backend: RepositoryBackend,
    readonly stagingPath: string,
    readonly id: string,
    private readonly options: BeginRestorePointOptions,
    readonly createdAt: string,
    private readonly chunks: ChunkWriter,
    private readonly auth: RestorePointAuth,
  ) {
    this.vmId = options.vmId;
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
    const draft = draftRestorePointManifest(this, this.options.vmName, this.disks, fields);
    this.state = { t: "committing" };
    const prefix = `${RESTORE_POINTS_DIR}/${this.id}`;
    try {
      // 1. Every chunk upload done: nothing may reference a chunk that is not stored.
      await this.chunks.flush(signal);
      // 2. The indexes, under the final prefix (nobody else writes there).
      const tables = new Map<string, Uint8Array>();
      for (const [diskId, writer] of this.disks) {
        const written = await writer.commit(signal);
        tables.set(diskId, written.tableChecksum);
        const key = `${prefix}/${diskId}${FIXED_INDEX_SUFFIX}`;
        this.uploaded.push(key);
        await this.backend.put(key, [await readFile(written.path)], signal);
      }
      // 3. The manifest (after its MAC when encrypted), last and create-only: only now is
      // there a restore point.
      const manifest = { ...draft, committedAt: new Date().toISOString() };
      const text = Buffer.from(serializeManifest(manifest));
      if (this.auth.t === "mac") {
        const key = `${prefix}/${RESTORE_POINT_MAC_FILE}`;
        this.uploaded.push(key);
        const mac = serializeRestorePointMac(text, manifest, tables, this.auth.macOf);
        await this.backend.put(key, [mac], signal);
      }
      await this.backend.putIfAbsent(`${prefix}/${MANIFEST_FILE}`, [text], signal);
      this.state = { t: "committed", manifest };
    } catch (err) {
      this.state = { t: "failed", error: err };
      throw err;
    }
    // 4. The backup is over. A marker left by a failure here only delays garbage collection
    // until it is stale; the restore point is committed either way.
    await this.cleanUp(false);
    return this.state.manifest;
  }

  async abort(): Promise<void> {
    if (this.state.t === "committed" || this.state.t === "aborted") return;
    this.state = { t: "aborted" };
    for (const writer of this.disks.values()) await writer.abort();
    await this.cleanUp(true);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.abort();
  }

  /** Removes the scratch directory and the marker (and, aborting, what was uploaded). */
  private async cleanUp(aborting: boolean): Promise<void> {
    await removeTree(this.stagingPath, `scratch directory of ${this.id}`).catch(() => {});
    const keys = aborting ? [...this.uploaded] : [];
    // The marker last: while objects of this backup remain, garbage collection must wait.
    keys.push(inProgressMarkerKey(this.id));
    for (const key of keys) {
      await this.backend.delete(key).catch((err: unknown) => {
        if (!isFerryError(err)) throw err;
      });
    }
  }

  private assertOpen(): void {
    if (this.state.t !== "open") {
      throw new FerryError("FAILED_PRECONDITION", `restore point ${this.id} is ${this.state.t}`);
    }
  }
}
