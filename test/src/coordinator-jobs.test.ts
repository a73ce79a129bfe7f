import { execFile } from "node:child_process";
import {
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BackupMode, createClient, OperatorService, TaskState } from "@ferry/common";
import type { Coordinator } from "@ferry/coordinator";
import type { Mover } from "@ferry/mover";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkWorkload, openExt4Image } from "./lab/guest-files.js";
import { startLabCoordinator, startLabMover } from "./lab/in-process.js";
import { type Lab, SEED_FILES, startLab } from "./lab/lab.js";
import type { LabVm } from "./lab/lab-vm.js";
import { type NatsServer, startNatsServer } from "./lab/nats-server.js";
import { REPO_ROOT } from "./lab/paths.js";

const run = promisify(execFile);

describe("the coordinator runs backup and restore jobs on a mover, under its limits", () => {
  let work: string;
  let nats: NatsServer;
  let lab: Lab;
  let coordinator: Coordinator;
  let mover: Mover;
  const ferry = (...args: string[]) =>
    run(join(REPO_ROOT, "bin/ferry"), [...args, "--server", coordinator.address]);
  const ferryFails = (...args: string[]) =>
    ferry(...args).then(
      () => {
        throw new Error(`ferry ${args.join(" ")} succeeded`);
      },
      (e: { code: number; stderr: string; stdout: string }) => e,
    );

  // Restore points of every lab VM in work/repo, made once by the first test that needs them
  // (the schedule test makes some too): each test passes alone and in any order.
  let seeded: Promise<unknown> | undefined;
  const backedUp = () =>
    (seeded ??= (async () => {
      using api = createClient(OperatorService, coordinator.address);
      const repo = join(work, "repo");
      const have = new Set(
        (await api.listRestorePoints({})).restorePoints
          .filter((r) => r.repository === repo)
          .map((r) => r.vmId),
      );
      const missing = ["lab-vm-1", "lab-vm-2", "lab-vm-3"].filter((vm) => !have.has(vm));
      if (missing.length > 0)
        await ferry("backup", "--vm", missing.join(","), "--repo", repo, "--wait");
    })());

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-coord-"));
    nats = await startNatsServer();
    // Three VMs (the first with two disks) over two datastores: ds-0 holds lab-vm-1 and lab-vm-3.
    lab = await startLab({ vms: 3, disksOfVm: [2, 1, 1], datastores: 2 });
    // At most 2 backups on the host and 1 per datastore; schedules checked every second.
    coordinator = await startLabCoordinator({
      listen: "127.0.0.1:0",
      heartbeatIntervalMs: 500,
      nats: nats.url,
      dataDir: join(work, "coord"),
      limits: { perHost: 2, perDatastore: 1 },
      scheduleCheckMs: 1000,
      logLevel: "error",
    });
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
  });

  afterAll(async () => {
    await mover?.close();
    await coordinator?.close();
    await lab?.dispose();
    await nats?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("creates, lists and deletes policies, refusing a bad one with the field named", async () => {
    const repo = join(work, "repo");
    const created = await ferry(
      "policies",
      "create",
      "--name",
      "nightly",
      "--vm",
      "lab-vm-*",
      "--repo",
      repo,
      "--schedule",
      "0 22 * * *",
      "--window",
      "22:00-06:00",
      "--tz",
      "Europe/Berlin",
      "--keep-last",
      "3",
      "--quiesce",
      "required",
    );
    expect(created.stdout).toMatch(
      /^nightly\s+pol-[0-9a-f]+\s+lab-vm-\*\s+-\s+0 22 \* \* \*\s+22:00-06:00 Europe\/Berlin\s+last 3\s+required/m,
    );
    const bad = await ferryFails(
      "policies",
      "create",
      "--name",
      "broken",
      "--vm",
      "x",
      "--repo",
      repo,
      "--schedule",
      "0 25 * * *",
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/hour 25/);
    const dup = await ferryFails(
      "policies",
      "create",
      "--name",
      "nightly",
      "--vm",
      "x",
      "--repo",
      repo,
    );
    expect(dup.stderr).toMatch(/nightly/);
    await ferry("policies", "create", "--name", "scratch", "--tag", "lab", "--repo", repo);
    await ferry("policies", "delete", "scratch");
    const list = JSON.parse((await ferry("policies", "--json")).stdout) as { name: string }[];
    expect(list.map((p) => p.name)).toEqual(["nightly"]);
    await ferry("policies", "delete", "nightly"); // it must not fire during other tests
  });

  it("fires a policy's schedule: one job, a restore point per VM, and the limits held throughout (from the task records)", async () => {
    await ferry(
      "policies",
      "create",
      "--name",
      "minutely",
      "--vm",
      "lab-vm-*",
      "--repo",
      join(work, "repo"),
      "--schedule",
      "* * * * *",
      "--quiesce",
      "required",
    );
    using api = createClient(OperatorService, coordinator.address);
    // The next minute boundary fires it (the scheduler checks every second).
    let jobId = "";
    await expect
      .poll(
        async () => {
          const fired = (await api.listJobs({})).jobs.find((j) => j.policyId);
          jobId = fired?.id ?? "";
          return fired?.endedAt;
        },
        { timeout: 100_000, interval: 500 },
      )
      .toBeDefined();
    await ferry("policies", "delete", "minutely"); // no second firing during later tests
    const { job } = await api.getJob({ id: jobId });
    expect(job?.state).toBe(3); // SUCCEEDED
    expect(job?.tasks.map((t) => [t.vmId, t.state]).sort()).toEqual([
      ["lab-vm-1", TaskState.SUCCEEDED],
      ["lab-vm-2", TaskState.SUCCEEDED],
      ["lab-vm-3", TaskState.SUCCEEDED],
    ]);
    // Limits: never more than 2 at once on the host, never 2 at once on one datastore.
    const ms = (t: { seconds: bigint; nanos: number } | undefined) =>
      Number(t?.seconds ?? 0n) * 1000 + (t?.nanos ?? 0) / 1e6;
    const datastoreOf: Record<string, string> = {
      "lab-vm-1": "ds-0",
      "lab-vm-2": "ds-1",
      "lab-vm-3": "ds-0",
    };
    const spans = (job?.tasks ?? []).map((t) => ({
      ds: datastoreOf[t.vmId],
      start: ms(t.startedAt),
      end: ms(t.endedAt),
    }));
    for (const x of spans) {
      const atStart = spans.filter((y) => y.start <= x.start && x.start < y.end);
      expect(atStart.length).toBeLessThanOrEqual(2);
      expect(atStart.filter((y) => y.ds === x.ds)).toHaveLength(1);
    }
    const points = (await ferry("restore-points")).stdout;
    for (const vm of ["lab-vm-1", "lab-vm-2", "lab-vm-3"])
      expect(points).toMatch(new RegExp(`${vm}/\\S+\\s+${vm}\\s+\\S+\\s+application`));
    expect((await ferry("jobs")).stdout).toMatch(/job-\S+\s+succeeded\s+3/);
  });

  it("prunes a policy's restore points beyond keep-last after each run, in the repository and the catalog", async () => {
    const repo2 = join(work, "repo-tight");
    await ferry(
      "policies",
      "create",
      "--name",
      "tight",
      "--vm",
      "lab-vm-1",
      "--repo",
      repo2,
      "--keep-last",
      "1",
    );
    // In a pipe, --wait logs a line per task change, phases in the order they happen, then
    // one summary line (the watch may skip a state that passed between two of its messages).
    const waited = (await ferry("backup", "--policy", "tight", "--wait")).stdout.trim().split("\n");
    const order = [
      "queued",
      "running",
      "quiescing",
      "snapshotting",
      "reading",
      "committing",
      "cleaning up",
      "succeeded",
    ];
    const taskLine = new RegExp(
      `^\\d\\d:\\d\\d:\\d\\dZ job-\\S+ lab-vm-1 (${order.join("|")})( |$)`,
    );
    const shown = waited.slice(0, -1).map((line) => taskLine.exec(line)?.[1] ?? line);
    expect(shown).toEqual(order.filter((s) => shown.includes(s)));
    expect(shown.at(-1)).toBe("succeeded");
    expect(waited.at(-1)).toMatch(
      /^\d\d:\d\d:\d\dZ job-\S+ succeeded in \d\S*: 1 ok, 0 failed, read \S+ \S+, new \S+ \S+$/,
    );
    const first = JSON.parse(
      (await ferry("restore-points", "--vm", "lab-vm-1", "--json")).stdout,
    ).filter((r: { repository: string }) => r.repository === repo2);
    await ferry("backup", "--policy", "tight", "--wait");
    const second = JSON.parse(
      (await ferry("restore-points", "--vm", "lab-vm-1", "--json")).stdout,
    ).filter((r: { repository: string }) => r.repository === repo2);
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second[0].id).not.toBe(first[0].id);
    const inRepo = (
      await run(join(REPO_ROOT, "bin/ferry-mover"), ["restore-points", "--repo", repo2])
    ).stdout
      .trim()
      .split("\n");
    expect(inRepo).toHaveLength(1);
    expect(inRepo[0]).toContain(second[0].id);
    // The same mover and a kept chain head: the second backup read only what changed.
    expect(second[0].mode).toBe(BackupMode.INCREMENTAL);
    expect(second[0].parentId).toBe(first[0].id);
    expect(second[0].disks.map((d: { mode: number }) => d.mode)).toEqual([
      BackupMode.INCREMENTAL,
      BackupMode.INCREMENTAL,
    ]);

    // --full reads everything again, and says so per disk.
    await ferry("backup", "--policy", "tight", "--full", "--wait");
    const third = JSON.parse(
      (await ferry("restore-points", "--vm", "lab-vm-1", "--json")).stdout,
    ).filter((r: { repository: string }) => r.repository === repo2);
    expect(third).toHaveLength(1);
    expect(third[0].mode ?? BackupMode.FULL).toBe(BackupMode.FULL);
    expect(third[0].disks[0].fullReason).toBe("a full backup was requested");

    // A dry run lists the decisions and removes nothing.
    const dry = await ferry("prune", "--policy", "tight", "--dry-run");
    expect(dry.stdout).toMatch(new RegExp(`${third[0].id}\\s+\\S+\\s+keep\\s+keep-last`));
    expect(dry.stdout).toContain("would remove 0 restore point(s)");
    await ferry("policies", "delete", "tight");
  });

  it("plans the window of a policy and simulates a grid of limits", async () => {
    await ferry(
      "policies",
      "create",
      "--name",
      "planned",
      "--vm",
      "lab-vm-*",
      "--repo",
      join(work, "repo"),
      "--window",
      "22:00-02:00",
    );
    const plan = await ferry("plan", "--policy", "planned");
    expect(plan.stdout).toMatch(
      /^plan: 3 task\(s\) under per host 2, per datastore 1, total 8; the window ends after [\d.]+ h \(window 4\.00 h\)/,
    );
    expect(plan.stdout).toMatch(
      /lower bound [\d.]+ h \((longest task|datastore|host|mover slots|mover throughput)[^)]*\); plan \/ lower bound = \d+\.\d\d/,
    );
    for (const vm of ["lab-vm-1", "lab-vm-2", "lab-vm-3"])
      expect(plan.stdout).toMatch(new RegExp(`${vm}\\s+mover-1\\s+hotadd`));
    const json = JSON.parse(
      (await ferry("plan", "--policy", "planned", "--per-datastore", "2", "--json")).stdout,
    );
    expect(json.limits).toMatchObject({ perHost: 2, perDatastore: 2 });
    expect(json.datastores.map((d: { id: string }) => d.id).sort()).toEqual(["ds-0", "ds-1"]);
    const sim = await ferry(
      "simulate",
      "--policy",
      "planned",
      "--per-host",
      "1,2",
      "--per-datastore",
      "1,2",
    );
    const rows = sim.stdout.trim().split("\n").slice(1);
    expect(rows).toHaveLength(4);
    for (const row of rows)
      expect(row).toMatch(
        /^[12]\s+[12]\s+8\s+[\d.]+ h\s+[\d.]+ h\s+[\d.]+ h\s+.+\s+[\d.]+ ms\s+\d+\s+yes$/,
      );
    await ferry("policies", "delete", "planned");
  });

  it("starts a job's tasks in the order, on the movers and over the transports `ferry plan` predicts", async () => {
    await ferry(
      "policies",
      "create",
      "--name",
      "ordered",
      "--vm",
      "lab-vm-*",
      "--repo",
      join(work, "repo-ordered"),
    );
    using api = createClient(OperatorService, coordinator.address);
    // Planned just before the job, from the same inventory, history and limits.
    const plan = await api.plan({ policyId: "ordered" });
    const { job } = await api.backupNow({ policyId: "ordered" });
    let ended: Awaited<ReturnType<typeof api.getJob>>["job"];
    await expect
      .poll(
        async () => {
          ended = (await api.getJob({ id: job?.id ?? "" })).job;
          return ended?.endedAt;
        },
        { timeout: 100_000, interval: 250 },
      )
      .toBeDefined();
    await ferry("policies", "delete", "ordered");
    expect(ended?.state).toBe(3); // SUCCEEDED
    const ms = (t: { seconds: bigint; nanos: number } | undefined) =>
      Number(t?.seconds ?? 0n) * 1000 + (t?.nanos ?? 0) / 1e6;
    const planned = plan.tasks;
    expect(planned).toHaveLength(3);
    // With 1 backup per datastore, one VM of ds-0 waits for the other: the plan says which.
    const later = planned.filter((t) => t.startS > 0);
    expect(later).toHaveLength(1);
    const tasks = ended?.tasks ?? [];
    const actual = [...tasks].sort((a, b) => ms(a.startedAt) - ms(b.startedAt));
    expect(actual.at(-1)?.vmId).toBe(later[0]?.vmId);
    for (const p of planned) {
      const t = tasks.find((x) => x.vmId === p.vmId);
      expect([t?.vmId, t?.moverId, t?.transport]).toEqual([p.vmId, p.moverId, p.transport]);
    }
  });

  it("compares each job with the plan made before it (ferry plan --check); the next plan uses what the job took", async () => {
    await ferry(
      "policies",
      "create",
      "--name",
      "checked",
      "--vm",
      "lab-vm-*",
      "--repo",
      join(work, "repo-checked"),
    );
    using api = createClient(OperatorService, coordinator.address);
    type Check = {
      tasks: { vmId: string; actualS: number; actualStartS: number; predictedS: number }[];
      meanAbsErrorPct: number;
      startRankCorrelation: number;
    };
    const sec = (t: { seconds: bigint; nanos: number } | undefined) =>
      Number(t?.seconds ?? 0n) + (t?.nanos ?? 0) / 1e9;
    // A job of the policy, its tasks in the order they started, and `ferry plan --check` of it.
    const runJob = async () => {
      const { job } = await api.backupNow({ policyId: "checked" });
      const id = job?.id ?? "";
      await expect
        .poll(async () => (await api.getJob({ id })).job?.endedAt, { timeout: 100_000 })
        .toBeDefined();
      const ended = (await api.getJob({ id })).job;
      expect(ended?.state).toBe(3); // SUCCEEDED
      const ran = [...(ended?.tasks ?? [])].sort((a, b) => sec(a.startedAt) - sec(b.startedAt));
      const check = JSON.parse((await ferry("plan", "--check", id, "--json")).stdout) as {
        beforeJob: Check;
        now: Check;
      };
      const text = (await ferry("plan", "--check", id)).stdout;
      // The lab's figures for the record: the prediction error before and after the job.
      console.log(text);
      return { ran, check, text };
    };
    const one = await runJob();
    const two = await runJob();
    await ferry("policies", "delete", "checked");
    for (const { ran, check, text } of [one, two]) {
      // Every task of the job, in the order it started, with the time it took.
      const first = sec(ran[0]?.startedAt);
      expect(check.beforeJob.tasks.map((t) => t.vmId)).toEqual(ran.map((t) => t.vmId));
      for (const [i, t] of check.beforeJob.tasks.entries()) {
        const r = ran[i];
        expect(t.actualS).toBeCloseTo(sec(r?.endedAt) - sec(r?.startedAt), 3);
        expect(t.actualStartS).toBeCloseTo(sec(r?.startedAt) - first, 3);
      }
      // The plan had lab-vm-3's task wait for ds-0 (1 backup per datastore), as it did.
      expect(check.beforeJob.startRankCorrelation).toBeGreaterThan(0);
      expect(text).toMatch(
        /prediction error before the job: mean absolute \d+\.\d% of the actual durations; start order rank correlation -?\d\.\d\d/,
      );
      for (const t of ran) expect(text).toMatch(new RegExp(`^${t.vmId}\\s+\\d+\\.\\d s`, "m"));
    }
    // The second job was predicted from the first one's figures: each VM to take what it took.
    for (const t of two.check.beforeJob.tasks) {
      const was = one.check.beforeJob.tasks.find((x) => x.vmId === t.vmId);
      expect(t.predictedS).toBeCloseTo(was?.actualS ?? Number.NaN, 1);
    }
    const missing = await ferryFails("plan", "--check", "no-such-job");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no-such-job");
  });

  it("verifies a policy's restore points on its verify schedule, and on demand", async () => {
    await backedUp();
    const repo = join(work, "repo");
    await ferry(
      "policies",
      "create",
      "--name",
      "checked",
      "--vm",
      "lab-vm-2",
      "--repo",
      repo,
      "--verify-schedule",
      "* * * * *",
    );
    using api = createClient(OperatorService, coordinator.address);
    const mine = async () =>
      (await api.listRestorePoints({ vmId: "lab-vm-2" })).restorePoints.filter(
        (r) => r.repository === repo,
      );
    expect((await mine()).length).toBeGreaterThan(0);
    // The next minute boundary fires the verify (the scheduler checks every second).
    await expect
      .poll(async () => (await mine()).every((r) => r.verify?.ok === true), {
        timeout: 100_000,
        interval: 1000,
      })
      .toBe(true);
    await ferry("policies", "delete", "checked");
    const table = (await ferry("restore-points", "--vm", "lab-vm-2")).stdout;
    expect(table).toMatch(/lab-vm-2\/\S+\s+lab-vm-2\s+\S+\s+application\s+(full|incremental)\s+ok/);
    const onDemand = await ferry("verify", "--repo", repo);
    expect(onDemand.stdout).toContain("all sound");
    const gc = await ferry("gc", "--repo", repo, "--dry-run");
    expect(gc.stdout).toMatch(/^would free /);
  });

  it("restores a restore point through the mover, and the disk checks clean", async () => {
    await backedUp();
    using api = createClient(OperatorService, coordinator.address);
    const [rp] = (await api.listRestorePoints({ vmId: "lab-vm-1" })).restorePoints;
    const target = join(work, "restored");
    await ferry("restore", rp?.id ?? "", "--to", target, "--wait");
    await using disk = await openExt4Image(join(target, "disk0.qcow2"));
    expect(disk.fsckExitCode).toBe(0);
    expect((await checkWorkload(disk)).mismatched).toEqual([]);
  });

  it("refuses through the coordinator what a restore must not replace, with the reason in ferry jobs show", async () => {
    await backedUp();
    using api = createClient(OperatorService, coordinator.address);
    const [rp] = (await api.listRestorePoints({ vmId: "lab-vm-1" })).restorePoints;
    const restoreJob = async (to: string, ...more: string[]) => {
      const jobId = (
        await ferry("restore", rp?.id ?? "", "--disk", "disk0", "--to", to, ...more)
      ).stdout.trim();
      const ok = await ferry("jobs", "watch", jobId).then(
        () => true,
        () => false,
      );
      return { ok, shown: (await ferry("jobs", "show", jobId)).stdout };
    };
    // An existing image: refused, then replaced with --overwrite.
    const existing = join(work, "restore-existing");
    await mkdir(existing);
    await writeFile(join(existing, "disk0.qcow2"), "mine");
    const refused = await restoreJob(existing);
    expect(refused.ok).toBe(false);
    expect(refused.shown).toContain(
      `ALREADY_EXISTS: ${join(existing, "disk0.qcow2")} exists: a restore never replaces a file unless told to (--overwrite`,
    );
    expect(await readFile(join(existing, "disk0.qcow2"), "utf8")).toBe("mine");
    expect(await readdir(existing)).toEqual(["disk0.qcow2"]);
    expect((await restoreJob(existing, "--overwrite")).ok).toBe(true);
    {
      await using disk = await openExt4Image(join(existing, "disk0.qcow2"));
      expect(disk.fsckExitCode).toBe(0);
    }
    // A symlink planted at the image's name: refused even with --overwrite, never followed.
    const linked = join(work, "restore-link");
    await mkdir(linked);
    const victim = join(work, "victim.conf");
    await writeFile(victim, "precious\n");
    await symlink(victim, join(linked, "disk0.qcow2"));
    const planted = await restoreJob(linked, "--overwrite");
    expect(planted.ok).toBe(false);
    expect(planted.shown).toContain(`${join(linked, "disk0.qcow2")} is a symbolic link`);
    expect(await readFile(victim, "utf8")).toBe("precious\n");
    // A running VM's disk under the name the restore writes: refused even with --overwrite.
    const running = join(work, "restore-running");
    await mkdir(running);
    const vm2 = lab.vms[1] as LabVm;
    await link(vm2.disks[0]?.path as string, join(running, "disk0.qcow2"));
    const inode = (await stat(join(running, "disk0.qcow2"))).ino;
    const inUse = await restoreJob(running, "--overwrite");
    expect(inUse.ok).toBe(false);
    expect(inUse.shown).toMatch(
      new RegExp(
        `FAILED_PRECONDITION: .*disk0\\.qcow2 is in use by qemu-system-x86_64 \\(pid ${vm2.process.pid}, VM lab-vm-2\\): stop its VM`,
      ),
    );
    expect((await stat(join(running, "disk0.qcow2"))).ino).toBe(inode);
    expect(await readdir(running)).toEqual(["disk0.qcow2"]);
  });

  it("lists and extracts a restore point's files through the mover (ferry files)", async () => {
    await backedUp();
    using api = createClient(OperatorService, coordinator.address);
    const [rp] = (await api.listRestorePoints({ vmId: "lab-vm-1" })).restorePoints;
    const id = rp?.id ?? "";
    const top = JSON.parse((await ferry("files", "ls", id, "/", "--json")).stdout);
    expect(top.map((e: { name: string }) => e.name)).toEqual(["disk0", "disk1"]);
    const docs = (await ferry("files", "ls", id, "/disk1/docs")).stdout;
    expect(docs).toContain("hello world.txt");
    expect(docs).toContain("résumé-日本.txt");
    const to = join(work, "files");
    const got = await ferry("files", "get", id, "/disk1/docs", "/disk0/README.txt", "--to", to);
    expect(got.stdout).toMatch(/^extracted 3 files and 1 folders .* on mover mover-1/);
    for (const [rel, content] of Object.entries(SEED_FILES))
      expect(await readFile(join(to, rel), "utf8")).toBe(content);
    // A mover runs as root: it restores files only into a new or empty directory.
    const again = await ferryFails("files", "get", id, "/disk0/README.txt", "--to", to);
    expect(again.stderr).toMatch(/is not empty: files are restored into a new or empty directory/);
    expect(again.stderr).toContain("--overwrite");
    await writeFile(join(to, "README.txt"), "changed since\n");
    await ferry("files", "get", id, "/disk0/README.txt", "--to", to, "--overwrite");
    expect(await readFile(join(to, "README.txt"), "utf8")).toBe(SEED_FILES["README.txt"]);
    const outside = await ferryFails("files", "get", id, "/disk0/../x", "--to", to);
    expect(outside.stderr).toMatch(/holds "\.\.": name files from the filesystem's root/);
  });

  it("tests restores per policy: the new restore point booted, the result on it and in the CLI", async () => {
    await ferry(
      "policies",
      "create",
      "--name",
      "tested",
      "--vm",
      "lab-vm-3",
      "--repo",
      join(work, "repo-tested"),
      "--test-restore",
    );
    await ferry("backup", "--policy", "tested", "--wait");
    await ferry("policies", "delete", "tested");
    using api = createClient(OperatorService, coordinator.address);
    const points = (await api.listRestorePoints({ vmId: "lab-vm-3" })).restorePoints;
    const newest = points.reduce((a, b) =>
      (a.createdAt?.seconds ?? 0n) >= (b.createdAt?.seconds ?? 0n) ? a : b,
    );
    expect(newest.bootTest).toMatchObject({ ok: true, filesystems: ["disk0 ext4"], error: "" });
    expect(newest.bootTest?.bootMs).toBeGreaterThan(0);
    const table = (await ferry("restore-points", "--vm", "lab-vm-3")).stdout;
    expect(table).toMatch(new RegExp(`${newest.id}.*booted \\d+\\.\\ds`));
  });

  it("answers unknown VMs, policies and jobs with clear errors and exit code 1", async () => {
    const vm = await ferryFails("backup", "--vm", "no-such-vm");
    expect(vm.code).toBe(1);
    expect(vm.stderr).toMatch(/no VM "no-such-vm"/);
    expect((await ferryFails("backup", "--policy", "nope")).stderr).toMatch(/no policy "nope"/);
    expect((await ferryFails("jobs", "show", "job-x")).stderr).toMatch(/no job "job-x"/);
  });

  it("rebuilds the restore-point catalog of a new coordinator from the repository, through its mover", async () => {
    await backedUp();
    const fresh = await startLabCoordinator({
      listen: "127.0.0.1:0",
      dataDir: join(work, "coord-2"),
      logLevel: "error",
    });
    // The coordinator never opens a repository: a mover of its own lists it.
    const lister = await startLabMover({
      id: "mover-2",
      coordinator: fresh.address,
      host: { id: "host-2" },
      logLevel: "error",
      runDir: join(work, "run-2"),
    });
    try {
      await lister.registered;
      const cli = (...args: string[]) =>
        run(join(REPO_ROOT, "bin/ferry"), [...args, "--server", fresh.address]);
      expect((await cli("restore-points")).stdout).toMatch(/no restore points/);
      const rescanned = await cli("catalog", "rescan", "--repo", join(work, "repo"));
      // As many as this coordinator's catalog holds of that repository, all added anew.
      const counted = /^(\d+) restore points in .*: (\d+) added to the catalog, 0 removed/.exec(
        rescanned.stdout,
      );
      expect(Number(counted?.[1])).toBeGreaterThanOrEqual(3);
      expect(counted?.[2]).toBe(counted?.[1]);
      using mine = createClient(OperatorService, coordinator.address);
      using theirs = createClient(OperatorService, fresh.address);
      const ids = async (c: typeof mine) =>
        (await c.listRestorePoints({})).restorePoints
          .filter((r) => r.repository === join(work, "repo"))
          .map((r) => [r.id, r.consistency, r.disks.length]);
      expect(await ids(theirs)).toEqual(await ids(mine));
    } finally {
      await lister.close();
      await fresh.close();
    }
  });
});
