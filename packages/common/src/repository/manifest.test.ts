import { describe, expect, it } from "vitest";
import { FerryError } from "../errors/ferry-error.js";
import { parseManifest, serializeManifest } from "./manifest.js";
import { goodManifest as good } from "./manifest-fixture.test-helper.js";

function parseWith(edit: (m: Record<string, unknown>) => void): FerryError {
  const value = structuredClone(good) as unknown as Record<string, unknown>;
  edit(value);
  try {
    parseManifest(JSON.stringify(value), "/repo/manifest.json");
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    return err as FerryError;
  }
  throw new Error("parse succeeded");
}

const disk0 = (m: Record<string, unknown>) =>
  (m.disks as Array<Record<string, unknown>>)[0] as Record<string, unknown>;

describe("manifest", () => {
  it("round-trips through JSON", () => {
    const text = serializeManifest(good);
    expect(text.endsWith("\n")).toBe(true);
    expect(parseManifest(text, "x")).toEqual(good);
  });

  it("ignores unknown fields", () => {
    const text = JSON.stringify({ ...good, futureField: 1 });
    expect(parseManifest(text, "x")).toEqual(good);
  });

  it("keeps a libvirt domain definition, and refuses one of an unknown format or too large", () => {
    const vmConfig = { format: "libvirt-domain-xml" as const, text: "<domain>…</domain>" };
    expect(parseManifest(serializeManifest({ ...good, vmConfig }), "x").vmConfig).toEqual(vmConfig);
    expect(
      parseWith((m) => {
        m.vmConfig = { format: "vmx", text: "x" };
      }).message,
    ).toMatch(/vmConfig\.format must be one of libvirt-domain-xml/);
    expect(
      parseWith((m) => {
        m.vmConfig = { format: "libvirt-domain-xml", text: "x".repeat(256 * 1024 + 1) };
      }).message,
    ).toMatch(/vmConfig\.text must be a string of 1-262144 characters/);
  });

  it("accepts a full backup without a parent", () => {
    const { parentRestorePointId: _, ...full } = good;
    expect(
      parseManifest(JSON.stringify({ ...full, mode: "full" }), "x").parentRestorePointId,
    ).toBeUndefined();
  });

  it.each<[string, (m: Record<string, unknown>) => void, RegExp]>([
    [
      "wrong format",
      (m) => {
        m.format = "restic";
      },
      /format must be "ferry-manifest"/,
    ],
    [
      "bad version",
      (m) => {
        m.version = "1";
      },
      /version must be 1/,
    ],
    [
      "bad restore point id",
      (m) => {
        m.restorePointId = "vm-101/yesterday";
      },
      /restorePointId must be/,
    ],
    [
      "id of another VM",
      (m) => {
        m.restorePointId = "vm-102/20261125T093526123Z-9f86d081";
      },
      /must start with vmId/,
    ],
    [
      "unsafe VM id",
      (m) => {
        m.vmId = "../etc";
      },
      /vmId must be a VM id/,
    ],
    [
      "empty VM name",
      (m) => {
        m.vmName = "";
      },
      /vmName must be a string/,
    ],
    [
      "bad time",
      (m) => {
        m.createdAt = "2026-11-25 09:35";
      },
      /createdAt must be an ISO 8601 UTC time/,
    ],
    [
      "local time",
      (m) => {
        m.committedAt = "2026-11-25T09:35:26+01:00";
      },
      /committedAt must be an ISO/,
    ],
    [
      "bad consistency",
      (m) => {
        m.consistency = "quiesced";
      },
      /consistency must be one of application, crash/,
    ],
    [
      "bad mode",
      (m) => {
        m.mode = "differential";
      },
      /mode must be one of full, incremental/,
    ],
    [
      "bad parent",
      (m) => {
        m.parentRestorePointId = 7;
      },
      /parentRestorePointId must be a restore point id/,
    ],
    [
      "missing source",
      (m) => {
        delete m.source;
      },
      /source must be an object/,
    ],
    [
      "bad transport",
      (m) => {
        m.source = { moverId: "m", transport: "san" };
      },
      /source.transport must be one of/,
    ],
    [
      "no disks",
      (m) => {
        m.disks = [];
      },
      /disks must be a non-empty array/,
    ],
    [
      "negative size",
      (m) => {
        disk0(m).sizeBytes = -1;
      },
      /disks\[0\].sizeBytes must be a non-negative/,
    ],
    [
      "fractional count",
      (m) => {
        disk0(m).bytesNew = 1.5;
      },
      /disks\[0\].bytesNew must be a non-negative safe integer/,
    ],
    [
      "odd chunk size",
      (m) => {
        disk0(m).chunkSizeBytes = 1000;
      },
      /disks\[0\] chunk size 1000 is not a power of two/,
    ],
    [
      "path in index file",
      (m) => {
        disk0(m).indexFile = "../disk0.fidx";
      },
      /disks\[0\].indexFile must be "disk0.fidx"/,
    ],
    [
      "bad uuid",
      (m) => {
        disk0(m).indexUuid = "x";
      },
      /disks\[0\].indexUuid must be a lowercase UUID/,
    ],
    [
      "duplicate disks",
      (m) => {
        m.disks = [disk0(m), disk0(m)];
      },
      /disks\[1\].id "disk0" is not unique/,
    ],
  ])("rejects %s with CORRUPT_DATA naming the field", (_name, edit, message) => {
    const err = parseWith(edit);
    expect(err.code).toBe("CORRUPT_DATA");
    expect(err.message).toMatch(message);
    expect(err.message).toContain("/repo/manifest.json");
  });

  it("rejects text that is not JSON", () => {
    expect(() => parseManifest("{", "/repo/manifest.json")).toThrow(
      expect.objectContaining({
        code: "CORRUPT_DATA",
        message: expect.stringMatching(/not valid JSON/),
      }),
    );
  });

  it("refuses a newer version as FAILED_PRECONDITION", () => {
    const err = parseWith((m) => {
      m.version = 2;
    });
    expect(err.code).toBe("FAILED_PRECONDITION");
    expect(err.message).toMatch(/version 2 is newer/);
  });

  it("serializing an invalid manifest is INVALID_ARGUMENT", () => {
    expect(() => serializeManifest({ ...good, mode: "weekly" as "full" })).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });
});
