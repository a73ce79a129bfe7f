// The manifest of a restore point (manifest.json): types, validation, JSON codec.
import { FerryError } from "../errors/ferry-error.js";
import { checkGeometry } from "./fixed-index-header.js";
import {
  FIXED_INDEX_SUFFIX,
  MANIFEST_FORMAT,
  MAX_MANIFEST_BYTES,
  MAX_VM_CONFIG_CHARS,
  REPOSITORY_FORMAT_VERSION,
  VM_CONFIG_LIBVIRT_DOMAIN_XML,
} from "./format.js";
import { isRestorePointId, isSafeName, parseRestorePointId } from "./names.js";

/** "application": guest filesystems were frozen; "crash": as after a power cut. */
export type ManifestConsistency = "application" | "crash";
/** How the disks were read; every restore point is a logical full either way. */
export type ManifestMode = "full" | "incremental";
/** How the mover reached the disks. */
export type ManifestTransport = "hotadd" | "nbd";

/** One disk of a restore point. */
export interface ManifestDisk {
  id: string;
  /** Disk size, bytes (as in the index). */
  sizeBytes: number;
  /** Chunk size, bytes (as in the index). */
  chunkSizeBytes: number;
  /** `<id>.fidx`, relative to the restore point directory. */
  indexFile: string;
  /** UUID of that index file: a swapped or rewritten index is detected. */
  indexUuid: string;
  /** Bytes read from the source for this disk. */
  bytesRead: number;
  /** Bytes this backup added to the chunk store for this disk (sizes of new chunk files). */
  bytesNew: number;
  /** How this disk was read; absent in older manifests (then the restore point's mode). */
  mode?: ManifestMode;
  /** Why an incremental was not possible and the whole disk was read. */
  fullReason?: string;
  /** Dirty bitmap that tracks writes since this restore point's snapshot (next incremental). */
  dirtyBitmap?: string;
}

/** Where the data came from. */
export interface ManifestSource {
  moverId: string;
  transport: ManifestTransport;
}

/**
 * The VM's own definition as its hypervisor holds it, so a restore can define the VM anew.
 * Plain text beside the rest of the manifest: libvirt leaves secrets (passwords) out of it.
 */
export interface ManifestVmConfig {
  format: typeof VM_CONFIG_LIBVIRT_DOMAIN_XML;
  /** The document, 1 to MAX_VM_CONFIG_CHARS characters. */
  text: string;
}

/** A restore point's manifest, format version 1. See docs/repository-format.md. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof REPOSITORY_FORMAT_VERSION;
  /** `<vm-id>/<restore point name>`. */
  restorePointId: string;
  vmId: string;
  vmName: string;
  /** ISO 8601 UTC: when the point-in-time view was taken. */
  createdAt: string;
  /** ISO 8601 UTC: when the restore point was committed. */
  committedAt: string;
  consistency: ManifestConsistency;
  mode: ManifestMode;
  /** The restore point an incremental was based on. */
  parentRestorePointId?: string;
  source: ManifestSource;
  disks: ManifestDisk[];
  /** Incrementals since the last full, counting this one (0 for a full). */
  incrementalsSinceFull?: number;
  /** ISO 8601 UTC: when the last full of this chain was taken (this one's createdAt for a full). */
  lastFullAt?: string;
  /** The VM's definition at backup time (libvirt domains); absent for QEMU's monitor VMs. */
  vmConfig?: ManifestVmConfig;
}

type Code = "CORRUPT_DATA" | "INVALID_ARGUMENT";

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_TEXT = 1024;

class Checker {
  constructor(
    private readonly where: string,
    private readonly code: Code,
  ) {}

  fail(field: string, problem: string): never {
    throw new FerryError(this.code, `manifest ${this.where}: ${field} ${problem}`, {
      details: { field, where: this.where },
    });
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      this.fail(field, "must be an object");
    return value as Record<string, unknown>;
  }

  text(value: unknown, field: string): string {
    if (typeof value !== "string" || value.length < 1 || value.length > MAX_TEXT) {
      this.fail(field, `must be a string of 1-${MAX_TEXT} characters`);
    }
    return value;
  }

  match(value: unknown, field: string, ok: (s: string) => boolean, shape: string): string {
    if (typeof value !== "string" || !ok(value))
      this.fail(field, `must be ${shape}, got ${JSON.stringify(value)}`);
    return value;
  }

  time(value: unknown, field: string): string {
    return this.match(
      value,
      field,
      (s) => ISO_UTC.test(s) && !Number.isNaN(Date.parse(s)),
      "an ISO 8601 UTC time",
    );
  }

  oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
    if (!allowed.includes(value as T)) this.fail(field, `must be one of ${allowed.join(", ")}`);
    return value as T;
  }

  count(value: unknown, field: string): number {
    if (!Number.isSafeInteger(value) || (value as number) < 0)
      this.fail(field, "must be a non-negative safe integer");
    return value as number;
  }
}

function checkDisk(c: Checker, value: unknown, field: string): ManifestDisk {
  const d = c.object(value, field);
  const id = c.match(d.id, `${field}.id`, isSafeName, "a disk id ([A-Za-z0-9._-], 1-128)");
  const sizeBytes = c.count(d.sizeBytes, `${field}.sizeBytes`);
  const chunkSizeBytes = c.count(d.chunkSizeBytes, `${field}.chunkSizeBytes`);
  const geometry = checkGeometry(sizeBytes, chunkSizeBytes);
  if ("problem" in geometry) c.fail(field, geometry.problem);
  const indexFile = c.match(
    d.indexFile,
    `${field}.indexFile`,
    (s) => s === `${id}${FIXED_INDEX_SUFFIX}`,
    `"${id}${FIXED_INDEX_SUFFIX}"`,
  );
  return {
    id,
    sizeBytes,
    chunkSizeBytes,
    indexFile,
    indexUuid: c.match(d.indexUuid, `${field}.indexUuid`, (s) => UUID.test(s), "a lowercase UUID"),
    bytesRead: c.count(d.bytesRead, `${field}.bytesRead`),
    bytesNew: c.count(d.bytesNew, `${field}.bytesNew`),
    ...(d.mode === undefined
      ? {}
      : { mode: c.oneOf(d.mode, `${field}.mode`, ["full", "incremental"] as const) }),
    ...(d.fullReason === undefined
      ? {}
      : { fullReason: c.text(d.fullReason, `${field}.fullReason`) }),
    ...(d.dirtyBitmap === undefined
      ? {}
      : { dirtyBitmap: c.text(d.dirtyBitmap, `${field}.dirtyBitmap`) }),
  };
}

/**
 * Checks a manifest value field by field and returns a clean copy (unknown fields dropped).
 * Throws `code` naming `where` and the first bad field; FAILED_PRECONDITION for a version this
 * build does not read.
 */
export function validateManifest(value: unknown, where: string, code: Code): Manifest {
  const c = new Checker(where, code);
  const m = c.object(value, "manifest");
  if (m.format !== MANIFEST_FORMAT) c.fail("format", `must be "${MANIFEST_FORMAT}"`);
  if (m.version !== REPOSITORY_FORMAT_VERSION) {
    if (Number.isSafeInteger(m.version) && (m.version as number) > REPOSITORY_FORMAT_VERSION) {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `manifest ${where}: version ${m.version} is newer than this Ferry reads (${REPOSITORY_FORMAT_VERSION})`,
      );
    }
    c.fail("version", `must be ${REPOSITORY_FORMAT_VERSION}`);
  }
  const restorePointId = c.match(
    m.restorePointId,
    "restorePointId",
    isRestorePointId,
    "<vm-id>/<YYYYMMDDTHHMMSSmmmZ>-<8 hex>",
  );
  const vmId = c.match(m.vmId, "vmId", isSafeName, "a VM id ([A-Za-z0-9._-], 1-128)");
  if (parseRestorePointId(restorePointId).vmId !== vmId)
    c.fail("restorePointId", `must start with vmId "${vmId}/"`);
  const parent = m.parentRestorePointId;
  const source = c.object(m.source, "source");
  if (!Array.isArray(m.disks) || m.disks.length === 0) c.fail("disks", "must be a non-empty array");
  const disks = (m.disks as unknown[]).map((d, i) => checkDisk(c, d, `disks[${i}]`));
  const ids = new Set<string>();
  for (const [i, disk] of disks.entries()) {
    if (ids.has(disk.id)) c.fail(`disks[${i}].id`, `"${disk.id}" is not unique`);
    ids.add(disk.id);
  }
  return {
    format: MANIFEST_FORMAT,
    version: REPOSITORY_FORMAT_VERSION,
    restorePointId,
    vmId,
    vmName: c.text(m.vmName, "vmName"),
    createdAt: c.time(m.createdAt, "createdAt"),
    committedAt: c.time(m.committedAt, "committedAt"),
    consistency: c.oneOf(m.consistency, "consistency", ["application", "crash"] as const),
    mode: c.oneOf(m.mode, "mode", ["full", "incremental"] as const),
    ...(parent === undefined
      ? {}
      : {
          parentRestorePointId: c.match(
            parent,
            "parentRestorePointId",
            isRestorePointId,
            "a restore point id",
          ),
        }),
    source: {
      moverId: c.text(source.moverId, "source.moverId"),
      transport: c.oneOf(source.transport, "source.transport", ["hotadd", "nbd"] as const),
    },
    disks,
    ...(m.incrementalsSinceFull === undefined
      ? {}
      : { incrementalsSinceFull: c.count(m.incrementalsSinceFull, "incrementalsSinceFull") }),
    ...(m.lastFullAt === undefined ? {} : { lastFullAt: c.time(m.lastFullAt, "lastFullAt") }),
    ...(m.vmConfig === undefined ? {} : { vmConfig: checkVmConfig(c, m.vmConfig) }),
  };
}

function checkVmConfig(c: Checker, value: unknown): ManifestVmConfig {
  const v = c.object(value, "vmConfig");
  const text = v.text;
  if (typeof text !== "string" || text.length < 1 || text.length > MAX_VM_CONFIG_CHARS)
    c.fail("vmConfig.text", `must be a string of 1-${MAX_VM_CONFIG_CHARS} characters`);
  return {
    format: c.oneOf(v.format, "vmConfig.format", [VM_CONFIG_LIBVIRT_DOMAIN_XML] as const),
    text: text as string,
  };
}

/** Parses manifest.json text; CORRUPT_DATA naming `where` (a path) and the bad field. */
export function parseManifest(text: string, where: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FerryError("CORRUPT_DATA", `manifest ${where}: not valid JSON`, { cause: err });
  }
  return validateManifest(value, where, "CORRUPT_DATA");
}

/** Validates (INVALID_ARGUMENT) and serializes a manifest as indented JSON with a newline. */
export function serializeManifest(manifest: Manifest): string {
  const clean = validateManifest(manifest, manifest.restorePointId ?? "(new)", "INVALID_ARGUMENT");
  const text = `${JSON.stringify(clean, null, 2)}\n`;
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `manifest of ${clean.restorePointId} exceeds ${MAX_MANIFEST_BYTES} bytes`,
    );
  }
  return text;
}
