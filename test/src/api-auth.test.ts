import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient, OperatorService } from "@ferry/common";
import type { Coordinator } from "@ferry/coordinator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLabCoordinator } from "./lab/in-process.js";
import { REPO_ROOT } from "./lab/paths.js";

const run = promisify(execFile);

describe("operator API tokens with roles", () => {
  let work: string;
  let coordinator: Coordinator;
  const tokens: Record<string, string> = {};
  const ferry = (token: string, ...args: string[]) =>
    run(join(REPO_ROOT, "bin/ferry"), [...args, "--server", coordinator.address], {
      env: { ...process.env, FERRY_TOKEN: token },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-auth-"));
    const entries = [];
    for (const role of ["viewer", "operator", "admin"]) {
      const { stdout } = await run(join(REPO_ROOT, "bin/ferry"), [
        "token",
        "new",
        "--name",
        `${role}-1`,
        "--role",
        role,
        "--json",
      ]);
      const made = JSON.parse(stdout) as { token: string; entry: unknown };
      tokens[role] = made.token;
      entries.push(made.entry);
    }
    coordinator = await startLabCoordinator({
      listen: "127.0.0.1:0",
      dataDir: join(work, "coord"),
      logLevel: "error",
      tokens: entries,
    });
  });

  afterAll(async () => {
    await coordinator?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("refuses a caller without a token or with an unknown one", async () => {
    using plain = createClient(OperatorService, coordinator.address);
    await expect(plain.listMovers({})).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    const forged = await ferry("ferry_not-a-real-token", "movers");
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(/the token is not one this coordinator knows/);
    expect(forged.stderr).not.toContain("not-a-real-token");
  });

  it("lets each role do its part and no more", async () => {
    const policy = (token: string, name: string) =>
      ferry(
        token,
        "policies",
        "create",
        "--name",
        name,
        "--vm",
        "web-*",
        "--repo",
        join(work, "repo"),
      );
    expect((await ferry(tokens.viewer as string, "movers")).stdout).toMatch(/no movers registered/);
    const viewerPolicy = await policy(tokens.viewer as string, "p1");
    expect(viewerPolicy.code).toBe(1);
    expect(viewerPolicy.stderr).toMatch(
      /viewer-1 \(viewer\) may not call createPolicy: it needs admin/,
    );
    expect((await policy(tokens.operator as string, "p1")).stderr).toMatch(/needs admin/);
    expect((await policy(tokens.admin as string, "p1")).code).toBe(0);
    // Operators run backups (refused here for another reason: no such VM), viewers may not.
    expect((await ferry(tokens.viewer as string, "backup", "--vm", "web-1")).stderr).toMatch(
      /may not call backupNow: it needs operator/,
    );
    expect((await ferry(tokens.operator as string, "backup", "--vm", "web-1")).stderr).toMatch(
      /no VM "web-1"/,
    );
  });
});
