import type { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { parseEstateJson } from "./estate-json.js";

const good = {
  version: 1,
  window: "22:00-06:00",
  changeRatePercent: 5,
  limits: { perHost: 2, perDatastore: 1, total: 6 },
  hosts: [{ id: "h1" }, { id: "h2", throughputBps: 2e9 }],
  datastores: [{ id: "ds1", productionLoad: 0.5 }, { id: "ds2" }],
  movers: [{ id: "m1", hostId: "h1", datastoreIds: ["ds1"] }],
  vms: [
    { id: "a", hostId: "h1", datastoreIds: ["ds1"], sizeBytes: 1e11 },
    { id: "b", hostId: "h2", datastoreIds: ["ds2"], sizeBytes: 2e11, expectedBytes: 1e10 },
  ],
};

const fail = (text: string, allow = false) => {
  try {
    parseEstateJson("e.json", text, { allowUnusedDatastores: allow });
  } catch (err) {
    expect((err as FerryError).code).toBe("INVALID_ARGUMENT");
    return (err as Error).message;
  }
  throw new Error("parsed");
};
const variant = (f: (e: typeof good) => unknown) => {
  const e = structuredClone(good);
  f(e);
  return JSON.stringify(e, null, 2);
};

describe("the estate file", () => {
  it("reads the planner's input, with defaults for what it leaves out", () => {
    const e = parseEstateJson("e.json", JSON.stringify(good));
    expect(e.input.windowS).toBe(8 * 3600);
    expect(e.changeRate).toBe(0.05);
    expect(e.input.limits).toEqual({ perHost: 2, perDatastore: 1, total: 6, repositoryWrites: 6 });
    expect(e.input.hosts[0]).toEqual({ id: "h1", throughputBps: 1.25e9 });
    expect(e.input.datastores[0]).toMatchObject({ id: "ds1", productionLoad: 0.5 });
    expect(e.input.movers[0]).toMatchObject({ slots: 4, hotadd: true, nbd: true, up: true });
    expect(e.input.vms.map((v) => v.expectedBytes)).toEqual([1e11, 1e10]);
    expect(e.sizeBytes).toEqual([1e11, 2e11]);
  });

  it("names line and column of a JSON syntax error", () => {
    expect(fail('{\n  "version": 1,\n  "hosts": [}\n')).toBe(
      'e.json line 3, column 13: not valid JSON: expected a value, found "}"',
    );
    expect(fail('{ "version": 1, }')).toBe(
      'e.json line 1, column 17: not valid JSON: expected a key in double quotes, found "}"',
    );
  });

  it("names the JSON path of a bad or unknown value", () => {
    expect(fail(variant((e) => Object.assign(e.vms[1] as object, { sizeBytes: "2 GB" })))).toBe(
      'e.json at vms[1].sizeBytes: expected a number, got the string "2 GB"',
    );
    expect(fail(variant((e) => Object.assign(e.hosts[0] as object, { cpu: 4 })))).toMatch(
      /^e\.json at hosts\[0\]\.cpu: unknown key/,
    );
    expect(fail(variant((e) => Object.assign(e, { version: 2 })))).toMatch(/at version: must be/);
  });

  it("names references to hosts and datastores the file does not list", () => {
    expect(fail(variant((e) => Object.assign(e.vms[0] as object, { hostId: "h9" })))).toBe(
      'e.json at vms[0].hostId: host "h9" is not in hosts',
    );
    expect(fail(variant((e) => e.movers[0]?.datastoreIds.push("ds7")))).toBe(
      'e.json at movers[0].datastoreIds[1]: datastore "ds7" is not in datastores',
    );
    expect(fail(variant((e) => e.hosts.push({ id: "h1" })))).toBe(
      'e.json at hosts[2].id: "h1" is listed twice',
    );
  });

  it("rejects a datastore no VM uses, unless allowed", () => {
    const text = variant((e) => e.datastores.push({ id: "iso" }));
    expect(fail(text)).toBe(
      'e.json at datastores[2]: no VM uses datastore "iso" (remove it, or pass --allow-unused-datastores)',
    );
    expect(parseEstateJson("e.json", text, { allowUnusedDatastores: true }).notes).toEqual([
      "datastore iso holds no VM's disk",
    ]);
  });
});
