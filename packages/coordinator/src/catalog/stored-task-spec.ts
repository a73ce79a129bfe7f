import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { TaskSpecSchema } from "@ferry/common";
import { legacyTaskSpec } from "./legacy-task-params.js";
import type { KindedTaskSpec } from "./records.js";

// A task spec as both stores keep it in tasks.params (SQLite TEXT, PostgreSQL jsonb): the
// message's canonical protobuf JSON, {"backup": {...}} or {"restore": {...}}. Rows of
// versions before TaskSpec hold a plain params map instead, which reads too.

/** The spec as stored: its canonical protobuf JSON. */
export function storedTaskSpec(spec: KindedTaskSpec): JsonValue {
  return toJson(TaskSpecSchema, spec);
}

/**
 * {@link storedTaskSpec} remembering each spec object it encoded, for one batch of writes: a
 * job's tasks share one spec object, encoded once rather than 10,000 times. Not to be kept
 * past the batch (a spec object changed later would be stored as it was).
 */
export function storedTaskSpecs(): (spec: KindedTaskSpec) => JsonValue {
  const done = new Map<KindedTaskSpec, JsonValue>();
  return (spec) => {
    let stored = done.get(spec);
    if (stored === undefined) {
      stored = storedTaskSpec(spec);
      done.set(spec, stored);
    }
    return stored;
  };
}

/**
 * A stored spec back, from canonical JSON or a legacy params map (told apart by the
 * oneof's keys, which no legacy map had). Throws an Error saying why when the value is
 * neither; the stores report that as CORRUPT_DATA naming the row.
 */
export function taskSpecFromStored(value: JsonValue): KindedTaskSpec {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error("a task spec must be a JSON object");
  if (!("backup" in value || "restore" in value)) return legacyTaskSpec(value);
  const spec = fromJson(TaskSpecSchema, value);
  const { kind } = spec;
  if (kind.case === undefined) throw new Error("a task spec must name backup or restore");
  return { ...spec, kind };
}
