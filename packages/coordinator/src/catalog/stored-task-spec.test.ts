import { describe, expect, it } from "vitest";
import { LEGACY_PARAMS, restoreTaskSpec, task } from "./catalog-fixtures.test-helper.js";
import { storedTaskSpec, storedTaskSpecs, taskSpecFromStored } from "./stored-task-spec.js";
import { taskKind } from "./task-spec.js";

describe("stored task specs", () => {
  it("stores canonical protobuf JSON and reads it back", () => {
    const backup = task("t1", "j1").spec;
    expect(storedTaskSpec(backup)).toEqual({
      backup: {
        repository: "/srv/ferry/repo",
        quiesce: "QUIESCE_MODE_REQUIRED",
        forceFull: true,
        fullEveryBackups: 6,
        fullEveryDays: 7,
        testRestore: true,
        windowEndsAt: "2026-01-01T01:00:00.123Z",
        transport: "TRANSPORT_NBD",
      },
    });
    for (const spec of [backup, restoreTaskSpec()]) {
      // Through text, as SQLite keeps it.
      const read = taskSpecFromStored(JSON.parse(JSON.stringify(storedTaskSpec(spec))));
      expect(read).toEqual(spec);
      expect(taskKind({ spec: read })).toBe(taskKind({ spec }));
    }
  });

  it("encodes each spec of a batch as storedTaskSpec does, a shared one once", () => {
    const shared = task("t1", "j1").spec;
    const restore = restoreTaskSpec();
    const stored = storedTaskSpecs();
    const batch = [shared, restore, shared, task("t2", "j1").spec, shared];
    expect(batch.map(stored)).toEqual(batch.map(storedTaskSpec));
    expect(stored(shared)).toBe(stored(shared));
    expect(stored(restore)).not.toEqual(stored(shared));
  });

  it("reads the params maps of older versions", () => {
    for (const { params, spec } of LEGACY_PARAMS) expect(taskSpecFromStored(params)).toEqual(spec);
  });

  it.each([
    [[1, 2], /must be a JSON object/],
    [null, /must be a JSON object/],
    ["backup", /must be a JSON object/],
    [{ backup: null }, /must name backup or restore/],
    [{ backup: { repository: "/r" }, restore: { repository: "/r" } }, /oneof/],
    [{ backup: { repository: "/r", bogus: 1 } }, /bogus/],
    [{ restore: { diskIds: "d0" } }, /disk_ids|diskIds/],
    [{ nested: { n: 1 } }, /nested is not a task parameter/],
  ])("refuses %j, saying why", (value, why) => {
    expect(() => taskSpecFromStored(value)).toThrow(why);
  });
});
