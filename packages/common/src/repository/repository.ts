// A repository on a local filesystem: config, chunk store, restore points.
import { join, resolve } from "node:path";
import { FerryError, isFerryError } from "../errors/ferry-error.js";
import { throwIfAborted } from "../util/signals.js";
import { createLocalBackend } from "./backend/local-backend.js";
import type { RepositoryBackend } from "./backend/repository-backend.js";
import { createS3Backend } from "./backend/s3-backend.js";
import { isS3Location, parseS3Location } from "./backend/s3-location.js";
import { BackendChunkStore, createBackendChunkStore } from "./backend-chunk-store.js";
import type { ChunkCompression } from "./chunk-codec.js";
import {
  type ChunkProtection,
  lockedChunks,
  PLAIN_CHUNKS,
  type RestorePointAuth,
  sealedChunks,
} from "./chunk-protection.js";
import { type ChunkStore, createChunkStore, type Durability } from "./chunk-store.js";
import { digestsEqual } from "./digest.js";
import type { FixedIndex } from "./fixed-index.js";
import {
  CHUNKS_DIR,
  KEYS_DIR,
  MANIFEST_FILE,
  MAX_MANIFEST_BYTES,
  NAME_BOUND_REPOSITORY_FORMAT_VERSION,
  REPOSITORY_CONFIG_FILE,
  RESTORE_POINT_MAC_FILE,
  RESTORE_POINTS_DIR,
} from "./format.js";
import type { GarbageCollectionLock } from "./garbage-collection-lock.js";
import { addKeyFile, keyFileNames, unlockRepositoryKey } from "./key-files.js";
import { addKeyObject, keyObjectNames, unlockRepositoryKeyObject } from "./key-objects.js";
import { type Manifest, parseManifest } from "./manifest.js";
import { assertSafeName, isRestorePointName, isSafeName, parseRestorePointId } from "./names.js";
import { createObjectRepository, readObjectRepositoryConfig } from "./object-repository-config.js";
import {
  createRepository,
  type RepositoryConfig,
  readRepositoryConfig,
} from "./repository-config.js";
import type { RepositoryKey } from "./repository-key.js";
import { checkRestorePointMac } from "./restore-point-mac.js";
import {
  type BackupInProgress,
  localRestorePointStorage,
  objectRestorePointStorage,
  type RestorePointStorage,
} from "./restore-point-storage.js";
import type { BeginRestorePointOptions, RestorePointWriter } from "./restore-point-writer.js";

/** Options of {@link openRepository}. */
export interface OpenRepositoryOptions {
  /**
   * A directory, or an S3 repository as `s3://bucket/prefix?endpoint=…` (see
   * parseS3Location; unencrypted only, for now).
   */
  root: string;
  /** Create the repository when `root` has none (idempotent; default false: NOT_FOUND). */
  create?: boolean;
  /** Chunk durability; default "batched" (a restore point's commit flushes). */
  durability?: Durability;
  /** Chunk compression; default "lz4" (where it pays). */
  compression?: ChunkCompression;
  /**
   * Opens an encrypted repository's key. With `create`, a repository created now is
   * encrypted. Without it an encrypted repository opens locked: restore points can be
   * listed, pruned and garbage collected, but chunk reads, writes and verifies, and new
   * restore points, fail with KEY_REQUIRED. A wrong passphrase fails the open with
   * KEY_REQUIRED. A plain repository opened with one reads as usual but refuses new restore
   * points (FAILED_PRECONDITION): encryption was asked for.
   */
  passphrase?: string;
  signal?: AbortSignal;
}

/** Options of `Repository.listRestorePoints`. */
export interface ListRestorePointsOptions {
  /** Only this VM's restore points. */
  vmId?: string;
  /** Told about each committed-looking directory that is skipped and why (for logs). */
  onInvalid?: (restorePointId: string, error: FerryError) => void;
  signal?: AbortSignal;
}

/** A committed restore point, opened for reading. */
export interface RestorePointReader {
  readonly id: string;
  readonly manifest: Manifest;
  /** Repository-relative path of a disk's index (RestorePointDisk.index_path in the API). */
  indexPath(diskId: string): string;
  /**
   * Reads and verifies a disk's fixed index, and checks it is the one the manifest names
   * (uuid, sizes). NOT_FOUND for an unknown disk, CORRUPT_DATA for a damaged or swapped index.
   */
  readIndex(diskId: string, signal?: AbortSignal): Promise<FixedIndex>;
}

/** A Ferry repository. Close it (or `await using`) when done; closing does not flush. */
export interface Repository extends AsyncDisposable {
  /** Absolute path of the repository, or `s3://bucket/prefix/` of one in object storage. */
  readonly root: string;
  readonly config: RepositoryConfig;
  readonly chunks: ChunkStore;
  /**
   * Seals this encrypted repository's key under one more passphrase (a new key file);
   * returns the key file's name. FAILED_PRECONDITION for a plain repository, KEY_REQUIRED
   * when it was opened without its passphrase.
   */
  addPassphrase(passphrase: string): Promise<string>;
  /** Starts a restore point in a staging directory, invisible until committed. */
  beginRestorePoint(options: BeginRestorePointOptions): Promise<RestorePointWriter>;
  /**
   * Committed restore points, by VM id then time. Staging directories, and directories whose
   * manifest is missing, damaged, of another version or names another id, are skipped.
   */
  listRestorePoints(options?: ListRestorePointsOptions): Promise<Manifest[]>;
  /** Opens a restore point by id; INVALID_ARGUMENT, NOT_FOUND or CORRUPT_DATA. */
  openRestorePoint(id: string, signal?: AbortSignal): Promise<RestorePointReader>;
  /**
   * Removes staging directories left by crashed backups whose last change is older than
   * `olderThanMs` (pick more than the longest backup may run). Returns the names removed.
   */
  removeStaleStaging(options: { olderThanMs: number; nowMs?: number }): Promise<string[]>;
  /**
   * Backups that began and have neither committed nor aborted: staging directories, or
   * in-progress markers (their start by the object store's clock). Garbage collection's fence.
   */
  backupsInProgress(signal?: AbortSignal): Promise<BackupInProgress[]>;
  /**
   * A small file kept beside restore point `id`'s manifest (verify-state.json,
   * boot-test.json): its text and where it is (for messages), or undefined when absent.
   */
  readSidecar(
    id: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<{ text: string; path: string } | undefined>;
  /** Writes (atomically replaces) a sidecar of restore point `id`, durably. */
  writeSidecar(id: string, name: string, text: string, signal?: AbortSignal): Promise<void>;
  /** See RestorePointStorage.fenceBackups: garbage collection holds it while it runs. */
  fenceBackups(signal?: AbortSignal): Promise<GarbageCollectionLock>;
  /**
   * True when using a chunk refreshes its time (a directory): garbage collection may then
   * remove old unreferenced chunks while backups run. False in object storage.
   */
  readonly chunkTimesTrackUse: boolean;
  /**
   * Deletes a committed restore point (pruning). It leaves the listing in one
   * rename, then its files go; its chunks stay until garbage collection.
   * NOT_FOUND when there is no such restore point.
   */
  deleteRestorePoint(id: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens (or with `create`, creates) the repository at `root`. */
export async function openRepository(options: OpenRepositoryOptions): Promise<Repository> {
  throwIfAborted(options.signal, "open repository");
  if (isS3Location(options.root)) return openObjectRepository(options);
  const root = resolve(options.root);
  let config = await readRepositoryConfig(root);
  let key: RepositoryKey | undefined;
  if (config === undefined) {
    if (!options.create) {
      throw new FerryError(
        "NOT_FOUND",
        `${root} is not a Ferry repository (no ${REPOSITORY_CONFIG_FILE})`,
      );
    }
    ({ config, key } = await createRepository(root, options.passphrase));
  }
  if (config.encryption && key === undefined && options.passphrase !== undefined) {
    key = (await unlockRepositoryKey(root, config.id, options.passphrase, options.signal)).key;
  }
  if (!config.encryption) await assertNoKeyFiles(root);
  const protection: ChunkProtection = !config.encryption
    ? PLAIN_CHUNKS
    : key
      ? sealedChunks(key)
      : lockedChunks(root);
  const chunks = createChunkStore({
    root: join(root, CHUNKS_DIR),
    durability: options.durability ?? "batched",
    protection,
    // Older repositories keep the headers their other readers expect.
    headerVersion: config.version === NAME_BOUND_REPOSITORY_FORMAT_VERSION ? 2 : 1,
    ...(options.compression === undefined ? {} : { compression: options.compression }),
  });
  // A passphrase for a plain repository: reading it is fine (old backups, while new ones go
  // to an encrypted repository), but writing would silently go in the clear.
  const writeRefusal =
    !config.encryption && options.passphrase !== undefined
      ? new FerryError(
          "FAILED_PRECONDITION",
          `repository ${root} is not encrypted, but a passphrase was given: Ferry does not write backups in the clear when encryption is asked for. Use a new repository (it is created encrypted), or give no passphrase for this one`,
        )
      : undefined;
  return new StoredRepository(
    root,
    createLocalBackend({ root }),
    localRestorePointStorage(root),
    config,
    chunks,
    key,
    protection.restorePoints,
    writeRefusal,
  );
}

/**
 * Refuses a plain repository whose keys/ holds key files: its repository.json was rewritten,
 * or replaced, to read as unencrypted.
 */
async function assertNoKeyFiles(root: string): Promise<void> {
  const keys = await keyFileNames(root);
  if (keys.length > 0) {
    throw new FerryError(
      "CORRUPT_DATA",
      `${join(root, REPOSITORY_CONFIG_FILE)} says the repository is not encrypted, but ${KEYS_DIR}/ holds ${keys.length} key file(s): the config was altered or replaced; restore it from a copy`,
    );
  }
}

/** A repository in object storage: chunks, restore points and key files as objects. */
async function openObjectRepository(options: OpenRepositoryOptions): Promise<Repository> {
  const backend = await createS3Backend(parseS3Location(options.root));
  try {
    let config = await readObjectRepositoryConfig(backend, options.signal);
    let key: RepositoryKey | undefined;
    if (config === undefined) {
      if (!options.create) {
        throw new FerryError(
          "NOT_FOUND",
          `${backend.location} is not a Ferry repository (no ${REPOSITORY_CONFIG_FILE})`,
        );
      }
      ({ config, key } = await createObjectRepository(backend, options.signal, options.passphrase));
    }
    if (config.encryption && key === undefined && options.passphrase !== undefined) {
      key = await unlockRepositoryKeyObject(backend, config.id, options.passphrase, options.signal);
    }
    if (!config.encryption) {
      const keys = await keyObjectNames(backend, options.signal);
      if (keys.length > 0) {
        throw new FerryError(
          "CORRUPT_DATA",
          `${backend.location}/${REPOSITORY_CONFIG_FILE} says the repository is not encrypted, but ${KEYS_DIR}/ holds ${keys.length} key file(s): the config was altered or replaced; restore it from a copy`,
        );
      }
    }
    const protection: ChunkProtection = !config.encryption
      ? PLAIN_CHUNKS
      : key
        ? sealedChunks(key)
        : lockedChunks(backend.location);
    const chunks = createBackendChunkStore({
      backend,
      durability: options.durability ?? "batched",
      compression: options.compression ?? "lz4",
      protection,
      headerVersion: config.version === NAME_BOUND_REPOSITORY_FORMAT_VERSION ? 2 : 1,
    });
    const writeRefusal =
      !config.encryption && options.passphrase !== undefined
        ? new FerryError(
            "FAILED_PRECONDITION",
            `repository ${backend.location} is not encrypted, but a passphrase was given: Ferry does not write backups in the clear when encryption is asked for. Use a new repository (it is created encrypted), or give no passphrase for this one`,
          )
        : undefined;
    return new StoredRepository(
      backend.location,
      backend,
      objectRestorePointStorage(backend),
      config,
      chunks,
      key,
      protection.restorePoints,
      writeRefusal,
    );
  } catch (err) {
    await backend.close();
    throw err;
  }
}

/** A repository whose restore points are read through its backend. */
class StoredRepository implements Repository {
  constructor(
    readonly root: string,
    private readonly backend: RepositoryBackend,
    private readonly storage: RestorePointStorage,
    readonly config: RepositoryConfig,
    readonly chunks: ChunkStore,
    private readonly key: RepositoryKey | undefined,
    private readonly auth: RestorePointAuth,
    private readonly writeRefusal: FerryError | undefined,
  ) {}

  async addPassphrase(passphrase: string): Promise<string> {
    if (!this.config.encryption) {
      throw new FerryError("FAILED_PRECONDITION", `repository ${this.root} is not encrypted`);
    }
    if (!this.key) lockedChunks(this.root).assertKey();
    const key = this.key as RepositoryKey;
    return this.backend.capabilities.kind === "local"
      ? addKeyFile(this.root, this.config.id, key, passphrase)
      : addKeyObject(this.backend, this.config.id, key, passphrase);
  }

  beginRestorePoint(options: BeginRestorePointOptions): Promise<RestorePointWriter> {
    if (this.writeRefusal) return Promise.reject(this.writeRefusal);
    // A new backup asks the store again which chunks it has: one removed by garbage
    // collection since is then written afresh, not referenced.
    if (this.chunks instanceof BackendChunkStore) this.chunks.forgetKnown();
    return this.storage.begin(this.chunks, this.auth, options);
  }

  async listRestorePoints(options: ListRestorePointsOptions = {}): Promise<Manifest[]> {
    throwIfAborted(options.signal, "list restore points");
    if (options.vmId !== undefined) assertSafeName(options.vmId, "VM id");
    // Safe names never start with ".", so staging directories and temp files fall out here.
    const vmIds =
      options.vmId !== undefined
        ? [options.vmId]
        : (await this.groupNames(`${RESTORE_POINTS_DIR}/`, options.signal)).filter(isSafeName);
    const result: Manifest[] = [];
    for (const vmId of vmIds.sort()) {
      const names = (await this.groupNames(`${RESTORE_POINTS_DIR}/${vmId}/`, options.signal))
        .filter(isRestorePointName)
        .sort();
      const loaded = await Promise.all(
        names.map(async (name) => {
          const id = `${vmId}/${name}`;
          try {
            return (await this.loadManifest(id, options.signal)).manifest;
          } catch (err) {
            if (
              !isFerryError(err) ||
              !["NOT_FOUND", "CORRUPT_DATA", "FAILED_PRECONDITION"].includes(err.code)
            ) {
              throw err;
            }
            options.onInvalid?.(id, err);
            return undefined;
          }
        }),
      );
      for (const manifest of loaded) if (manifest) result.push(manifest);
    }
    return result;
  }

  async openRestorePoint(id: string, signal?: AbortSignal): Promise<RestorePointReader> {
    throwIfAborted(signal, "open restore point");
    parseRestorePointId(id);
    const { manifest, bytes } = await this.loadManifest(id, signal);
    // Encrypted and opened with the key: the manifest and each index's table must be the
    // ones the MAC covers. Without the key nothing can be checked (nor restored).
    const tables =
      this.auth.t === "mac"
        ? checkRestorePointMac(
            id,
            await this.readOptional(
              `${RESTORE_POINTS_DIR}/${id}/${RESTORE_POINT_MAC_FILE}`,
              signal,
            ),
            bytes,
            manifest,
            this.auth.macOf,
          )
        : undefined;
    const diskOf = (diskId: string) => {
      const disk = manifest.disks.find((d) => d.id === diskId);
      if (!disk) throw new FerryError("NOT_FOUND", `restore point ${id} has no disk ${diskId}`);
      return disk;
    };
    return {
      id,
      manifest,
      indexPath: (diskId) => `${RESTORE_POINTS_DIR}/${id}/${diskOf(diskId).indexFile}`,
      readIndex: async (diskId, readSignal) => {
        const disk = diskOf(diskId);
        const index = await this.storage.readIndex(
          `${RESTORE_POINTS_DIR}/${id}/${disk.indexFile}`,
          readSignal,
        );
        const table = tables?.get(diskId);
        if (table !== undefined && !digestsEqual(table, index.tableChecksum)) {
          throw new FerryError(
            "CORRUPT_DATA",
            `index ${index.path} is not the one restore point ${id} authenticates: its digests were altered`,
            { details: { path: index.path, reason: "authentication" } },
          );
        }
        if (
          index.uuid !== disk.indexUuid ||
          index.sizeBytes !== disk.sizeBytes ||
          index.chunkSizeBytes !== disk.chunkSizeBytes
        ) {
          throw new FerryError(
            "CORRUPT_DATA",
            `index ${index.path} is not the one manifest ${id} names`,
            {
              details: { path: index.path, reason: "manifest mismatch" },
            },
          );
        }
        return index;
      },
    };
  }

  removeStaleStaging(options: { olderThanMs: number; nowMs?: number }): Promise<string[]> {
    return this.storage.removeStale({
      olderThanMs: options.olderThanMs,
      nowMs: options.nowMs ?? Date.now(),
    });
  }

  backupsInProgress(signal?: AbortSignal): Promise<BackupInProgress[]> {
    return this.storage.backupsInProgress(signal);
  }

  fenceBackups(signal?: AbortSignal): Promise<GarbageCollectionLock> {
    return this.storage.fenceBackups(signal);
  }

  async readSidecar(
    id: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<{ text: string; path: string } | undefined> {
    const key = sidecarKey(id, name);
    const text = await this.readOptional(key, signal);
    return text === undefined ? undefined : { text, path: this.pathOf(key) };
  }

  async writeSidecar(id: string, name: string, text: string, signal?: AbortSignal) {
    await this.backend.put(sidecarKey(id, name), [Buffer.from(text)], signal);
  }

  /** Where an object is, for messages: a file's path or an s3:// URL. */
  private pathOf(key: string): string {
    return `${this.backend.location.replace(/\/$/, "")}/${key}`;
  }

  get chunkTimesTrackUse(): boolean {
    return this.storage.chunkTimesTrackUse;
  }

  deleteRestorePoint(id: string): Promise<void> {
    return this.storage.delete(id);
  }

  async close(): Promise<void> {
    await this.chunks.close();
    await this.backend.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** manifest.json of restore point `id`, checked to name that very restore point. */
  private async loadManifest(
    id: string,
    signal?: AbortSignal,
  ): Promise<{ manifest: Manifest; bytes: Buffer }> {
    const key = `${RESTORE_POINTS_DIR}/${id}/${MANIFEST_FILE}`;
    const path = this.pathOf(key);
    let bytes: Buffer;
    try {
      // A damaged file must not make a listing allocate gigabytes.
      bytes = await this.backend.get(key, { maxBytes: MAX_MANIFEST_BYTES, ...signalOf(signal) });
    } catch (err) {
      if (isFerryError(err, "NOT_FOUND"))
        throw new FerryError("NOT_FOUND", `restore point ${id} not found`, { cause: err });
      throw err;
    }
    const manifest = parseManifest(bytes.toString("utf8"), path);
    if (manifest.restorePointId !== id) {
      throw new FerryError("CORRUPT_DATA", `manifest ${path} names ${manifest.restorePointId}`);
    }
    return { manifest, bytes };
  }

  /** A small object's text (at most MAX_MANIFEST_BYTES), or undefined when it does not exist. */
  private async readOptional(key: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const bytes = await this.backend.get(key, {
        maxBytes: MAX_MANIFEST_BYTES,
        ...signalOf(signal),
      });
      return bytes.toString("utf8");
    } catch (err) {
      if (isFerryError(err, "NOT_FOUND")) return undefined;
      throw err;
    }
  }

  /** Names of the groups one level below `prefix` (directories, locally): VM ids, restore points. */
  private async groupNames(prefix: string, signal?: AbortSignal): Promise<string[]> {
    const names: string[] = [];
    for await (const entry of this.backend.list(prefix, { delimited: true, ...signalOf(signal) })) {
      if (entry.t === "prefix") names.push(entry.key.slice(prefix.length, -1));
    }
    return names;
  }
}

function signalOf(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

function sidecarKey(id: string, name: string): string {
  const { vmId, name: rp } = parseRestorePointId(id);
  return `${RESTORE_POINTS_DIR}/${vmId}/${rp}/${name}`;
}
