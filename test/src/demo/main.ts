#!/usr/bin/env node
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { toFerryError } from "@ferry/common";
import { type LabChild, spawnChild } from "../lab/child.js";
import { checkWorkload, openExt4Image } from "../lab/guest-files.js";
import { startLab } from "../lab/lab.js";
import { startNatsServer } from "../lab/nats-server.js";
import { REPO_ROOT } from "../lab/paths.js";

const run = promisify(execFile);
const say = (line: string) => process.stdout.write(`${line}\n`);

// Ferry's main job on embedded defaults, as far as it exists today: a lab VM,
// a coordinator and a mover as real processes; the mover registers and
// reports the VM. `--keep` leaves it all running until Ctrl-C.
async function main(argv: string[]): Promise<void> {
  const keep = argv.includes("--keep");
  const t0 = Date.now();
  say("ferry demo: building/booting a lab VM (TCG; first run builds the micro guest)...");
  await using lab = await startLab({ vms: 1, disksPerVm: 2 });
  const vm = lab.vms[0];
  say(
    `  ${vm?.name} is up, guest agent answered after ${vm?.bootMs} ms; disks in ${lab.datastoreDir}`,
  );

  await using nats = await startNatsServer();
  say(`  nats-server on ${nats.url}`);
  const etc = join(lab.dir, "etc");
  await mkdir(etc, { recursive: true });
  await writeFile(
    join(etc, "coordinator.json"),
    // Embedded defaults: the catalog (SQLite) and the repository live in the lab dir.
    JSON.stringify({
      listen: "127.0.0.1:0",
      heartbeatIntervalMs: 1000,
      dataDir: join(lab.dir, "ferry"),
      nats: nats.url,
    }),
  );
  const children: LabChild[] = [];
  try {
    const coordinator = await spawnChild(
      "coordinator",
      join(REPO_ROOT, "bin/ferry"),
      ["coordinator", "--config", join(etc, "coordinator.json")],
      {
        debianPackage: "nodejs",
      },
    );
    children.push(coordinator);
    const [, address] = await coordinator.waitForOutput(
      /"msg":"coordinator listening","address":"([^"]+)"/,
      15_000,
    );
    say(`  coordinator listening on ${address}`);

    await writeFile(
      join(etc, "mover.json"),
      JSON.stringify({
        id: "mover-1",
        coordinator: address,
        nats: nats.url,
        host: { id: "lab-host", name: "lab host" },
        datastores: [{ id: "lab-ds", path: lab.datastoreDir }],
        inventory: await lab.writeInventory(),
      }),
    );
    const mover = await spawnChild(
      "mover",
      join(REPO_ROOT, "bin/ferry-mover"),
      ["--config", join(etc, "mover.json")],
      {
        debianPackage: "nodejs",
      },
    );
    children.push(mover);
    await mover.waitForOutput(/registered with the coordinator/, 15_000);
    say("  mover-1 registered\n");

    const ferry = (...args: string[]) =>
      run(join(REPO_ROOT, "bin/ferry"), [...args, "--server", address as string]);
    say(`$ ferry movers\n${(await ferry("movers")).stdout}`);
    say(`$ ferry vms\n${(await ferry("vms")).stdout}`);

    // The main job: a quiesced backup through the coordinator, then a restore of it.
    say(`$ ferry backup --vm ${vm?.name} --quiesce required --wait`);
    const t1 = Date.now();
    const backup = await ferry("backup", "--vm", vm?.name ?? "", "--quiesce", "required", "--wait");
    say(`${backup.stdout}(${Date.now() - t1} ms)\n`);
    say(`$ ferry restore-points\n${(await ferry("restore-points")).stdout}`);
    const restorePointId = backup.stdout.match(/restore point (\S+)/)?.[1] ?? "";
    const target = join(lab.dir, "restored");
    say(`$ ferry restore ${restorePointId} --to ${target} --wait`);
    say((await ferry("restore", restorePointId, "--to", target, "--wait")).stdout);
    const restored = { paths: vm?.disks.map((d) => join(target, `${d.nodeName}.qcow2`)) ?? [] };
    for (const path of restored.paths) {
      await using disk = await openExt4Image(path);
      const check = await checkWorkload(disk);
      say(
        `restored ${path}: e2fsck -fn ${disk.fsckExitCode === 0 ? "clean" : `exit ${disk.fsckExitCode}`}, ` +
          `${check.verified} guest files match their checksums, ${check.mismatched.length} differ`,
      );
    }
    say(`demo ran in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
    if (keep) {
      say(`Running; try: ./bin/ferry movers --server ${address}   (Ctrl-C stops everything)`);
      await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    }
  } finally {
    for (const child of children.reverse()) await child.terminate("SIGTERM", 10_000);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`ferry demo: ${toFerryError(err).message}\n`);
  process.exitCode = 1;
});
