import { QuiesceMode, Transport } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { LEGACY_PARAMS } from "./catalog-fixtures.test-helper.js";
import { legacyTaskSpec } from "./legacy-task-params.js";
import { backupSpec, restoreSpec, taskKind } from "./task-spec.js";

describe("legacyTaskSpec", () => {
  it("reads the maps the job service wrote, backup and restore", () => {
    for (const { params, spec } of LEGACY_PARAMS) expect(legacyTaskSpec(params)).toEqual(spec);
  });

  it("tells a restore by its restorePointId", () => {
    expect(taskKind({ spec: legacyTaskSpec({ repository: "/r" }) })).toBe("backup");
    // A restore's key in a backup map is a map that was never written, not a restore.
    expect(() => legacyTaskSpec({ repository: "/r", targetDir: "/t" })).toThrow(/targetDir/);
    const restore = legacyTaskSpec({ repository: "/r", restorePointId: "vm/1", targetDir: "/t" });
    expect(restore).toEqual(
      restoreSpec({ repository: "/r", restorePointId: "vm/1", diskIds: [], targetDir: "/t" }),
    );
  });

  it("gives missing optional keys the defaults dispatch used", () => {
    // An ad-hoc backup: no fullEvery, testRestore, forceFull or window.
    expect(legacyTaskSpec({ repository: "/r" })).toEqual(
      backupSpec({
        repository: "/r",
        quiesce: QuiesceMode.PREFERRED,
        transport: Transport.UNSPECIFIED,
      }),
    );
    expect(legacyTaskSpec({ repository: "/r", quiesce: "off", transport: "any" })).toEqual(
      backupSpec({ repository: "/r", quiesce: QuiesceMode.OFF }),
    );
  });

  it.each([
    [{}, /repository must be a string/],
    [{ repository: 7 }, /repository must be a string/],
    [{ repository: "/r", quiesce: "sometimes" }, /quiesce must be one of/],
    [{ repository: "/r", transport: "usb" }, /transport must be one of/],
    [{ repository: "/r", forceFull: "yes" }, /forceFull must be a boolean/],
    [{ repository: "/r", fullEvery: [6, 7] }, /fullEvery must be an object/],
    [{ repository: "/r", fullEvery: { backups: -1 } }, /fullEvery.backups must be a non-neg/],
    [{ repository: "/r", fullEvery: { days: 1.5 } }, /fullEvery.days must be a non-neg/],
    [{ repository: "/r", windowEndsAt: "soon" }, /windowEndsAt must be an ISO 8601 time/],
    [{ repository: "/r", windowEndsAt: 1767229200000 }, /windowEndsAt must be an ISO/],
    [{ repository: "/r", nested: { n: 1 } }, /nested is not a task parameter/],
    [{ restorePointId: "vm/1", targetDir: "/t" }, /repository must be a string/],
    [{ repository: "/r", restorePointId: 1, targetDir: "/t" }, /restorePointId must be a str/],
    [{ repository: "/r", restorePointId: "vm/1" }, /targetDir must be a string/],
    [{ repository: "/r", restorePointId: "vm/1", targetDir: "/t", diskIds: "d0" }, /diskIds/],
    [{ repository: "/r", restorePointId: "vm/1", targetDir: "/t", diskIds: [0] }, /diskIds/],
    [{ repository: "/r", restorePointId: "vm/1", targetDir: "/t", quiesce: "off" }, /quiesce is/],
  ])("refuses %j", (params, why) => {
    expect(() => legacyTaskSpec(params)).toThrow(why);
  });
});
