import { describe, expect, it } from "vitest";
import { type FerryError, isFerryError } from "../errors/ferry-error.js";
import {
  checkPeerRole,
  describeSubject,
  parsePeerRole,
  peerRolesOf,
  roleUnit,
} from "./peer-role.js";

const refusal = (fn: () => void): FerryError => {
  try {
    fn();
  } catch (err) {
    if (isFerryError(err)) return err;
    throw err;
  }
  throw new Error("expected a refusal");
};

describe("certificate roles", () => {
  it("parses the three roles and names the choices for anything else", () => {
    expect(parsePeerRole("mover")).toBe("mover");
    expect(parsePeerRole("coordinator")).toBe("coordinator");
    expect(parsePeerRole("operator")).toBe("operator");
    const err = refusal(() => parsePeerRole("admin"));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/coordinator, mover, operator/);
  });

  it("reads roles from the subject's OU, only with Ferry's prefix", () => {
    expect(roleUnit("mover")).toBe("ferry-mover");
    expect(peerRolesOf({ CN: "m1", OU: "ferry-mover" })).toEqual(["mover"]);
    // A corporate CA's own OU named like a role grants nothing.
    expect(peerRolesOf({ CN: "alice", OU: "operator" })).toEqual([]);
    expect(peerRolesOf({ CN: "x", OU: "ferry-admin" })).toEqual([]);
    expect(peerRolesOf({ CN: "old" })).toEqual([]);
    expect(peerRolesOf(undefined)).toEqual([]);
    // Node gives an array when the field repeats.
    expect(peerRolesOf({ OU: ["team-a", "ferry-operator", "ferry-mover", "ferry-mover"] })).toEqual(
      ["operator", "mover"],
    );
  });

  it("admits a certificate with an allowed role", () => {
    expect(() =>
      checkPeerRole({ subject: { CN: "c", OU: "ferry-coordinator" } }, ["coordinator"], "S"),
    ).not.toThrow();
    expect(() =>
      checkPeerRole(
        { subject: { CN: "both", OU: ["ferry-operator", "ferry-mover"] } },
        ["mover"],
        "S",
      ),
    ).not.toThrow();
  });

  it("refuses another role with PERMISSION_DENIED naming both roles and the subject", () => {
    const err = refusal(() =>
      checkPeerRole(
        { subject: { CN: "alice", OU: "ferry-operator" } },
        ["coordinator"],
        "ferry.v1.MoverService",
      ),
    );
    expect(err.code).toBe("PERMISSION_DENIED");
    expect(err.message).toBe(
      "ferry.v1.MoverService accepts only certificates with role coordinator; CN=alice, OU=ferry-operator has role operator",
    );
    expect(err.details).toEqual({ expected: ["coordinator"], presented: ["operator"] });
  });

  it("refuses a certificate without a role, and a call without a certificate", () => {
    const old = refusal(() => checkPeerRole({ subject: { CN: "m1" } }, ["mover"], "S"));
    expect(old.code).toBe("PERMISSION_DENIED");
    expect(old.message).toMatch(/CN=m1 has no role \(issue it again with ferry pki issue --role\)/);
    const none = refusal(() => checkPeerRole(undefined, ["mover", "operator"], "S"));
    expect(none.code).toBe("PERMISSION_DENIED");
    expect(none.message).toMatch(/role mover or operator; the caller presented no verified/);
  });

  it("describes a subject field by field", () => {
    expect(describeSubject({ O: "Ferry", OU: ["a", "b"], CN: "x" })).toBe(
      "O=Ferry, OU=a, OU=b, CN=x",
    );
    expect(describeSubject({})).toBe("(empty subject)");
  });
});
