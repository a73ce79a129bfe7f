import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Transport } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { restoreTaskSpec, task } from "../catalog/catalog-fixtures.test-helper.js";
import { backupSpec } from "../catalog/task-spec.js";
import { taskTransport, windowEndsAtMs } from "./task-fields.js";

describe("what dispatch reads of a task's spec", () => {
  it("reads a backup's window end in milliseconds, NaN without one and for restores", () => {
    const end = new Date("2026-12-04T05:30:00.250Z");
    const spec = backupSpec({ repository: "/r", windowEndsAt: timestampFromDate(end) });
    expect(windowEndsAtMs(task("t", "j", { spec }))).toBe(end.getTime());
    expect(windowEndsAtMs(task("t", "j", { spec: backupSpec({ repository: "/r" }) }))).toBeNaN();
    expect(windowEndsAtMs(task("t", "j", { spec: restoreTaskSpec() }))).toBeNaN();
  });

  it("reads a backup's transport by name; unset and restores allow any", () => {
    const of = (transport: Transport) =>
      taskTransport(task("t", "j", { spec: backupSpec({ repository: "/r", transport }) }));
    expect([of(Transport.HOTADD), of(Transport.NBD), of(Transport.UNSPECIFIED)]).toEqual([
      "hotadd",
      "nbd",
      "any",
    ]);
    expect(taskTransport(task("t", "j", { spec: restoreTaskSpec() }))).toBe("any");
  });
});
