import { MoverState, Transport } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { createMoverRegistry } from "./mover-registry.js";

function setup() {
  let clock = 1_000_000;
  const registry = createMoverRegistry({ heartbeatIntervalMs: 1000, now: () => clock });
  const advance = (ms: number) => {
    clock += ms;
  };
  const register = (id: string, vmIds: string[]) =>
    registry.register({
      mover: {
        id,
        address: `127.0.0.1:${id.length}`,
        hostId: "h1",
        transports: [Transport.HOTADD],
        taskSlots: 2,
      },
      host: { id: "h1", name: "host one" },
      datastores: [{ id: "ds1", path: "/ds1" }],
      vms: vmIds.map((v) => ({ id: v, name: v, hostId: "h1" })),
    });
  return { registry, advance, register };
}

describe("mover registry", () => {
  it("lists a registered mover as up with its inventory", () => {
    const { registry, register } = setup();
    register("m1", ["vm-a", "vm-b"]);
    expect(registry.movers().map((m) => [m.id, m.state])).toEqual([["m1", MoverState.UP]]);
    expect(registry.vms().map((v) => v.id)).toEqual(["vm-a", "vm-b"]);
    expect(registry.hosts().map((h) => h.name)).toEqual(["host one"]);
  });

  it("counts VMs reported in its first minutes as seen before its start, later ones from then, and forgets VMs no mover reports", () => {
    const { registry, advance, register } = setup();
    register("m1", ["vm-a"]);
    advance(10 * 60_000);
    register("m1", ["vm-a", "vm-b"]);
    register("m2", ["vm-a"]);
    let seen = registry.vmsFirstSeen();
    expect(seen.get("vm-a")?.getTime()).toBe(0);
    expect(seen.get("vm-b")?.getTime()).toBe(1_000_000 + 10 * 60_000);
    register("m1", ["vm-a"]);
    seen = registry.vmsFirstSeen();
    expect([...seen.keys()]).toEqual(["vm-a"]);
  });

  it("marks a mover down after three missed heartbeats and hides its VMs", () => {
    const { registry, advance, register } = setup();
    register("m1", ["vm-a"]);
    advance(2500);
    expect(registry.heartbeat("m1", undefined)).toBe(true);
    advance(2900);
    expect(registry.sweep()).toEqual([]);
    advance(200);
    expect(registry.sweep()).toEqual(["m1"]);
    expect(registry.sweep()).toEqual([]);
    expect(registry.movers()[0]?.state).toBe(MoverState.DOWN);
    expect(registry.vms()).toEqual([]);
    // A late heartbeat brings it back.
    expect(registry.heartbeat("m1", undefined)).toBe(true);
    expect(registry.movers()[0]?.state).toBe(MoverState.UP);
  });

  it("keeps the records of a mover registering again with the same inventory", () => {
    const { registry, advance, register } = setup();
    register("m1", ["vm-a"]);
    register("m2", ["vm-b"]);
    const [m1] = registry.movers();
    const [vmA] = registry.vms();
    registry.heartbeat("m1", {
      $typeName: "ferry.v1.MoverMetrics",
      runningTasks: 1,
      cpuLoad: 0,
      rssBytes: 0n,
      readBytesPerSec: 0n,
      datastoreLatencies: [],
    });
    advance(4000);
    expect(registry.sweep()).toEqual(["m1", "m2"]);
    register("m1", ["vm-a"]);
    // The same records, up again with the new registration's fields, metrics until the next beat gone.
    expect(registry.movers()[0]).toBe(m1);
    expect(m1?.state).toBe(MoverState.UP);
    expect(m1?.metrics).toBeUndefined();
    expect(registry.vms()).toEqual([vmA]);
    expect(registry.vms()[0]).toBe(vmA);
  });

  it("replaces the records of a mover registering again with another inventory", () => {
    const { registry, register } = setup();
    register("m1", ["vm-a"]);
    const [m1] = registry.movers();
    register("m1", ["vm-a", "vm-c"]);
    expect(registry.movers()[0]).not.toBe(m1);
    expect(registry.vms().map((v) => v.id)).toEqual(["vm-a", "vm-c"]);
    // Callers get their own lists.
    registry.vms().pop();
    expect(registry.vms()).toHaveLength(2);
  });

  it("asks an unknown mover to register and rejects registrations without identity", () => {
    const { registry } = setup();
    expect(registry.heartbeat("ghost", undefined)).toBe(false);
    expect(() => registry.register({ mover: { id: "m1", hostId: "h1" } })).toThrow(
      /gave no address/,
    );
    expect(() => registry.register({})).toThrow(/mover.id is required/);
  });
});
