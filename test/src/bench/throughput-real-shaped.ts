// The throughput rows on a disk shaped like a real guest filesystem (bench-images.ts): the
// read+write floor, Ferry (NBD, file, encrypted, restore), borg and restic, runs alternated.
import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { startRgw } from "../lab/ceph-rgw.js";
import { nbdUnixUri, serveImage } from "../lab/qemu-nbd.js";
import { BORG_CREATE, duBytes } from "./bench-data.js";
import { describeMix, makeRealShapedImage } from "./bench-images.js";
import { diskOf, type Measure, measured, printRows, type Row, rowSet } from "./bench-measure.js";

const run = promisify(execFile);

/** User + system CPU seconds `pids` have used so far (from /proc/PID/stat). */
async function cpuSecondsOf(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? 0
    : ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2;
}
const MiB = 1024 * 1024;

/** Builds the image, measures every row `runs` times (alternating), prints table and ratios. */
export async function realShapedRows(o: {
  work: string;
  /** The ferry-mover to measure. */
  mover: string;
  sizeBytes: number;
  runs: number;
  env: NodeJS.ProcessEnv;
  /**
   * "only": only the local and RGW Ferry rows (the others take long and do not change with
   * S3); "without": no RGW rows, and no Ceph started (its daemons would share the cores).
   */
  rgw: "with" | "only" | "without";
}): Promise<void> {
  const { work, runs, env, mover } = o;
  const rgwOnly = o.rgw === "only";
  // A single-node Ceph cluster on loopback, as in the S3 tests: the repository in its RGW.
  const started =
    o.rgw === "without" ? undefined : await startRgw({ storeBytes: 8 * 1024 * MiB, tls: true });
  // Read only by the RGW rows, which exist only when it was started.
  const rgw = started as Awaited<ReturnType<typeof startRgw>>;
  const credentials = join(work, "rgw-credentials");
  if (started) {
    const s3 = new S3Client({
      endpoint: rgw.endpoint,
      region: rgw.region,
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    });
    await s3.send(new CreateBucketCommand({ Bucket: "bench" }));
    s3.destroy();
  }
  await writeFile(
    credentials,
    `[default]\naws_access_key_id = ${rgw?.accessKeyId}\naws_secret_access_key = ${rgw?.secretAccessKey}\n`,
    { mode: 0o600 },
  );
  // Each run backs up into a new prefix: an existing one would deduplicate everything.
  let rgwRun = 0;
  // Over https (the gateway's own CA): uploads go with unsigned payloads, TLS guards them.
  const rgwRepo = (over: "http" | "https" = "http") =>
    `s3://bench/run-${rgwRun}?${new URLSearchParams({
      endpoint: over === "https" ? (rgw.tlsEndpoint as string) : rgw.endpoint,
      region: rgw.region,
      "credentials-file": credentials,
      ...(over === "https" ? { "ca-file": rgw.caFile as string } : {}),
    })}`;
  let rgwRestorePointId = "";
  // The http backup's repository: the https row's run comes between it and the restore.
  let rgwRestoreRepo = "";
  const rgwPids = () => rgw.processes.map((p) => p.pid);
  const raw = join(work, "real.raw");
  process.stderr.write(`building a ${o.sizeBytes / MiB} MiB real-shaped image...\n`);
  const mix = await makeRealShapedImage(raw, o.sizeBytes);
  const socket = join(work, "real.sock");
  const nbd = await serveImage({
    image: raw,
    format: "raw",
    socket,
    exportName: "real",
    shared: 8,
  });
  const uri = nbdUnixUri(socket, "real");
  const passphrase = join(work, "real-passphrase");
  await writeFile(passphrase, "bench passphrase\n", { mode: 0o600 });
  const out = join(work, "real-out.raw");
  const disk = await diskOf(work);
  // Each round writes repositories of its own, all removed at the end: removing one just
  // before the next backup made that backup pay for it (ext4 skips recently deleted inodes
  // when it allocates, and a Ferry repository is hundreds of chunk files and directories).
  let round = 0;
  const repo = (name: string) => join(work, `real-${name}-${round}`);
  let restorePointId = "";

  // What the disk itself moves, reading and writing at once around the page cache (as a
  // restore does: it reads the repository and writes the image): the restore's ceiling.
  const ddIn = join(work, "dd-in.raw");
  const ddOut = join(work, "dd-out.raw");
  await run("dd", ["if=/dev/zero", `of=${ddIn}`, "bs=4M", "count=256", "oflag=direct"]);
  const DD_BOTH = `dd if=${ddIn} of=/dev/null bs=4M iflag=direct 2>/dev/null & dd if=/dev/zero of=${ddOut} bs=4M count=256 oflag=direct 2>/dev/null; wait`;

  // Each step measures one command; `repo` names the repository it writes, if any.
  const steps: { name: string; repo?: string; measure: () => Promise<Measure> }[] = [
    {
      name: "floor: nbdcopy NBD -> file",
      measure: async () => {
        const m = await measured("nbdcopy", [uri, out], {}, { serverPid: nbd.pid, disk });
        await rm(out, { force: true });
        return m;
      },
    },
    // The same copy made durable, as a restore is (it syncs the image before it says done).
    {
      name: "floor, synced: nbdcopy, then sync",
      measure: async () => {
        const m = await measured(
          "sh",
          ["-c", `nbdcopy "$0" "$1" && sync "$1"`, uri, out],
          {},
          {
            serverPid: nbd.pid,
            disk,
          },
        );
        await rm(out, { force: true });
        return m;
      },
    },
    {
      name: "ferry full, NBD",
      repo: "ferry",
      measure: async () => {
        const m = await measured(
          mover,
          ["backup", "--source", uri, "--repo", repo("ferry")],
          {},
          { serverPid: nbd.pid, disk },
        );
        const list = await run(mover, ["restore-points", "--repo", repo("ferry"), "--json"]);
        restorePointId = JSON.parse(list.stdout)[0].restorePointId;
        return m;
      },
    },
    {
      name: "ferry restore, 16 in flight",
      measure: async () => {
        const m = await measured(
          mover,
          [
            ...["restore", "--repo", repo("ferry"), "--restore-point", restorePointId],
            ...["--to", out, "--format", "raw", "--parallel", "16"],
          ],
          {},
          { disk },
        );
        await rm(out, { force: true });
        return m;
      },
    },
    {
      name: "RGW: ferry full, NBD",
      measure: async () => {
        rgwRun++;
        const cpu0 = await cpuSecondsOf(rgwPids());
        const m = await measured(
          mover,
          ["backup", "--source", uri, "--repo", rgwRepo()],
          {},
          { serverPid: nbd.pid, disk },
        );
        rgwCpu.backup.push((await cpuSecondsOf(rgwPids())) - cpu0);
        rgwRestoreRepo = rgwRepo();
        const list = await run(mover, ["restore-points", "--repo", rgwRestoreRepo, "--json"]);
        rgwRestorePointId = JSON.parse(list.stdout)[0].restorePointId;
        return m;
      },
    },
    {
      name: "RGW: https, ferry full, NBD",
      measure: async () => {
        rgwRun++;
        const cpu0 = await cpuSecondsOf(rgwPids());
        const m = await measured(
          mover,
          ["backup", "--source", uri, "--repo", rgwRepo("https")],
          {},
          { serverPid: nbd.pid, disk },
        );
        rgwCpu.backupTls.push((await cpuSecondsOf(rgwPids())) - cpu0);
        return m;
      },
    },
    {
      name: "RGW: ferry restore, 16 in flight",
      measure: async () => {
        const cpu0 = await cpuSecondsOf(rgwPids());
        const m = await measured(
          mover,
          [
            ...["restore", "--repo", rgwRestoreRepo, "--restore-point", rgwRestorePointId],
            ...["--to", out, "--format", "raw", "--parallel", "16"],
          ],
          {},
          { disk },
        );
        rgwCpu.restore.push((await cpuSecondsOf(rgwPids())) - cpu0);
        await rm(out, { force: true });
        return m;
      },
    },
    {
      name: "ferry full, NBD, encrypted",
      repo: "sealed",
      measure: () =>
        measured(
          mover,
          [
            ...["backup", "--source", uri, "--repo", repo("sealed")],
            ...["--passphrase-file", passphrase],
          ],
          {},
          { serverPid: nbd.pid, disk },
        ),
    },
    {
      name: "disk: dd direct read + write at once",
      measure: async () => {
        const m = await measured("sh", ["-c", DD_BOTH], {}, { disk });
        await rm(ddOut, { force: true });
        return m;
      },
    },
    // The same listing of a plain and of the encrypted repository: the difference is what
    // opening the key costs (its KDF, deliberately slow), once per command, not per byte.
    {
      name: "ferry list, plain",
      measure: () => measured(mover, ["restore-points", "--repo", repo("ferry")]),
    },
    {
      name: "ferry list, encrypted",
      measure: () =>
        measured(mover, [
          ...["restore-points", "--repo", repo("sealed")],
          ...["--passphrase-file", passphrase],
        ]),
    },
    {
      name: "ferry full, file",
      repo: "file",
      measure: () => measured(mover, ["backup", "--source", raw, "--repo", repo("file")]),
    },
    {
      name: "borg create (lz4, fixed 4 MiB)",
      repo: "borg",
      measure: async () => {
        await run("borg", ["init", "--encryption", "none", repo("borg")], {
          env: { ...process.env, ...env },
        });
        return measured("borg", [...BORG_CREATE, `${repo("borg")}::one`, raw], env);
      },
    },
    {
      name: "restic backup",
      repo: "restic",
      measure: async () => {
        await run("restic", ["init", "-q", "-r", repo("restic")], {
          env: { ...process.env, ...env },
        });
        return measured("restic", ["backup", "-q", "-r", repo("restic"), raw], env);
      },
    },
  ];
  const rgwCpu = { backup: [] as number[], backupTls: [] as number[], restore: [] as number[] };
  if (!started) steps.splice(0, steps.length, ...steps.filter((s) => !s.name.startsWith("RGW:")));
  if (rgwOnly) {
    const keep = (n: string) =>
      n.startsWith("RGW:") ||
      n.startsWith("ferry full, NBD") ||
      n.startsWith("ferry restore") ||
      n.startsWith("floor");
    steps.splice(
      0,
      steps.length,
      ...steps.filter((s) => keep(s.name) && !s.name.includes("encrypted")),
    );
  }
  const rows: Row[] = steps.map((s) => ({ name: s.name, runs: [] }));
  for (round = 0; round < runs; round++) {
    for (const [k, step] of steps.entries()) {
      const row = rows[k] as Row;
      row.runs.push(await step.measure());
      if (step.repo) row.repoBytes = await duBytes(repo(step.repo));
      // What a step left in the page cache is written back before the next step starts.
      await run("sync", []);
      process.stderr.write(
        `  ${step.name}: ${(row.runs.at(-1) as Measure).seconds.toFixed(2)} s\n`,
      );
    }
  }
  await nbd.terminate("SIGTERM", 5000);
  await started?.remove();
  await rm(raw, { force: true });
  await rm(ddIn, { force: true });
  for (round = 0; round < runs; round++)
    for (const step of steps)
      if (step.repo) await rm(repo(step.repo), { recursive: true, force: true });

  printRows(
    `real-shaped image, ${o.sizeBytes / MiB / 1024} GiB logical (${describeMix(mix)}; ${mix.extents} data extents, ${mix.unalignedExtents} not chunk-aligned); medians of ${runs} alternated runs`,
    rows,
    o.sizeBytes,
  );
  const r = rowSet(rows);
  const floor = r.seconds("floor");
  const ferry = r.seconds("ferry full, NBD");
  const load = (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");
  if (started)
    console.log(
      `real_rgw_backup_vs_local=${(ferry / r.seconds("RGW: ferry full")).toFixed(2)}  (goal >= 0.5; ferry CPU ${r.cpuSeconds("RGW: ferry full").toFixed(2)} s vs ${r.cpuSeconds("ferry full, NBD").toFixed(2)} s local; Ceph daemons' CPU ${median(rgwCpu.backup).toFixed(2)} s; load average ${load})`,
    );
  if (started)
    console.log(
      `real_rgw_https_backup_vs_local=${(ferry / r.seconds("RGW: https, ferry full")).toFixed(2)}  (ferry CPU ${r.cpuSeconds("RGW: https, ferry full").toFixed(2)} s; Ceph daemons' CPU ${median(rgwCpu.backupTls).toFixed(2)} s)`,
    );
  if (started) {
    // Ferry's, qemu-nbd's and Ceph's CPU over every core: the shortest wall the backup into
    // RGW could take on this machine, however idle, beside the local one's.
    const rgwBusiest =
      (r.cpuSeconds("RGW: ferry full") +
        r.serverCpuSeconds("RGW: ferry full") +
        median(rgwCpu.backup)) /
      availableParallelism();
    const localBusiest =
      (r.cpuSeconds("ferry full, NBD") + r.serverCpuSeconds("ferry full, NBD")) /
      availableParallelism();
    console.log(
      `real_rgw_backup_vs_local_at_all_cores_busy=${(localBusiest / rgwBusiest).toFixed(2)}  (CPU over ${availableParallelism()} cores: ${rgwBusiest.toFixed(2)} s at best into RGW, ${localBusiest.toFixed(2)} s locally)`,
    );
  }
  if (started)
    console.log(
      `real_rgw_restore_vs_local=${(r.seconds("ferry restore") / r.seconds("RGW: ferry restore")).toFixed(2)}  (ferry CPU ${r.cpuSeconds("RGW: ferry restore").toFixed(2)} s vs ${r.cpuSeconds("ferry restore").toFixed(2)} s local; Ceph daemons' CPU ${median(rgwCpu.restore).toFixed(2)} s)`,
    );
  if (rgwOnly) return;
  console.log(`real_full_nbd_vs_floor=${(floor / ferry).toFixed(2)}  (goal >= 0.6)`);
  console.log(
    `real_cpu_vs_borg=${(r.cpuSeconds("ferry full, NBD") / r.cpuSeconds("borg")).toFixed(2)}  (goal <= 1)`,
  );
  const sealed = r.seconds("ferry full, NBD, encrypted");
  const keyOpen = r.seconds("ferry list, encrypted") - r.seconds("ferry list, plain");
  console.log(`real_encrypted_time_vs_plain=${(sealed / ferry).toFixed(2)}  (goal <= 1.15)`);
  console.log(
    `real_encrypted_time_vs_plain_without_key_open=${((sealed - keyOpen) / ferry).toFixed(2)}  (opening the key: ${keyOpen.toFixed(2)} s per command)`,
  );
  console.log(
    `real_cores_busy_ferry_nbd=${(((r.cpuSeconds("ferry full, NBD") + r.serverCpuSeconds("ferry full, NBD")) / availableParallelism() / ferry) * 100).toFixed(0)}%  (ferry + qemu-nbd CPU over ${availableParallelism()} cores x wall)`,
  );
  console.log(
    `real_restore_vs_floor=${(floor / r.seconds("ferry restore")).toFixed(2)}  (goal >= 0.6)`,
  );
  console.log(
    `real_restore_vs_synced_floor=${(r.seconds("floor, synced") / r.seconds("ferry restore")).toFixed(2)}  (the floor's copy made durable, as the restore's is)`,
  );
  const diskMax = r.diskRate("disk:");
  console.log(
    `real_restore_disk_rate=${(r.diskRate("ferry restore") / MiB).toFixed(0)} MiB/s  (read + written; the disk moves ${(diskMax / MiB).toFixed(0)} MiB/s reading and writing at once with dd: ${((r.diskRate("ferry restore") / diskMax) * 100).toFixed(0)}%)`,
  );
  console.log(
    `real_floor_disk_rate=${(r.diskRate("floor") / MiB).toFixed(0)} MiB/s  (the floor only writes the image; a restore also reads the repository from the same disk: it moves more bytes through it)`,
  );
  // Ferry's and qemu-nbd's CPU over every core: the shortest wall the backup could take.
  const busiest =
    (r.cpuSeconds("ferry full, NBD") + r.serverCpuSeconds("ferry full, NBD")) /
    availableParallelism();
  console.log(
    `real_full_nbd_vs_floor_at_all_cores_busy=${(floor / busiest).toFixed(2)}  (ferry + qemu-nbd CPU ${(busiest * availableParallelism()).toFixed(2)} s over ${availableParallelism()} cores: ${busiest.toFixed(2)} s at best)`,
  );
  console.log(
    `real_repo_vs_borg=${((r.by("ferry full, NBD").repoBytes ?? 0) / (r.by("borg").repoBytes ?? 1)).toFixed(2)}  (goal <= 1)`,
  );
  console.log(`real_full_vs_borg=${(r.seconds("borg") / ferry).toFixed(2)}`);
  console.log(`real_full_vs_restic=${(r.seconds("restic") / ferry).toFixed(2)}`);
}
