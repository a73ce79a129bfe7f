#!/usr/bin/env node
import { execFile, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { toFerryError } from "@ferry/common";
import { type LabChild, spawnChild } from "../lab/child.js";
import { checkWorkload, openExt4Image } from "../lab/guest-files.js";
import { startLab } from "../lab/lab.js";
import type { LabVm } from "../lab/lab-vm.js";
import { startNatsServer } from "../lab/nats-server.js";
import { REPO_ROOT } from "../lab/paths.js";

const run = promisify(execFile);
const say = (line: string) => process.stdout.write(`${line}\n`);

// Two lab hosts: each runs a mover for its own VMs.
const HOSTS = [
  { id: "host-a", vms: ["lab-vm-1", "lab-vm-2"] },
  { id: "host-b", vms: ["lab-vm-3"] },
];

// Runs the CLI with its output on our terminal, so progress bars draw live.
function ferryLive(address: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(REPO_ROOT, "bin/ferry"), [...args, "--server", address], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

// Ferry's main job on embedded defaults: nats-server, three lab VMs on two
// lab hosts, a coordinator (SQLite catalog, local repository) and a mover per
// host as real processes; every VM backed up with live progress, one restored
// and checked. `--keep` leaves it all running until Ctrl-C.
async function main(argv: string[]): Promise<void> {
  const keep = argv.includes("--keep");
  const t0 = Date.now();
  say("ferry demo: booting three lab VMs under TCG (the first run also builds the micro guest)...");
  await using lab = await startLab({ vms: 3, disksOfVm: [2, 1, 1], datastores: 2 });
  for (const vm of lab.vms)
    say(`  ${vm.name}: ${vm.disks.length} disk(s), guest agent answered after ${vm.bootMs} ms`);
  await using nats = await startNatsServer();
  say(`  nats-server on ${nats.url}`);
  const etc = join(lab.dir, "etc");
  const dataDir = join(lab.dir, "ferry");
  await mkdir(etc, { recursive: true });
  // Embedded defaults: the catalog (SQLite) and the repository live in the data dir.
  await writeFile(
    join(etc, "coordinator.json"),
    JSON.stringify({
      listen: "127.0.0.1:0",
      console: { listen: "127.0.0.1:0" },
      heartbeatIntervalMs: 1000,
      dataDir,
      nats: nats.url,
    }),
  );
  const children: LabChild[] = [];
  try {
    const coordinator = await spawnChild(
      "coordinator",
      join(REPO_ROOT, "bin/ferry"),
      ["coordinator", "--config", join(etc, "coordinator.json")],
      { debianPackage: "nodejs" },
    );
    children.push(coordinator);
    const [, address = ""] = await coordinator.waitForOutput(
      /"msg":"coordinator listening","address":"([^"]+)"/,
      15_000,
    );
    const [, consoleUrl = ""] = await coordinator.waitForOutput(
      /"msg":"web console listening","url":"([^"]+)"/,
      15_000,
    );
    say(`  coordinator on ${address}, data in ${dataDir}, web console at ${consoleUrl}`);
    for (const host of HOSTS) {
      const id = `mover-${host.id.slice(-1)}`;
      await writeFile(
        join(etc, `${id}.json`),
        JSON.stringify({
          id,
          coordinator: address,
          nats: nats.url,
          host: { id: host.id },
          datastores: lab.datastores,
          inventory: await lab.writeInventory(join(etc, `${host.id}-vms.json`), host.vms),
          runDir: join(lab.dir, "run", id),
        }),
      );
      const mover = await spawnChild(
        id,
        join(REPO_ROOT, "bin/ferry-mover"),
        ["--config", join(etc, `${id}.json`)],
        { debianPackage: "nodejs" },
      );
      children.push(mover);
      await mover.waitForOutput(/registered with the coordinator/, 15_000);
      say(`  ${id} registered for ${host.id} (${host.vms.join(", ")})`);
    }
    const ferry = (...args: string[]) =>
      run(join(REPO_ROOT, "bin/ferry"), [...args, "--server", address]);
    say(`\n$ ferry movers\n${(await ferry("movers")).stdout}`);
    say(`$ ferry vms\n${(await ferry("vms")).stdout}`);

    const all = lab.vms.map((v) => v.name).join(",");
    const backupAll = async (note: string) => {
      say(`$ ferry backup --vm ${all} --quiesce required --wait${note}`);
      const t1 = Date.now();
      if (
        (await ferryLive(address, ["backup", "--vm", all, "--quiesce", "required", "--wait"])) !== 0
      )
        throw new Error("the backup job did not succeed");
      say(`(${((Date.now() - t1) / 1000).toFixed(1)} s)\n`);
    };
    await backupAll("");
    // The guests kept writing: the second run reads only what their dirty bitmaps mark.
    await backupAll("   # again: incrementals, reading only what the guests changed");
    const points = (await ferry("restore-points", "--json")).stdout;
    say(`$ ferry restore-points\n${(await ferry("restore-points")).stdout}`);

    const vm = lab.vms[0] as LabVm;
    const restorePointId =
      (JSON.parse(points) as { id: string; vmId: string }[])
        .filter((p) => p.vmId === vm.name)
        .at(-1)?.id ?? "";
    const target = join(lab.dir, "restored");
    say(`$ ferry restore ${restorePointId} --to ${target} --wait`);
    if ((await ferryLive(address, ["restore", restorePointId, "--to", target, "--wait"])) !== 0)
      throw new Error("the restore job did not succeed");
    for (const d of vm.disks) {
      await using disk = await openExt4Image(join(target, `${d.nodeName}.qcow2`));
      const check = await checkWorkload(disk);
      say(
        `checked ${join(target, `${d.nodeName}.qcow2`)}: e2fsck -fn ${disk.fsckExitCode === 0 ? "clean" : `exit ${disk.fsckExitCode}`}, ` +
          `${check.verified} guest files match their checksums, ${check.mismatched.length} differ`,
      );
    }
    say(`\n$ ferry verify\n${(await ferry("verify")).stdout}`);
    say(`$ ferry report\n${(await ferry("report")).stdout}`);
    say(`\ndemo ran in ${((Date.now() - t0) / 1000).toFixed(1)} s. Where things are:`);
    say(`  lab VMs, sockets and disks  ${lab.dir}`);
    say(`  catalog (SQLite)            ${join(dataDir, "catalog.sqlite")}`);
    say(`  repository                  ${join(dataDir, "repository")}`);
    say(`  restored disks              ${target}`);
    say(`  web console                 ${consoleUrl}${keep ? "" : " (with --keep)"}`);
    const next = [
      `./bin/ferry jobs --server ${address}`,
      `./bin/ferry policies create --name nightly --vm 'lab-vm-*' --repo ${join(dataDir, "repository")} --schedule '0 22 * * *' --server ${address}`,
      `./bin/ferry-mover restore-points --repo ${join(dataDir, "repository")}`,
    ];
    if (keep) {
      say(`Next, try:\n${next.map((n) => `  ${n}`).join("\n")}\nRunning until Ctrl-C.`);
      await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    } else {
      say(
        "Everything above is removed on exit; run ./bin/ferry-demo --keep to keep it running and try:",
      );
      say(next.map((n) => `  ${n}`).join("\n"));
    }
  } finally {
    for (const child of children.reverse()) await child.terminate("SIGTERM", 10_000);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`ferry demo: ${toFerryError(err).message}\n`);
  process.exitCode = 1;
});
