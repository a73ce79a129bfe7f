import { create } from "@bufbuild/protobuf";
import { type ParsedArgs, ProtectionReportResponseSchema } from "@ferry/common";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Api } from "./cli-io.js";
import { reportCommand } from "./report-command.js";

// The API answers with a fixed report: what the command prints and exits with.
const apiAnswering = (rows: { vmName: string; status: string }[], pastRpo: number) =>
  ({
    protectionReport: async () =>
      create(ProtectionReportResponseSchema, {
        pastRpo,
        rows: rows.map((r) => ({ ...r, vmId: r.vmName, policies: ["daily"] })),
      }),
  }) as unknown as Api;

describe("ferry report", () => {
  afterEach(() => {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });

  const run = async (api: Api) => {
    let printed = "";
    vi.spyOn(process.stdout, "write").mockImplementation((s) => {
      printed += String(s);
      return true;
    });
    await reportCommand(api, { positional: [], flags: new Map() } as unknown as ParsedArgs, false);
    vi.restoreAllMocks();
    return printed;
  };

  it("exits 1 and says so when a VM is past its RPO or never backed up", async () => {
    const printed = await run(
      apiAnswering(
        [
          { vmName: "web-1", status: "never" },
          { vmName: "web-2", status: "pending" },
        ],
        1,
      ),
    );
    expect(process.exitCode).toBe(1);
    expect(printed).toMatch(/web-1\s+NEVER/);
    expect(printed).toMatch(/web-2\s+pending/);
    expect(printed).toContain("1 VM(s) past their RPO or never backed up");
  });

  it("exits 0 while new VMs only wait for their first backup", async () => {
    await run(apiAnswering([{ vmName: "web-2", status: "pending" }], 0));
    expect(process.exitCode).toBeUndefined();
  });
});
