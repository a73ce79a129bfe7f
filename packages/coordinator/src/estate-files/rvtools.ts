// An RVTools export (its vInfo, vDisk, vHost and vDatastore sheets saved as CSV) as an estate
// for offline planning. RVTools has no movers and no throughputs: those come from
// ESTATE_DEFAULTS and the what-if flags. Pure: the caller reads the files.

import { DEFAULT_LIMITS } from "../dispatch/limits.js";
import { DEFAULT_COST, DEFAULT_IO_CONTROL, type PlanVm } from "../planner/estate.js";
import type { CsvRecord, CsvTable } from "./csv.js";
import {
  type Column,
  cellPlace,
  findColumn,
  findSizeColumn,
  requireColumn,
  requireSizeColumn,
  size,
  text,
} from "./csv-columns.js";
import { ESTATE_DEFAULTS, type Estate } from "./estate.js";
import { inputError } from "./input-error.js";

/** The four sheets, parsed. */
export interface RvtoolsSheets {
  vInfo: CsvTable;
  vDisk: CsvTable;
  vHost: CsvTable;
  vDatastore: CsvTable;
}

/** The sheet names, as RVTools names its CSV files (RVTools_tabvInfo.csv, vInfo.csv). */
export const RVTOOLS_SHEETS = ["vInfo", "vDisk", "vHost", "vDatastore"] as const;

/** Options of {@link readRvtools}. */
export interface RvtoolsOptions {
  /** A datastore no VM uses is a note, not an error. */
  allowUnusedDatastores?: boolean;
}

const DATASTORE_PATH = /^\[([^\]]+)\]/;

interface Row {
  t: CsvTable;
  r: CsvRecord;
}

/**
 * Builds the estate: a VM per vInfo row that is powered on or suspended and not a template
 * (Ferry backs up running VMs; the others are counted in a note), on its vHost host, reading
 * its "In Use" size (else the sum of its disks' capacities), on the datastores its vDisk paths
 * ("[ds] folder/disk.vmdk") name, else its vInfo path's. Errors (FerryError INVALID_ARGUMENT)
 * name file, line and column: a missing column (the header line), an empty or non-numeric
 * cell, a VM, host or datastore another sheet does not list, a name listed twice, and a
 * datastore no VM uses (unless allowed).
 */
export function readRvtools(s: RvtoolsSheets, o: RvtoolsOptions = {}): Estate {
  const notes: string[] = [];
  // vHost: the hosts.
  const hostName = requireColumn(s.vHost, ["Host", "Name"]);
  const hosts = new Map<string, Row>();
  for (const r of s.vHost.records) {
    const name = text(s.vHost, r, hostName);
    duplicate(hosts, name, s.vHost, r, hostName, "host");
    hosts.set(name, { t: s.vHost, r });
  }
  // vDatastore: the datastores, their capacity and use.
  const dsName = requireColumn(s.vDatastore, ["Name", "Datastore"]);
  const dsCapacity = requireSizeColumn(s.vDatastore, ["Capacity"]);
  const dsInUse = findSizeColumn(s.vDatastore, ["In Use"]);
  const datastores = new Map<string, Row>();
  let capacity = 0;
  let inUse = 0;
  for (const r of s.vDatastore.records) {
    const name = text(s.vDatastore, r, dsName);
    duplicate(datastores, name, s.vDatastore, r, dsName, "datastore");
    datastores.set(name, { t: s.vDatastore, r });
    capacity += size(s.vDatastore, r, dsCapacity) as number;
    if (dsInUse) inUse += size(s.vDatastore, r, dsInUse, false) ?? 0;
  }
  // vDisk: each VM's disks and the datastores they are on.
  const dVm = requireColumn(s.vDisk, ["VM"]);
  const dCapacity = requireSizeColumn(s.vDisk, ["Capacity"]);
  const dPath = requireColumn(s.vDisk, ["Path", "Disk Path"]);
  const disks = new Map<string, { bytes: number; datastores: string[]; row: Row }>();
  for (const r of s.vDisk.records) {
    const vm = text(s.vDisk, r, dVm);
    const bytes = size(s.vDisk, r, dCapacity) as number;
    const ds = datastoreOf(s.vDisk, r, dPath, datastores, s.vDatastore.file);
    const d = disks.get(vm) ?? { bytes: 0, datastores: [], row: { t: s.vDisk, r } };
    d.bytes += bytes;
    if (!d.datastores.includes(ds)) d.datastores.push(ds);
    disks.set(vm, d);
  }
  // vInfo: the VMs.
  const t = s.vInfo;
  const iVm = requireColumn(t, ["VM", "Name"]);
  const iPower = requireColumn(t, ["Powerstate", "Power State"]);
  const iHost = requireColumn(t, ["Host"]);
  const iInUse = findSizeColumn(t, ["In Use"]);
  const iProvisioned = findSizeColumn(t, ["Provisioned"]);
  const iTemplate = findColumn(t, ["Template"]);
  const iPath = findColumn(t, ["Path"]);
  if (!iInUse && !iProvisioned) requireSizeColumn(t, ["In Use", "Provisioned"]);
  const vms: PlanVm[] = [];
  const sizes: number[] = [];
  const seen = new Map<string, Row>();
  const used = new Set<string>();
  let off = 0;
  let templates = 0;
  for (const r of t.records) {
    const name = text(t, r, iVm);
    duplicate(seen, name, t, r, iVm, "VM");
    seen.set(name, { t, r });
    const host = text(t, r, iHost);
    if (!hosts.has(host))
      throw inputError(cellPlace(t, r, iHost), `host "${host}" is not in ${s.vHost.file}`);
    const d = disks.get(name);
    const dsIds =
      d?.datastores ??
      (iPath && text(t, r, iPath, false)
        ? [datastoreOf(t, r, iPath, datastores, s.vDatastore.file)]
        : []);
    for (const ds of dsIds) used.add(ds);
    if (iTemplate && /^true$/i.test(text(t, r, iTemplate, false))) {
      templates++;
      continue;
    }
    const power = text(t, r, iPower);
    if (!/^(poweredOn|suspended)$/i.test(power)) {
      if (!/^poweredOff$/i.test(power))
        throw inputError(
          cellPlace(t, r, iPower),
          `"${power}" is not a power state (poweredOn, poweredOff, suspended)`,
        );
      off++;
      continue;
    }
    const bytes =
      (iInUse ? size(t, r, iInUse, false) : undefined) ??
      d?.bytes ??
      (iProvisioned ? size(t, r, iProvisioned, false) : undefined);
    if (bytes === undefined)
      throw inputError(
        cellPlace(t, r, (iInUse ?? iProvisioned) as Column),
        `VM "${name}" has no size here and no disks in ${s.vDisk.file}`,
      );
    vms.push({
      id: name,
      hostId: host,
      datastoreIds: dsIds,
      expectedBytes: bytes,
      transport: "any",
    });
    sizes.push(bytes);
  }
  for (const [vm, d] of disks)
    if (!seen.has(vm))
      throw inputError(cellPlace(d.row.t, d.row.r, dVm), `VM "${vm}" is not in ${t.file}`);
  for (const [name, { r }] of datastores) {
    if (used.has(name)) continue;
    if (!o.allowUnusedDatastores)
      throw inputError(
        cellPlace(s.vDatastore, r, dsName),
        `no VM uses datastore "${name}" (remove its row, or pass --allow-unused-datastores)`,
      );
    notes.push(`datastore ${name} holds no VM's disk (${s.vDatastore.file})`);
  }
  if (off + templates > 0)
    notes.push(
      `${off} powered-off VM(s) and ${templates} template(s) in ${t.file} left out: Ferry backs up running VMs`,
    );
  if (capacity > 0 && dsInUse)
    notes.push(
      `datastores: ${(capacity / 2 ** 40).toFixed(1)} TiB, ${((100 * inUse) / capacity).toFixed(0)}% in use`,
    );
  return {
    input: {
      hosts: [...hosts.keys()].map((id) => ({
        id,
        throughputBps: ESTATE_DEFAULTS.hostThroughputBps,
      })),
      datastores: [...datastores.keys()].map((id) => ({
        id,
        throughputBps: ESTATE_DEFAULTS.datastoreThroughputBps,
        baseLatencyMs: ESTATE_DEFAULTS.datastoreBaseLatencyMs,
        productionLoad: ESTATE_DEFAULTS.datastoreProductionLoad,
      })),
      movers: [],
      vms,
      limits: { ...DEFAULT_LIMITS, repositoryWrites: DEFAULT_LIMITS.total },
      cost: DEFAULT_COST,
      windowS: 0,
      ioControl: DEFAULT_IO_CONTROL,
    },
    sizeBytes: sizes,
    notes,
  };
}

function duplicate(
  map: ReadonlyMap<string, Row>,
  name: string,
  t: CsvTable,
  r: CsvRecord,
  c: Column,
  what: string,
): void {
  const before = map.get(name);
  if (before)
    throw inputError(
      cellPlace(t, r, c),
      `${what} "${name}" is listed twice (first on line ${before.r.lines[c.index]})`,
    );
}

function datastoreOf(
  t: CsvTable,
  r: CsvRecord,
  c: Column,
  datastores: ReadonlyMap<string, Row>,
  datastoreFile: string,
): string {
  const path = text(t, r, c);
  const m = DATASTORE_PATH.exec(path);
  if (!m)
    throw inputError(
      cellPlace(t, r, c),
      `${JSON.stringify(path)} does not start with a datastore ("[datastore] folder/file")`,
    );
  const ds = m[1] as string;
  if (!datastores.has(ds))
    throw inputError(cellPlace(t, r, c), `datastore "${ds}" is not in ${datastoreFile}`);
  return ds;
}
