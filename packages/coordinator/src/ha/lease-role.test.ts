import { describe, expect, it } from "vitest";
import { mayLead, nextRole, type Role } from "./lease-role.js";

const follower: Role = { t: "follower" };
const b = { holder: "coord-b#2", address: "10.0.0.2:7100" };

describe("a coordinator's role on the leader lease", () => {
  it("leads from when it asked, a little less than the lease, and renews the same way", () => {
    const led = nextRole(follower, { held: true, token: 4n }, 1000, 10_000);
    expect(led).toEqual({ t: "leader", token: 4n, validUntilMs: 10_000 });
    expect(mayLead(led, 9_999)).toBe(true);
    expect(mayLead(led, 10_000)).toBe(false);
    expect(nextRole(led, { held: true, token: 4n }, 8000, 10_000)).toMatchObject({
      validUntilMs: 17_000,
    });
  });

  it("stops leading when its lease runs out unrenewed (a pause, a lost database), and when refused", () => {
    const led = nextRole(follower, { held: true, token: 4n }, 0, 10_000);
    // The database cannot be reached: the role holds, but only until the lease's end.
    const unreachable = nextRole(led, "error", 5000, 10_000);
    expect(unreachable).toBe(led);
    expect(mayLead(unreachable, 9500)).toBe(false);
    expect(nextRole(led, { held: false, leader: b }, 5000, 10_000)).toEqual({
      t: "follower",
      leader: b,
    });
    expect(mayLead(follower, 0)).toBe(false);
  });
});
