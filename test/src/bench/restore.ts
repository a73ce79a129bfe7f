#!/usr/bin/env node
// Restores: full-restore rate with 1 and with 16 chunk reads in flight, and the time until a
// recovered VM's guest agent answers, booting at once from the restore point over NBD
// (instant recovery) against a full restore then boot, and the full restore from an encrypted
// repository. Figures are printed, never asserted.
//   pnpm bench:restore [--disk-mib 2048] [--runs 3]
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { openRepository, parseArgs } from "@ferry/common";
import { restoreRestorePoint } from "@ferry/mover";
import { backUpImage } from "../lab/back-up-image.js";
import { ensureGuestImage } from "../lab/guest-image.js";
import { bootFromRestorePoint } from "../lab/instant-boot.js";
import { startLab } from "../lab/lab.js";
import { type LabVm, startLabVm } from "../lab/lab-vm.js";
import { median, randomData, textLike, timed } from "./bench-data.js";

const MiB = 1024 * 1024;

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { boolean: [], valued: ["disk-mib", "runs"] });
  const diskMiB = Number(args.flags.get("disk-mib") ?? 2048);
  const runs = Number(args.flags.get("runs") ?? 3);
  const randomMiB = Math.floor(diskMiB * 0.4);
  const textMiB = Math.floor(diskMiB * 0.2);
  process.stderr.write(
    `a lab VM with a ${diskMiB} MiB disk: ${randomMiB} MiB random, ${textMiB} MiB text...\n`,
  );
  await using lab = await startLab({
    vms: 1,
    diskMiB,
    workload: false,
    extraFiles: {
      "data/random.bin": randomData(randomMiB * MiB, 5),
      "data/log.txt": textLike(textMiB * MiB),
    },
  });
  const vm = lab.vms[0] as LabVm;
  const disk = vm.disks[0]?.path as string;
  await vm.stop();
  await using repository = await openRepository({ root: join(lab.dir, "repo"), create: true });
  const restorePointId = await backUpImage(disk, join(lab.dir, "b.sock"), repository, vm.name);
  const point = await repository.openRestorePoint(restorePointId);
  const logical = point.manifest.disks[0]?.sizeBytes ?? 0;

  const rates: Record<number, number[]> = { 1: [], 16: [] };
  for (let i = 0; i < runs; i++)
    for (const parallel of [1, 16]) {
      const to = join(lab.dir, `restore-${parallel}.raw`);
      const seconds = await timed(() =>
        restoreRestorePoint({
          repository,
          restorePointId,
          to: { file: to },
          format: "raw",
          parallel,
        }),
      );
      rates[parallel]?.push(logical / 1e6 / seconds);
      await rm(to);
      process.stderr.write(`  full restore, ${parallel} in flight: ${seconds.toFixed(2)} s\n`);
    }

  // The same disk in an encrypted repository: what opening sealed chunks costs a restore.
  await using sealed = await openRepository({
    root: join(lab.dir, "repo-sealed"),
    create: true,
    passphrase: "bench passphrase",
  });
  const sealedPointId = await backUpImage(disk, join(lab.dir, "s.sock"), sealed, vm.name);
  const sealedRates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const to = join(lab.dir, "restore-sealed.raw");
    const seconds = await timed(() =>
      restoreRestorePoint({
        repository: sealed,
        restorePointId: sealedPointId,
        to: { file: to },
        format: "raw",
        parallel: 16,
      }),
    );
    sealedRates.push(logical / 1e6 / seconds);
    await rm(to);
    process.stderr.write(`  full restore, 16 in flight, encrypted: ${seconds.toFixed(2)} s\n`);
  }

  const guest = await ensureGuestImage();
  const instant: number[] = [];
  const restoreThenBoot: number[] = [];
  for (let i = 0; i < runs; i++) {
    {
      const started = Date.now();
      const booted = await bootFromRestorePoint({
        repository,
        restorePointId,
        name: `instant-${i}`,
        dir: lab.dir,
      });
      instant.push((Date.now() - started) / 1000);
      await booted[Symbol.asyncDispose]();
    }
    {
      const started = Date.now();
      const image = join(lab.dir, `restored-${i}.qcow2`);
      await restoreRestorePoint({
        repository,
        restorePointId,
        to: { file: image },
        format: "qcow2",
      });
      const recovered = await startLabVm({
        name: `restored-${i}`,
        dir: join(lab.dir, `restored-${i}`),
        guest,
        disks: [image],
        workload: false,
      });
      restoreThenBoot.push((Date.now() - started) / 1000);
      await recovered.stop();
      await rm(image);
    }
    process.stderr.write(
      `  first agent answer: instant ${instant.at(-1)?.toFixed(2)} s, restore then boot ${restoreThenBoot.at(-1)?.toFixed(2)} s\n`,
    );
  }

  console.log(
    `restore point of a ${diskMiB} MiB disk (${randomMiB} MiB random, ${textMiB} MiB text); medians of ${runs} runs`,
  );
  console.log(`full restore, 1 chunk read in flight:   ${median(rates[1] ?? []).toFixed(0)} MB/s`);
  console.log(`full restore, 16 chunk reads in flight: ${median(rates[16] ?? []).toFixed(0)} MB/s`);
  console.log(`full restore, 16 in flight, encrypted:  ${median(sealedRates).toFixed(0)} MB/s`);
  console.log(`instant recovery, to first guest-agent answer:  ${median(instant).toFixed(2)} s`);
  console.log(
    `full restore then boot, to first answer:        ${median(restoreThenBoot).toFixed(2)} s`,
  );
  console.log(`restore_mbps_1=${median(rates[1] ?? []).toFixed(0)}`);
  console.log(`restore_mbps_16=${median(rates[16] ?? []).toFixed(0)}`);
  console.log(`restore_mbps_16_encrypted=${median(sealedRates).toFixed(0)}`);
  console.log(`instant_recovery_s=${median(instant).toFixed(2)}`);
  console.log(`restore_then_boot_s=${median(restoreThenBoot).toFixed(2)}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
