// An encrypted repository's restore points are authenticated: a keyed MAC over the manifest's
// exact bytes and each index's digest table checksum, so nobody without the key can swap,
// reorder or edit what a restore point restores. Pure: the caller does the file I/O.
import { timingSafeEqual } from "node:crypto";
import { FerryError } from "../errors/ferry-error.js";
import { digestFromHex, digestToHex } from "./digest.js";
import type { Manifest } from "./manifest.js";

/** Computes a MAC over parts (the caller's keyed hash). */
export type MacOf = (parts: readonly Uint8Array[]) => Uint8Array;

function macParts(
  manifestBytes: Uint8Array,
  tables: ReadonlyMap<string, Uint8Array>,
  diskIds: readonly string[],
): Uint8Array[] {
  // Length-prefixed, so no two different inputs run together into the same bytes.
  const parts: Uint8Array[] = [];
  const add = (bytes: Uint8Array) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(bytes.length);
    parts.push(len, bytes);
  };
  add(manifestBytes);
  for (const id of diskIds) {
    const table = tables.get(id);
    if (!table) throw new FerryError("INTERNAL", `no digest table checksum for disk ${id}`);
    add(Buffer.from(id));
    add(table);
  }
  return parts;
}

/** The text of manifest.mac for a restore point whose disks have the given table checksums. */
export function serializeRestorePointMac(
  manifestBytes: Uint8Array,
  manifest: Manifest,
  tables: ReadonlyMap<string, Uint8Array>,
  macOf: MacOf,
): Buffer {
  const ids = manifest.disks.map((d) => d.id);
  const mac = macOf(macParts(manifestBytes, tables, ids));
  const body = {
    tables: Object.fromEntries(
      ids.map((id) => [id, digestToHex(tables.get(id) ?? new Uint8Array())]),
    ),
    mac: digestToHex(mac),
  };
  return Buffer.from(`${JSON.stringify(body, null, 2)}\n`);
}

/**
 * Checks manifest.mac (`text`, undefined when the file is missing) against the manifest's
 * bytes; returns each disk's authenticated digest table checksum. CORRUPT_DATA naming the
 * restore point when anything does not match.
 */
export function checkRestorePointMac(
  id: string,
  text: string | undefined,
  manifestBytes: Uint8Array,
  manifest: Manifest,
  macOf: MacOf,
): Map<string, Uint8Array> {
  const fail = (reason: string) =>
    new FerryError(
      "CORRUPT_DATA",
      `restore point ${id} fails its authentication: ${reason}; its manifest or indexes were altered`,
      { details: { restorePoint: id, reason } },
    );
  if (text === undefined) throw fail("manifest.mac is missing");
  let body: { tables?: unknown; mac?: unknown };
  try {
    body = JSON.parse(text);
  } catch {
    throw fail("manifest.mac is not valid JSON");
  }
  const ids = manifest.disks.map((d) => d.id);
  const tables = new Map<string, Uint8Array>();
  const listed = body.tables;
  if (typeof listed !== "object" || listed === null || typeof body.mac !== "string") {
    throw fail("manifest.mac lacks tables or mac");
  }
  try {
    for (const diskId of ids) {
      const hex = (listed as Record<string, unknown>)[diskId];
      if (typeof hex !== "string") throw fail(`manifest.mac lists no table for disk ${diskId}`);
      tables.set(diskId, digestFromHex(hex));
    }
    const expected = macOf(macParts(manifestBytes, tables, ids));
    const given = digestFromHex(body.mac);
    if (!timingSafeEqual(expected, given)) throw fail("the MAC does not match");
  } catch (err) {
    if (err instanceof FerryError && err.code === "CORRUPT_DATA") throw err;
    throw fail("manifest.mac holds a malformed digest");
  }
  return tables;
}
