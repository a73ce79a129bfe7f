// Ferry's estate file (docs/capacity-planning.md): the planner's input as JSON, validated
// strictly. Errors name the file and the JSON path, or the line and column of a syntax error.
// Pure: the caller reads the file.
import { schema } from "@ferry/common";
import { DEFAULT_LIMITS } from "../dispatch/limits.js";
import { DEFAULT_COST, DEFAULT_IO_CONTROL, type PlanInput } from "../planner/estate.js";
import { ESTATE_DEFAULTS, type Estate } from "./estate.js";
import { inputError } from "./input-error.js";
import { jsonSyntaxError } from "./json-syntax.js";
import { windowLength } from "./window-length.js";

const { array, boolean, number, object, oneOf, string } = schema;
const id = string({ nonEmpty: true });
const bps = number({ min: 1 });
const limit = number({ integer: true, min: 1, max: 100_000 });

/** The estate file's schema, version 1. Keys mirror the planner's PlanInput. */
export const estateFileSchema = object({
  version: number({ integer: true, min: 1, max: 1 }),
  window: string({ pattern: /^\d\d:\d\d-\d\d:\d\d$/, hint: "HH:MM-HH:MM" }).optional(),
  windowHours: number({ min: 0, max: 24 * 7 }).optional(),
  changeRatePercent: number({ min: 0, max: 100 }).optional(),
  limits: object({
    perHost: limit,
    perDatastore: limit,
    total: limit,
    repositoryWrites: limit.optional(),
  }).optional(),
  cost: object({
    streamBps: object({ hotadd: bps, nbd: bps }),
    overheadS: number({ min: 0 }),
  }).optional(),
  ioControl: object({
    enabled: boolean(),
    admitBelowMs: number({ min: 0 }),
    throttleAboveMs: number({ min: 0 }),
    snapshotsPerDatastore: limit,
  }).optional(),
  hosts: array(object({ id, throughputBps: bps.optional() })),
  datastores: array(
    object({
      id,
      throughputBps: bps.optional(),
      baseLatencyMs: number({ min: 0 }).optional(),
      productionLoad: number({ min: 0, max: 0.99 }).optional(),
      capacityBytes: number({ min: 0 }).optional(),
    }),
  ),
  movers: array(
    object({
      id,
      hostId: id,
      datastoreIds: array(id).default([]),
      hotadd: boolean().default(true),
      nbd: boolean().default(true),
      remote: boolean().default(false),
      slots: limit.default(ESTATE_DEFAULTS.moverSlots),
      throughputBps: bps.optional(),
      up: boolean().default(true),
    }),
  ).default([]),
  vms: array(
    object({
      id,
      hostId: id,
      datastoreIds: array(id),
      sizeBytes: number({ min: 0 }),
      expectedBytes: number({ min: 0 }).optional(),
      observedBps: bps.optional(),
      overheadS: number({ min: 0 }).optional(),
      transport: oneOf(["hotadd", "nbd", "any"] as const).default("any"),
    }),
  ),
});

/** Options of {@link parseEstateJson}. */
export interface EstateJsonOptions {
  /** A datastore no VM uses is a note, not an error. */
  allowUnusedDatastores?: boolean;
}

// 1-based line and column of a character offset.
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split("\n").length, column: offset - before.lastIndexOf("\n") };
}

/**
 * Parses an estate file's text. Unknown keys, wrong types, duplicate ids and references to
 * hosts or datastores the file does not list fail with FerryError INVALID_ARGUMENT naming
 * `file` and the JSON path; so does a datastore no VM uses unless allowed.
 */
export function parseEstateJson(file: string, text: string, o: EstateJsonOptions = {}): Estate {
  const src = text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text;
  let value: unknown;
  try {
    value = JSON.parse(src);
  } catch (cause) {
    const at = jsonSyntaxError(src) ?? { offset: src.length, expected: "valid JSON" };
    const found = at.offset < src.length ? JSON.stringify(src[at.offset]) : "the end of the file";
    throw inputError(
      { file, ...lineColumn(src, at.offset) },
      `not valid JSON: expected ${at.expected}, found ${found}`,
      cause,
    );
  }
  const issues: schema.Issue[] = [];
  const f = estateFileSchema.parse(value, "", issues);
  const first = issues[0];
  if (first || !f) {
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem(s))` : "";
    throw inputError({ file, path: first?.path ?? "" }, `${first?.message ?? "invalid"}${more}`);
  }
  if (f.window !== undefined && f.windowHours !== undefined)
    throw inputError({ file, path: "windowHours" }, "give window or windowHours, not both");
  const unique = (list: { id: string }[], key: string) => {
    const seen = new Set<string>();
    list.forEach((x, i) => {
      if (seen.has(x.id))
        throw inputError({ file, path: `${key}[${i}].id` }, `"${x.id}" is listed twice`);
      seen.add(x.id);
    });
    return seen;
  };
  const hosts = unique(f.hosts, "hosts");
  const datastores = unique(f.datastores, "datastores");
  unique(f.movers, "movers");
  unique(f.vms, "vms");
  const known = (set: Set<string>, what: string, ref: string, path: string) => {
    if (!set.has(ref))
      throw inputError(
        { file, path },
        `${what} "${ref}" is not in ${what === "host" ? "hosts" : "datastores"}`,
      );
  };
  const used = new Set<string>();
  f.vms.forEach((vm, i) => {
    known(hosts, "host", vm.hostId, `vms[${i}].hostId`);
    vm.datastoreIds.forEach((d, j) => {
      known(datastores, "datastore", d, `vms[${i}].datastoreIds[${j}]`);
      used.add(d);
    });
  });
  f.movers.forEach((m, i) => {
    known(hosts, "host", m.hostId, `movers[${i}].hostId`);
    m.datastoreIds.forEach((d, j) => {
      known(datastores, "datastore", d, `movers[${i}].datastoreIds[${j}]`);
    });
  });
  const notes: string[] = [];
  f.datastores.forEach((d, i) => {
    if (used.has(d.id)) return;
    if (!o.allowUnusedDatastores)
      throw inputError(
        { file, path: `datastores[${i}]` },
        `no VM uses datastore "${d.id}" (remove it, or pass --allow-unused-datastores)`,
      );
    notes.push(`datastore ${d.id} holds no VM's disk`);
  });
  const windowS =
    f.window !== undefined
      ? windowLength(f.window, { file, path: "window" })
      : Math.round((f.windowHours ?? 0) * 3600);
  const limits = f.limits ?? DEFAULT_LIMITS;
  const input: PlanInput = {
    hosts: f.hosts.map((h) => ({
      id: h.id,
      throughputBps: h.throughputBps ?? ESTATE_DEFAULTS.hostThroughputBps,
    })),
    datastores: f.datastores.map((d) => ({
      id: d.id,
      throughputBps: d.throughputBps ?? ESTATE_DEFAULTS.datastoreThroughputBps,
      baseLatencyMs: d.baseLatencyMs ?? ESTATE_DEFAULTS.datastoreBaseLatencyMs,
      productionLoad: d.productionLoad ?? ESTATE_DEFAULTS.datastoreProductionLoad,
    })),
    movers: f.movers.map((m) => ({
      ...m,
      throughputBps: m.throughputBps ?? ESTATE_DEFAULTS.moverThroughputBps,
    })),
    vms: f.vms.map((vm) => ({
      id: vm.id,
      hostId: vm.hostId,
      datastoreIds: vm.datastoreIds,
      expectedBytes: vm.expectedBytes ?? vm.sizeBytes,
      ...(vm.observedBps === undefined ? {} : { observedBps: vm.observedBps }),
      ...(vm.overheadS === undefined ? {} : { overheadS: vm.overheadS }),
      transport: vm.transport,
    })),
    limits: {
      perHost: limits.perHost,
      perDatastore: limits.perDatastore,
      total: limits.total,
      repositoryWrites: f.limits?.repositoryWrites ?? limits.total,
    },
    cost: f.cost ?? DEFAULT_COST,
    windowS,
    ioControl: f.ioControl ?? DEFAULT_IO_CONTROL,
  };
  return {
    input,
    sizeBytes: f.vms.map((vm) => vm.sizeBytes),
    ...(f.changeRatePercent === undefined ? {} : { changeRate: f.changeRatePercent / 100 }),
    notes,
  };
}
