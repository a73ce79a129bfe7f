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

  it("asks an unknown mover to register and rejects registrations without identity", () => {
    const { registry } = setup();
    expect(registry.heartbeat("ghost", undefined)).toBe(false);
    expect(() => registry.register({ mover: { id: "m1", hostId: "h1" } })).toThrow(
      /gave no address/,
    );
    expect(() => registry.register({})).toThrow(/mover.id is required/);
  });
});
