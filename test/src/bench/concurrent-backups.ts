#!/usr/bin/env node
// The mover agent (its own process) backing up several running lab VMs at once, each with
// its own data: how much memory the mover holds at its peak, and the combined rate.
// Figures are printed, never asserted.
//   pnpm bench:concurrent [--vms 4] [--disk-mib 1024]
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createClient, MoverService, parseArgs, QuiesceMode, Transport } from "@ferry/common";
import { spawnChild } from "../lab/child.js";
import { freePort } from "../lab/free-port.js";
import { startLab } from "../lab/lab.js";
import { vmRef } from "../lab/lab-vm.js";
import { REPO_ROOT } from "../lab/paths.js";
import { randomData, textLike } from "./bench-data.js";
import { processStatusBytes } from "./bench-measure.js";

const MiB = 1024 * 1024;

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { boolean: [], valued: ["vms", "disk-mib"] });
  const vms = Number(args.flags.get("vms") ?? 4);
  const diskMiB = Number(args.flags.get("disk-mib") ?? 1024);
  // 40% random and 20% text-like per disk, as the throughput bench; the rest stays empty.
  const randomMiB = Math.floor(diskMiB * 0.4);
  const textMiB = Math.floor(diskMiB * 0.2);
  process.stderr.write(
    `starting ${vms} lab VMs, each a ${diskMiB} MiB disk with its own ${randomMiB} MiB random and ${textMiB} MiB text...\n`,
  );
  await using lab = await startLab({
    vms,
    diskMiB,
    workload: false,
    filesOfVm: (vm) => ({
      "data/random.bin": randomData(randomMiB * MiB, 1000 + vm),
      "data/log.txt": Buffer.concat([Buffer.from(`vm ${vm}\n`), textLike(textMiB * MiB)]),
    }),
  });
  const port = await freePort();
  const config = join(lab.dir, "mover.json");
  await writeFile(
    config,
    JSON.stringify({
      id: "bench-mover",
      listen: `127.0.0.1:${port}`,
      host: { id: "bench-host" },
      datastores: lab.datastores,
      inventory: await lab.writeInventory(),
      slots: vms,
      runDir: join(lab.dir, "mover-run"),
      logLevel: "info",
    }),
  );
  const mover = await spawnChild(
    "mover",
    join(REPO_ROOT, "bin/ferry-mover"),
    ["--config", config],
    {
      debianPackage: "nodejs",
    },
  );
  try {
    await mover.waitForOutput(/mover service listening/, 20_000);
    const idleRss = await processStatusBytes(mover.pid, "VmRSS");
    using client = createClient(MoverService, `127.0.0.1:${port}`);
    const repository = join(lab.dir, "repo");
    process.stderr.write(`${vms} backups at once...\n`);
    const started = performance.now();
    const results = await Promise.all(
      lab.vms.map((vm, i) =>
        client.runBackup(
          {
            taskId: `bench-${i}`,
            jobId: "bench",
            vm: vmRef(vm),
            transport: Transport.HOTADD,
            quiesce: QuiesceMode.REQUIRED,
            repository,
          },
          { timeoutMs: 600_000 },
        ),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const peakRss = await processStatusBytes(mover.pid, "VmHWM");
    const logical = results.reduce(
      (n, r) => n + (r.restorePoint?.disks.reduce((m, d) => m + Number(d.sizeBytes), 0) ?? 0),
      0,
    );
    const read = results.reduce(
      (n, r) => n + (r.restorePoint?.disks.reduce((m, d) => m + Number(d.bytesRead), 0) ?? 0),
      0,
    );
    console.log(
      `${vms} concurrent backups of ${diskMiB} MiB disks: ${seconds.toFixed(2)} s, ` +
        `${(logical / 1e6 / seconds).toFixed(0)} MB/s of logical size, ${(read / MiB).toFixed(0)} MiB read`,
    );
    console.log(`mover_idle_rss_mib=${(idleRss / MiB).toFixed(0)}`);
    console.log(`mover_peak_rss_mib=${(peakRss / MiB).toFixed(0)}`);
  } finally {
    await mover.terminate("SIGTERM", 10_000);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
