// Measuring whole commands (wall and CPU seconds, peak RSS) and printing them as a table.
import { execFile } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { median } from "./bench-data.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** One measured command: wall and CPU seconds, peak RSS (GNU time). */
export interface Measure {
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  /** CPU seconds the server it read from (qemu-nbd) spent meanwhile, on the same cores. */
  serverCpuSeconds?: number;
  /** Seconds the disk under the work directory was busy meanwhile (/proc/diskstats). */
  diskBusySeconds?: number;
  /** Bytes that disk read and wrote meanwhile: what it moved, beside what it can move. */
  diskBytes?: number;
}

/** What else to watch while a command runs. */
export interface Watch {
  /** The NBD server's PID: its CPU is part of what a run costs. */
  serverPid?: number;
  /** A block device name in /proc/diskstats (see {@link diskOf}). */
  disk?: string;
}

// Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux build here).
const USER_HZ = 100;

/** CPU seconds (user + system) process `pid` has used so far. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const { user, system } = await processCpuTimes(pid);
  return user + system;
}

/** CPU seconds (user + system) process `pid` and its children (one level) have used so far. */
export async function processFamilyCpuSeconds(pid: number): Promise<number> {
  let sum = await processCpuSeconds(pid).catch(() => 0);
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // The 4th field is the parent's pid.
    if (Number(fields[1]) === pid) sum += (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  }
  return sum;
}

/** CPU seconds process `pid` has used so far in user mode and in the kernel. */
export async function processCpuTimes(pid: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / USER_HZ, system: Number(fields[12]) / USER_HZ };
}

/** `field` of /proc/<pid>/status (VmRSS, VmHWM: the peak RSS), bytes. */
export async function processStatusBytes(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** The /proc/diskstats name of the block device holding `path` (a partition's, if on one). */
export async function diskOf(path: string): Promise<string> {
  const dev = (await stat(path)).dev;
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & ~0xff);
  for (const line of (await readFile("/proc/diskstats", "utf8")).split("\n")) {
    const f = line.trim().split(/\s+/);
    if (Number(f[0]) === major && Number(f[1]) === minor) return f[2] as string;
  }
  throw new Error(`no block device ${major}:${minor} (of ${path}) in /proc/diskstats`);
}

/** Seconds `disk` has spent doing I/O since boot (io_ticks), and the bytes it read and wrote. */
async function diskCounters(disk: string): Promise<{ busy: number; bytes: number }> {
  for (const line of (await readFile("/proc/diskstats", "utf8")).split("\n")) {
    const f = line.trim().split(/\s+/);
    // Sectors of 512 bytes read (6th field) and written (10th), whatever the device's own.
    if (f[2] === disk)
      return { busy: Number(f[12]) / 1000, bytes: (Number(f[5]) + Number(f[9])) * 512 };
  }
  throw new Error(`no disk ${disk} in /proc/diskstats`);
}

/**
 * Runs a command under GNU time; rejects when it fails. Also what `watch` names spent
 * meanwhile: the server's CPU (on the same cores), the disk's busy time.
 */
export async function measured(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  watch: Watch = {},
): Promise<Measure> {
  const { serverPid, disk } = watch;
  const serverBefore = serverPid === undefined ? 0 : await processCpuSeconds(serverPid);
  const diskBefore = disk === undefined ? undefined : await diskCounters(disk);
  const { stderr } = await run("/usr/bin/time", ["-f", "FERRY_TIME %e %U %S %M", cmd, ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * MiB,
  });
  const m = /FERRY_TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  if (!m) throw new Error(`no timing from ${cmd}: ${stderr.slice(-500)}`);
  return {
    seconds: Number(m[1]),
    cpuSeconds: Number(m[2]) + Number(m[3]),
    peakRssBytes: Number(m[4]) * 1024,
    ...(serverPid === undefined
      ? {}
      : { serverCpuSeconds: (await processCpuSeconds(serverPid)) - serverBefore }),
    ...(disk === undefined || diskBefore === undefined
      ? {}
      : await diskCounters(disk).then((after) => ({
          diskBusySeconds: after.busy - diskBefore.busy,
          diskBytes: after.bytes - diskBefore.bytes,
        }))),
  };
}

/** A measured row: every run of one command, and the repository it left. */
export interface Row {
  name: string;
  runs: Measure[];
  repoBytes?: number;
}

/** Medians of a set of rows, by name prefix. */
export function rowSet(rows: readonly Row[]) {
  const by = (name: string) => {
    const row = rows.find((r) => r.name.startsWith(name));
    if (!row) throw new Error(`no row ${name}`);
    return row;
  };
  const med = (r: Row, f: (m: Measure) => number) => median(r.runs.map(f));
  return {
    by,
    seconds: (name: string) => med(by(name), (m) => m.seconds),
    cpuSeconds: (name: string) => med(by(name), (m) => m.cpuSeconds),
    serverCpuSeconds: (name: string) => med(by(name), (m) => m.serverCpuSeconds ?? 0),
    diskBusy: (name: string) => med(by(name), (m) => (m.diskBusySeconds ?? 0) / m.seconds),
    /** Bytes per second the disk moved (read + written) while the command ran. */
    diskRate: (name: string) => med(by(name), (m) => (m.diskBytes ?? 0) / m.seconds),
    med,
  };
}

/**
 * Prints the rows with MB/s of `logicalBytes`, seconds, CPU-s, peak RSS, repository size, and
 * where measured the NBD server's CPU-s, how busy the machine's cores were ((command + server
 * CPU) / (cores × wall)) and how busy the disk was (busy time / wall).
 */
export function printRows(title: string, rows: readonly Row[], logicalBytes: number): void {
  const { med } = rowSet(rows);
  console.log(title);
  console.log(
    `${"".padEnd(38)} ${"MB/s".padStart(7)} ${"seconds".padStart(8)} ${"CPU s".padStart(7)} ${"peak RSS MiB".padStart(13)} ${"repo MiB".padStart(9)} ${"server CPU s".padStart(13)} ${"cores busy".padStart(10)} ${"disk busy".padStart(9)}`,
  );
  const cores = availableParallelism();
  for (const r of rows) {
    const seconds = med(r, (m) => m.seconds);
    const cells = [
      (logicalBytes / 1e6 / seconds).toFixed(0).padStart(7),
      seconds.toFixed(2).padStart(8),
      med(r, (m) => m.cpuSeconds)
        .toFixed(2)
        .padStart(7),
      (med(r, (m) => m.peakRssBytes) / MiB).toFixed(0).padStart(13),
      (r.repoBytes === undefined ? "-" : (r.repoBytes / MiB).toFixed(0)).padStart(9),
      ...(r.runs.some((m) => m.serverCpuSeconds !== undefined)
        ? [
            med(r, (m) => m.serverCpuSeconds ?? 0)
              .toFixed(2)
              .padStart(13),
            `${(med(r, (m) => (m.cpuSeconds + (m.serverCpuSeconds ?? 0)) / cores / m.seconds) * 100).toFixed(0)}%`.padStart(
              10,
            ),
          ]
        : ["-".padStart(13), "-".padStart(10)]),
      (r.runs.some((m) => m.diskBusySeconds !== undefined)
        ? `${(med(r, (m) => (m.diskBusySeconds ?? 0) / m.seconds) * 100).toFixed(0)}%`
        : "-"
      ).padStart(9),
    ];
    console.log(`${r.name.padEnd(38)} ${cells.join(" ")}`);
  }
}
