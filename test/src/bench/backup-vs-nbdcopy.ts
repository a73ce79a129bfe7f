#!/usr/bin/env node
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRepository, parseArgs } from "@ferry/common";
import { backupSource, connectQmp, createPointInTimeView, openNbdSource } from "@ferry/mover";
import type { LabVm } from "../lab/lab-vm.js";
import { quietLogger } from "../lab/quiet-logger.js";
import { runTool } from "../lab/run-tool.js";
import { median, startDataLab, timed } from "./bench-data.js";

const MiB = 1024 * 1024;

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { boolean: [], valued: ["disk-mib", "runs"] });
  const diskMiB = Number(args.flags.get("disk-mib") ?? 1280);
  const runs = Number(args.flags.get("runs") ?? 3);
  const work = await mkdtemp(join(tmpdir(), "ferry-bench-"));
  await using lab = (await startDataLab(diskMiB)).lab;
  const vm = lab.vms[0] as LabVm;
  const logger = quietLogger();
  await using qmp = await connectQmp({ path: vm.qmpSocket });
  const socket = join(work, "nbd.sock");
  await using view = await createPointInTimeView({
    qmp,
    taskId: "bench",
    address: { t: "unix", path: socket },
    disks: [
      { nodeName: "disk0", imagePath: vm.disks[0]?.path as string, sizeBytes: diskMiB * MiB },
    ],
    aroundSnapshot: (take) => take(),
    logger,
  });
  const exportName = view.disks[0]?.exportName as string;
  const uri = `nbd+unix:///${exportName}?socket=${socket}`;
  const size = diskMiB * MiB;

  const nbdcopy: number[] = [];
  const ferry: number[] = [];
  let allocated = 0;
  let stored = 0;
  for (let i = 0; i < runs; i++) {
    nbdcopy.push(
      await timed(() => runTool("nbdcopy", [uri, "null:"], { debianPackage: "libnbd-bin" })),
    );
    const root = join(work, `repo-${i}`);
    ferry.push(
      await timed(async () => {
        await using repository = await openRepository({ root, create: true });
        await using source = await openNbdSource({ path: socket, exportName });
        const result = await backupSource({
          source,
          repository,
          vmId: "bench",
          vmName: "bench",
          diskId: "disk0",
          moverId: "bench",
          transport: "hotadd",
          chunkSizeBytes: 4 * MiB,
          logger,
          signal: new AbortController().signal,
        });
        allocated = result.stats.bytesRead;
        stored = result.stats.bytesStored;
      }),
    );
    await rm(root, { recursive: true, force: true });
  }
  const mbps = (s: number) => (size / 1e6 / s).toFixed(0);
  const line = (name: string, xs: number[]) =>
    `${name.padEnd(28)} ${median(xs).toFixed(2).padStart(7)} s  ${mbps(median(xs)).padStart(6)} MB/s   runs: ${xs.map((x) => x.toFixed(2)).join(", ")}`;
  console.log(
    `disk ${diskMiB} MiB (logical), ${(allocated / MiB).toFixed(0)} MiB allocated; Ferry stored ${(stored / MiB).toFixed(0)} MiB; medians of ${runs} runs`,
  );
  console.log(line("nbdcopy -> null", nbdcopy));
  console.log(line("ferry full backup (NBD)", ferry));
  console.log(`ferry / nbdcopy: ${(median(nbdcopy) / median(ferry)).toFixed(2)}x`);
  await rm(work, { recursive: true, force: true });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
