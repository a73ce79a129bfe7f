import { describe, expect, it } from "vitest";
import { FerryError } from "../errors/ferry-error.js";
import type { MoverRegistryService } from "../gen/ferry/v1/mover_pb.js";
import type { ClientHandle } from "./client.js";
import { createLeaderDialer } from "./leader-dialer.js";

describe("the coordinator a mover registers with", () => {
  it("goes to the leader a follower names, and past an unreachable one to the next", () => {
    const opened: string[] = [];
    const closed: string[] = [];
    const connect = (address: string) => {
      opened.push(address);
      return { close: () => closed.push(address) } as unknown as ClientHandle<
        typeof MoverRegistryService
      >;
    };
    using dialer = createLeaderDialer(["b:1", "a:1", "c:1"], connect);
    expect(dialer.address()).toBe("b:1");
    const notLeader = new FerryError("NOT_LEADER", "follower", { details: { leader: "a:1" } });
    expect(dialer.moveOn(notLeader)).toBe(true);
    expect(dialer.address()).toBe("a:1");
    // The leader went away: the next address in the list.
    expect(dialer.moveOn(new FerryError("UNAVAILABLE", "connection refused"))).toBe(false);
    expect(dialer.address()).toBe("c:1");
    // A refusal that is not about leadership keeps the coordinator.
    expect(dialer.moveOn(new FerryError("PERMISSION_DENIED", "no"))).toBe(false);
    expect(dialer.address()).toBe("c:1");
    expect(opened).toEqual(["b:1", "a:1", "c:1"]);
    expect(closed).toEqual(["b:1", "a:1"]);
  });
});
