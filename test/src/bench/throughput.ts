#!/usr/bin/env node
// Mover throughput beside the read+write floor (nbdcopy), restic and borg, in one run, on two
// deterministic images: one shaped like a real guest filesystem (unaligned extents, chunks
// that mix text, random data and holes), then one of large aligned segments, where
// incrementals follow after 2% of the image is rewritten. Figures are printed, never asserted.
//   pnpm bench:throughput [--real-gib 2] [--size-gib 4] [--runs 3] [--only real|rgw|aligned] (real: without the RGW rows, no Ceph started)
//                         [--mover PATH]   (another build's bin/ferry-mover, to compare)
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseArgs } from "@ferry/common";
import { REPO_ROOT } from "../lab/paths.js";
import { nbdUnixUri, serveImage } from "../lab/qemu-nbd.js";
import { runTool } from "../lab/run-tool.js";
import { BORG_CREATE, duBytes } from "./bench-data.js";
import { makeAlignedImage } from "./bench-images.js";
import { type Measure, measured, printRows, type Row, rowSet } from "./bench-measure.js";
import { realShapedRows } from "./throughput-real-shaped.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv, {
    boolean: [],
    valued: ["size-gib", "real-gib", "runs", "only", "mover"],
  });
  const sizeBytes = Number(args.flags.get("size-gib") ?? 4) * 1024 * MiB;
  const runs = Number(args.flags.get("runs") ?? 3);
  const only = args.flags.get("only");
  const work = await mkdtemp(join(tmpdir(), "ferry-bench-tp-"));
  const raw = join(work, "image.raw");
  const qcow2 = join(work, "image.qcow2");
  const socket = join(work, "nbd.sock");
  const mover = String(args.flags.get("mover") ?? join(REPO_ROOT, "bin/ferry-mover"));
  const env = {
    RESTIC_PASSWORD: "bench",
    RESTIC_CACHE_DIR: join(work, "restic-cache"),
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: "yes",
    // The second runs use a copy of the first run's repository: borg would ask about it.
    BORG_RELOCATED_REPO_ACCESS_IS_OK: "yes",
    BORG_BASE_DIR: join(work, "borg-base"),
  };
  if (only !== "aligned")
    await realShapedRows({
      work,
      mover,
      sizeBytes: Number(args.flags.get("real-gib") ?? 2) * 1024 * MiB,
      runs,
      env,
      rgw: only === "rgw" ? "only" : only === "real" ? "without" : "with",
    });
  if (only === "real" || only === "rgw")
    return void (await rm(work, { recursive: true, force: true }));
  process.stderr.write(
    `building a ${sizeBytes / MiB / 1024} GiB aligned image (40% random, 20% text, 40% zeros)...\n`,
  );
  await makeAlignedImage(raw, sizeBytes);
  await runTool("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, qcow2], {
    debianPackage: "qemu-utils",
  });
  const rows: Row[] = [];
  const repeat = async (
    name: string,
    fn: (i: number) => Promise<Measure>,
    repo?: (i: number) => string,
  ) => {
    const row: Row = { name, runs: [] };
    for (let i = 0; i < runs; i++) {
      row.runs.push(await fn(i));
      if (repo) {
        row.repoBytes = await duBytes(repo(i));
        if (i < runs - 1) await rm(repo(i), { recursive: true, force: true });
      }
    }
    rows.push(row);
    process.stderr.write(`  ${name}: ${row.runs.map((r) => r.seconds.toFixed(2)).join(", ")} s\n`);
  };

  process.stderr.write("full backups...\n");
  const served = { image: qcow2, format: "qcow2", socket, exportName: "img", shared: 8 } as const;
  let nbd = await serveImage(served);
  const uri = nbdUnixUri(socket, "img");
  await repeat("nbdcopy -> null (ceiling)", () => measured("nbdcopy", [uri, "null:"]));
  const ferryRepo = (i: number) => join(work, `ferry-${i}`);
  let fullId = "";
  await repeat(
    "ferry full, NBD",
    async (i) => {
      const m = await measured(mover, [
        "backup",
        "--source",
        uri,
        "--repo",
        ferryRepo(i),
        "--vm-id",
        "img",
      ]);
      const list = await run(mover, ["restore-points", "--repo", ferryRepo(i), "--json"]);
      fullId = JSON.parse(list.stdout)[0].restorePointId;
      return m;
    },
    ferryRepo,
  );
  // The same with encryption at rest (AES-256-GCM, keyed digests), as restic always does.
  const passphrase = join(work, "passphrase");
  await writeFile(passphrase, "bench passphrase\n", { mode: 0o600 });
  const sealedRepo = (i: number) => join(work, `ferry-sealed-${i}`);
  await repeat(
    "ferry full, NBD, encrypted",
    (i) =>
      measured(mover, [
        "backup",
        "--source",
        uri,
        "--repo",
        sealedRepo(i),
        "--vm-id",
        "img",
        "--passphrase-file",
        passphrase,
      ]),
    sealedRepo,
  );
  await nbd.terminate("SIGTERM", 5000);
  const fileRepo = (i: number) => join(work, `ferry-file-${i}`);
  await repeat(
    "ferry full, file",
    (i) => measured(mover, ["backup", "--source", raw, "--repo", fileRepo(i), "--vm-id", "img"]),
    fileRepo,
  );
  const resticRepo = (i: number) => join(work, `restic-${i}`);
  await repeat(
    "restic backup",
    async (i) => {
      await run("restic", ["init", "-q", "-r", resticRepo(i)], { env: { ...process.env, ...env } });
      return measured("restic", ["backup", "-q", "-r", resticRepo(i), raw], env);
    },
    resticRepo,
  );
  const borgRepo = (i: number) => join(work, `borg-${i}`);
  await repeat(
    "borg create (lz4, fixed 4 MiB)",
    async (i) => {
      await run("borg", ["init", "--encryption", "none", borgRepo(i)], {
        env: { ...process.env, ...env },
      });
      return measured("borg", [...BORG_CREATE, `${borgRepo(i)}::one`, raw], env);
    },
    borgRepo,
  );

  // Rewrite 2% of the image, in eight places, the same in the raw and the qcow2 copies;
  // a persistent bitmap in the qcow2 tracks it.
  await runTool("qemu-img", ["bitmap", "--add", qcow2, "since-full"], {
    debianPackage: "qemu-utils",
  });
  const change = Math.floor((sizeBytes * 0.02) / 8 / 65536) * 65536;
  const pattern = join(work, "change.bin");
  await writeFile(pattern, randomBytes(change));
  const writes = Array.from(
    { length: 8 },
    (_, i) =>
      `write -s ${pattern} ${Math.floor((i * sizeBytes) / 8 / 65536) * 65536 + 3 * 65536} ${change}`,
  );
  for (const [img, fmt] of [
    [qcow2, "qcow2"],
    [raw, "raw"],
  ] as const)
    await runTool("qemu-io", ["-f", fmt, ...writes.flatMap((w) => ["-c", w]), img], {
      debianPackage: "qemu-utils",
    });

  process.stderr.write(`incrementals after rewriting ${((8 * change) / MiB).toFixed(0)} MiB...\n`);
  nbd = await serveImage({ ...served, bitmap: "since-full" });
  const last = runs - 1;
  const incRow: Row = { name: "ferry incremental (dirty bitmap)", runs: [] };
  for (let i = 0; i < runs; i++) {
    // Each run starts from the full: a copy of the repository as the full left it.
    const repo = join(work, `ferry-inc-${i}`);
    await runTool("cp", ["-a", ferryRepo(last), repo], { debianPackage: "coreutils" });
    incRow.runs.push(
      await measured(mover, [
        "backup",
        "--source",
        uri,
        "--repo",
        repo,
        "--vm-id",
        "img",
        "--dirty-bitmap",
        "since-full",
        "--since",
        fullId,
      ]),
    );
    incRow.repoBytes = await duBytes(repo);
    await rm(repo, { recursive: true, force: true });
  }
  rows.push(incRow);
  await nbd.terminate("SIGTERM", 5000);
  // The others read the whole image again, into a copy of the repository their first run left.
  // borg's cache must match the repository: each run gets a copy of the first run's too.
  const borgBase = join(work, "borg-base-after-first");
  await runTool("cp", ["-a", env.BORG_BASE_DIR, borgBase], { debianPackage: "coreutils" });
  const second = async (name: string, first: string, cmd: (repo: string) => [string, string[]]) => {
    const row: Row = { name, runs: [] };
    for (let i = 0; i < runs; i++) {
      const repo = join(work, `second-${i}`);
      const base = join(work, `borg-base-${i}`);
      await runTool("cp", ["-a", first, repo], { debianPackage: "coreutils" });
      await runTool("cp", ["-a", borgBase, base], { debianPackage: "coreutils" });
      const [c, a] = cmd(repo);
      row.runs.push(await measured(c, a, { ...env, BORG_BASE_DIR: base }));
      await rm(base, { recursive: true, force: true });
      row.repoBytes = await duBytes(repo);
      await rm(repo, { recursive: true, force: true });
    }
    rows.push(row);
  };
  await second("restic, second run", resticRepo(last), (repo) => [
    "restic",
    ["backup", "-q", "-r", repo, raw],
  ]);
  await second("borg, second run", borgRepo(last), (repo) => [
    "borg",
    [...BORG_CREATE, `${repo}::two`, raw],
  ]);

  printRows(
    `aligned image, ${sizeBytes / MiB / 1024} GiB logical (40% random, 20% text, 40% zeros in 64 MiB segments); medians of ${runs} runs`,
    rows,
    sizeBytes,
  );
  const { by, seconds: secs } = rowSet(rows);
  console.log(`full_vs_nbdcopy=${(secs("nbdcopy") / secs("ferry full, NBD")).toFixed(2)}`);
  console.log(
    `incremental_time_vs_full=${(secs("ferry incremental") / secs("ferry full, NBD")).toFixed(2)}  (2% rewritten; goal < 0.25)`,
  );
  console.log(`full_vs_restic=${(secs("restic backup") / secs("ferry full, NBD")).toFixed(2)}`);
  console.log(`full_vs_borg=${(secs("borg create") / secs("ferry full, NBD")).toFixed(2)}`);
  console.log(
    `encrypted_time_vs_plain=${(secs("ferry full, NBD, encrypted") / secs("ferry full, NBD")).toFixed(2)}`,
  );
  console.log(
    `incremental_vs_restic=${(secs("restic, second") / secs("ferry incremental")).toFixed(2)}`,
  );
  console.log(
    `incremental_vs_borg=${(secs("borg, second") / secs("ferry incremental")).toFixed(2)}`,
  );
  console.log(
    `repo_vs_borg=${((by("ferry full, NBD").repoBytes ?? 0) / (by("borg create").repoBytes ?? 1)).toFixed(2)}`,
  );
  await rm(work, { recursive: true, force: true });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
