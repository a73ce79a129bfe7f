import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient, OperatorService } from "@ferry/common";
import type { Coordinator } from "@ferry/coordinator";
import type { Mover } from "@ferry/mover";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLabCoordinator, startLabMover } from "./lab/in-process.js";
import { type Lab, startLab } from "./lab/lab.js";
import { type NatsServer, startNatsServer } from "./lab/nats-server.js";
import { REPO_ROOT } from "./lab/paths.js";
import { runTool } from "./lab/run-tool.js";

const run = promisify(execFile);
// Screenshots for a person to look at; gitignored.
const ARTIFACTS = join(REPO_ROOT, "test/artifacts/console");
// A policy name is user input the console shows: this one runs script if put in as HTML.
const HOSTILE = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`;

describe("the web console, in Debian's chromium, and ferry report", () => {
  let work: string;
  let nats: NatsServer;
  let lab: Lab;
  let coordinator: Coordinator;
  let mover: Mover;
  let browser: Browser;
  let url: string;
  const tokens: Record<string, string> = {};
  const report = (...args: string[]) =>
    run(join(REPO_ROOT, "bin/ferry"), ["report", ...args, "--server", coordinator.address], {
      env: { ...process.env, FERRY_TOKEN: tokens.viewer },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  const signIn = async (page: Page, token: string) => {
    await page.goto(url);
    await page.fill("#token", token);
    await page.click("#sign-in button");
  };

  beforeAll(async () => {
    // A missing chromium fails the test, naming the package.
    const executablePath = (
      await runTool(
        "sh",
        ["-c", "command -v chromium || { echo 'apt-get install chromium' >&2; exit 1; }"],
        { debianPackage: "dash" },
      )
    ).trim();
    work = await mkdtemp(join(tmpdir(), "ferry-console-"));
    await mkdir(ARTIFACTS, { recursive: true });
    const entries = [];
    for (const role of ["viewer", "operator"]) {
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
    [nats, lab, browser] = await Promise.all([
      startNatsServer(),
      startLab({ vms: 2, diskMiB: 32 }),
      chromium.launch({ executablePath, args: ["--no-sandbox"] }),
    ]);
    coordinator = await startLabCoordinator({
      listen: "127.0.0.1:0",
      console: { listen: "127.0.0.1:0" },
      heartbeatIntervalMs: 500,
      nats: nats.url,
      dataDir: join(work, "coord"),
      logLevel: "error",
      tokens: entries,
    });
    url = coordinator.consoleUrl as string;
    mover = await startLabMover({
      id: "mover-1",
      coordinator: coordinator.address,
      nats: nats.url,
      host: { id: "host-1" },
      datastores: lab.datastores,
      inventory: await lab.writeInventory(),
      slots: 2,
      logLevel: "error",
      runDir: join(work, "run"),
    });
    await mover.registered;
    // Made straight in the catalog: the lab's tokens have no admin to create it.
    await coordinator.catalog.policies.create({
      id: "pol-1",
      name: HOSTILE,
      vmGlobs: ["lab-vm-1"],
      vmTags: [],
      schedule: "0 3 1 1 *",
      windowStart: "",
      windowEnd: "",
      timeZone: "UTC",
      keepLast: 7,
      retention: { keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0 },
      fullEvery: { backups: 0, days: 0 },
      verifySchedule: "",
      testRestore: false,
      quiesce: "preferred",
      transport: "any",
      repository: join(work, "repo"),
      createdAt: new Date(),
    });
  });

  afterAll(async () => {
    await browser?.close();
    await mover?.close();
    await coordinator?.close();
    await lab?.dispose();
    await nats?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("ferry report rates a VM just covered as pending, not past its RPO, and exits 0", async () => {
    const table = await report();
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/lab-vm-1\s+pending/);
    expect(table.stdout).toMatch(/lab-vm-2\s+unprotected/);
    const json = JSON.parse((await report("--json")).stdout);
    expect(json.pastRpo ?? 0).toBe(0);
    // A yearly schedule: 365 or 366 days, as a leap day falls.
    const rpo = Number(
      json.rows.find((r: { vmName: string }) => r.vmName === "lab-vm-1").rpoSeconds,
    );
    expect([365 * 86_400, 366 * 86_400]).toContain(rpo);
  });

  it("answers bad requests with 401, 404 and 413 and never echoes a token", async () => {
    const post = (path: string, body: string, token?: string) =>
      fetch(new URL(path, url), {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body,
      });
    const missing = await post("/api/listVms", "{}");
    expect(missing.status).toBe(401);
    const forged = `${tokens.operator}x`;
    const wrong = await post("/api/listVms", "{}", forged);
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain(forged);
    expect((await fetch(new URL("/nowhere", url))).status).toBe(404);
    // Served by gRPC to admins, not by the console to anyone.
    expect((await post("/api/collectGarbage", "{}", tokens.operator)).status).toBe(404);
    expect((await post("/api/listVms", "x".repeat(70_000), tokens.operator)).status).toBe(413);
    expect((await post("/api/listVms", "{not json", tokens.operator)).status).toBe(400);
  });

  it("signs in an operator, backs up a VM with live progress, sees the restore point and restores it", async () => {
    const page = await browser.newPage();
    try {
      await signIn(page, "ferry_wrong");
      await page.getByText("That token is not valid here.").waitFor();
      await signIn(page, tokens.operator as string);
      const vm1 = page.locator('#vms tr[data-vm="lab-vm-1"]');
      await vm1.waitFor();
      await expect(
        page.locator('#vms tr[data-vm="lab-vm-2"] .vm-name').textContent(),
      ).resolves.toBe("lab-vm-2");
      // The hostile policy name shows as text and ran nothing.
      expect(await vm1.locator("td").nth(2).textContent()).toBe(HOSTILE);
      expect(await page.evaluate("window.pwned")).toBeUndefined();
      // The policy's plan as a timeline: a bar for its one VM, the datastore's load under it.
      await page.click("#plan-run");
      await page
        .locator("#plan .plan-task, #message:not(:empty)")
        .first()
        .waitFor({ timeout: 15_000 });
      expect(await page.locator("#message").textContent()).toBe("");
      await expect(page.locator("#plan .plan-task td").first().textContent()).resolves.toBe(
        "lab-vm-1",
      );
      expect(await page.locator("#plan .plan-load").count()).toBeGreaterThan(0);
      expect(await page.locator("#plan-policy option").first().textContent()).toBe(HOSTILE);
      await page.screenshot({ path: join(ARTIFACTS, "1-signed-in.png"), fullPage: true });

      // Every percentage the page shows, as the feed pushes it.
      await page.evaluate(`{
        const seen = (window.seen = []);
        new MutationObserver(() => {
          for (const e of document.querySelectorAll(".job-percent"))
            if (seen.at(-1) !== e.textContent) seen.push(e.textContent);
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
      }`);
      // Progress comes down the tab's one event stream: the page asks for no job while it runs.
      const asked: string[] = [];
      page.on("request", (r) => asked.push(new URL(r.url()).pathname));
      await vm1.locator("button.backup").click();
      const job = page.locator(".job").first();
      const ended = job.locator(".job-state", { hasText: /succeeded|failed|cancelled/ });
      await ended.waitFor({ timeout: 90_000 });
      if ((await ended.textContent()) !== "succeeded") {
        await page.screenshot({ path: join(ARTIFACTS, "failed.png"), fullPage: true });
        throw new Error(
          `the backup failed; the page shows: ${await page.locator("#app").textContent()}`,
        );
      }
      expect(await job.locator(".job-percent").textContent()).toBe("100%");
      expect(await job.locator(".tasks td").first().textContent()).toBe("lab-vm-1");
      await page.screenshot({ path: join(ARTIFACTS, "2-backed-up.png"), fullPage: true });
      const seen = (await page.evaluate("window.seen")) as string[];
      expect(seen.at(-1)).toBe("100%");
      expect(asked).not.toContain("/api/getJob");
      // The one refresh when the job ended, at most.
      expect(asked.filter((p) => p === "/api/listJobs").length).toBeLessThanOrEqual(1);

      // The restore point appears, and the report counts the VM protected.
      await page.locator("#points tr[data-point^='lab-vm-1/']").waitFor();
      await vm1.locator("td", { hasText: /^ok$/ }).waitFor();
      await page.screenshot({ path: join(ARTIFACTS, "3-restore-point.png"), fullPage: true });

      // Restore it from the console into a directory on the mover's host.
      const target = join(work, "restored");
      await page.fill("#restore-to", target);
      await page.locator("#points tr[data-point^='lab-vm-1/'] button.restore").click();
      // Two jobs now, the newest (the restore) first.
      await page.locator(".job").nth(1).waitFor();
      const restore = page.locator(".job").first();
      const done = restore.locator(".job-state", { hasText: /succeeded|failed|cancelled/ });
      await done.waitFor({ timeout: 60_000 });
      expect(await done.textContent()).toBe("succeeded");
      expect((await stat(join(target, "disk0.qcow2"))).isFile()).toBe(true);

      // Again, without overwrite: the task fails and the page says why.
      await page.locator("#points tr[data-point^='lab-vm-1/'] button.restore").click();
      await page.locator(".job").nth(2).waitFor();
      const again = page.locator(".job").first();
      const failed = again.locator(".job-state", { hasText: /succeeded|failed|cancelled/ });
      await failed.waitFor({ timeout: 60_000 });
      expect(await failed.textContent()).toBe("failed");
      expect(await again.locator(".tasks td.bad").first().textContent()).toMatch(/exists/i);
      await page.screenshot({ path: join(ARTIFACTS, "4-restore-refused.png"), fullPage: true });
      // A relative directory is refused by the API before any job starts.
      await page.fill("#restore-to", "relative/dir");
      await page.locator("#points tr[data-point^='lab-vm-1/'] button.restore").click();
      await page.locator("#message", { hasText: "INVALID_ARGUMENT" }).waitFor();
    } finally {
      await page.close();
    }
    const after = await report();
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/lab-vm-1\s+ok/);
  });

  it("gives a viewer no backup button, and the API refuses the viewer's backup", async () => {
    const page = await browser.newPage();
    try {
      await signIn(page, tokens.viewer as string);
      await page.locator('#vms tr[data-vm="lab-vm-1"]').waitFor();
      expect(await page.locator("button.backup").count()).toBe(0);
      expect(await page.locator("button.restore").count()).toBe(0);
      const refused = await page.evaluate(async (token) => {
        const res = await fetch("/api/backupNow", {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ vmIds: ["lab-vm-1"] }),
        });
        return { status: res.status, body: await res.json() };
      }, tokens.viewer as string);
      expect(refused).toMatchObject({ status: 403, body: { code: "PERMISSION_DENIED" } });
      await page.screenshot({ path: join(ARTIFACTS, "5-viewer.png"), fullPage: true });
    } finally {
      await page.close();
    }
    using api = createClient(OperatorService, coordinator.address);
    const { jobs } = await api.listJobs({}, {
      metadata: { authorization: `Bearer ${tokens.viewer}` },
    } as never);
    // The backup and two restores: the viewer's refused backup made no job.
    expect(jobs).toHaveLength(3);
  });
});
