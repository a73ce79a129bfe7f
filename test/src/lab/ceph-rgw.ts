import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  abortReason,
  createCa,
  FerryError,
  issueCertificate,
  sleep,
  withDeadline,
} from "@ferry/common";
import { cephConf, RGW_NAME } from "./ceph-conf.js";
import { type LabChild, spawnChild } from "./child.js";
import { freePort } from "./free-port.js";
import { runTool } from "./run-tool.js";

// A throwaway single-node Ceph cluster with a RADOS Gateway, for tests against a real S3
// server: one monitor, one OSD on memstore, one radosgw, all children of the test and all on
// 127.0.0.1. No manager daemon: RGW runs without one. Debian 12 ships Ceph 16.2 (pacific).

/** A running RADOS Gateway and the cluster under it, with one S3 user. */
export interface Rgw extends AsyncDisposable {
  /** "http://127.0.0.1:PORT"; path-style addressing (no bucket DNS names). */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** With `tls`: "https://127.0.0.1:PORT", the same gateway over TLS. */
  readonly tlsEndpoint?: string;
  /** With `tls`: the PEM file of the CA that signed the gateway's certificate. */
  readonly caFile?: string;
  /** The zone group's name, which RGW takes as the S3 region in signatures. */
  readonly region: string;
  /** The cluster's directory (configuration, monitor store, OSD and RGW data). */
  readonly dir: string;
  /** The daemons: ceph-mon, ceph-osd and radosgw. */
  readonly processes: readonly LabChild[];
  /** radosgw's request counters since it started (its admin socket's `perf dump`). */
  requestCounters(): Promise<RgwRequestCounters>;
  /** Stops every daemon (SIGTERM, then SIGKILL) and deletes the directory. Idempotent. */
  remove(): Promise<void>;
}

/** Counts of S3 requests radosgw served, from its performance counters. */
export interface RgwRequestCounters {
  /** GET requests of objects (whole or ranges). */
  readonly gets: number;
  /** Bytes sent in answer to them. */
  readonly getBytes: number;
  /** PUT requests of objects (and parts). */
  readonly puts: number;
  /** Bytes received in them. */
  readonly putBytes: number;
}

/** How {@link startRgw} starts the cluster. */
export interface RgwOptions {
  /** Limit on the whole start-up; DEADLINE_EXCEEDED past it. Default 60 s. */
  readonly timeoutMs?: number;
  /** The OSD's memstore size in bytes (memory is taken only as data arrives). Default 1 GiB. */
  readonly storeBytes?: number;
  /** Also serve HTTPS, with a certificate for 127.0.0.1 from a CA made for the cluster. */
  readonly tls?: boolean;
  /** Aborting stops the start-up, ends what it started and removes the directory. */
  readonly signal?: AbortSignal;
}

const MON_ID = "a";
const OSD_ID = "0";
/** The order daemons are stopped in. */
const STOP_ORDER = ["radosgw", "ceph-osd", "ceph-mon"] as const;
/** How often readiness is polled, in ms. */
const POLL_MS = 100;
/** How long a daemon gets to exit on SIGTERM before SIGKILL, in ms. */
const STOP_GRACE_MS = 10_000;

/**
 * Starts a single-node Ceph cluster and radosgw in a new temporary directory and makes an S3
 * user with random keys. Resolves when the gateway answers S3 requests. A missing Ceph
 * binary fails with TOOL_MISSING naming its Debian package; a daemon that exits early fails
 * with PROCESS_FAILED and its output.
 */
export async function startRgw(options: RgwOptions = {}): Promise<Rgw> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dir = await mkdtemp(join(tmpdir(), "ferry-rgw-"));
  const deadline = withDeadline(options.signal, timeoutMs, "starting Ceph's RADOS Gateway");
  const { signal } = deadline;
  const processes: LabChild[] = [];
  let removing: Promise<void> | undefined;
  const remove = () => {
    removing ??= (async () => {
      // One at a time, clients first: radosgw stopping with the OSD gone can hang on its
      // last RADOS requests, and a stopping OSD tells the monitor.
      for (const name of STOP_ORDER) {
        for (const p of processes.filter((p) => p.name === name)) await stop(p);
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return removing;
  };
  try {
    const conf = join(dir, "ceph.conf");
    const [monPort, rgwPort] = await twoFreePorts();
    const tls = options.tls ? await gatewayTls(dir, [monPort, rgwPort]) : undefined;
    const fsid = randomUUID();
    const osdUuid = randomUUID();
    await writeFile(
      conf,
      cephConf({
        dir,
        fsid,
        monPort,
        rgwPort,
        storeBytes: options.storeBytes ?? 1 << 30,
        ...(tls ? { rgwTls: tls } : {}),
      }),
    );
    await Promise.all(["run", "crash", `osd.${OSD_ID}`, RGW_NAME].map((d) => mkdir(join(dir, d))));
    const tool = toolRunner(signal);

    const monmap = join(dir, "monmap");
    await tool("ceph-base", "monmaptool", [
      ...["--create", "--fsid", fsid, "--addv", MON_ID, `[v2:127.0.0.1:${monPort}]`, monmap],
    ]);
    await tool("ceph-mon", "ceph-mon", ["-c", conf, "-i", MON_ID, "--mkfs", "--monmap", monmap]);
    const mon = await daemon("ceph-mon", "ceph-mon", ["-c", conf, "-i", MON_ID, "-f"], processes);
    await Promise.all([
      mon.waitForOutput(/mon\.a is new leader/, timeoutMs, signal),
      // The OSD's store needs only the configuration: made while the monitor starts.
      tool("ceph-osd", "ceph-osd", [
        ...["-c", conf, "-i", OSD_ID, "--mkfs", "--osd-uuid", osdUuid, "--no-mon-config"],
      ]),
    ]);
    await tool("ceph-common", "ceph", [
      ...["-c", conf, "--connect-timeout", "30", "osd", "new", osdUuid, OSD_ID],
    ]);
    const osd = await daemon("ceph-osd", "ceph-osd", ["-c", conf, "-i", OSD_ID, "-f"], processes);
    // Only then the gateway: a client whose first requests find no OSD up learns of the OSD
    // at its next tick, five seconds later.
    await osd.waitForOutput(/state: booting -> active/, timeoutMs, signal);
    const gateway = await daemon(
      "radosgw",
      "radosgw",
      ["-c", conf, "-n", RGW_NAME, "-f"],
      processes,
    );

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitForGateway(endpoint, processes, signal);
    const accessKeyId = randomBytes(10).toString("hex").toUpperCase();
    const secretAccessKey = randomBytes(20).toString("hex");
    await tool("ceph-common", "radosgw-admin", [
      ...["-c", conf, "user", "create", "--uid", "ferry-test", "--display-name", "Ferry tests"],
      ...["--access-key", accessKeyId, "--secret-key", secretAccessKey],
    ]);
    return {
      endpoint,
      accessKeyId,
      secretAccessKey,
      region: "default",
      ...(tls ? { tlsEndpoint: `https://127.0.0.1:${tls.port}`, caFile: tls.ca } : {}),
      dir,
      processes,
      requestCounters: async () => {
        const asok = join(dir, "run", `${RGW_NAME}.${gateway.pid}.asok`);
        const stdout = await runTool("ceph", ["--admin-daemon", asok, "perf", "dump"], {
          debianPackage: "ceph-common",
        });
        const c = (JSON.parse(stdout) as { rgw: Record<string, number> }).rgw;
        return {
          gets: c.get ?? 0,
          getBytes: c.get_b ?? 0,
          puts: c.put ?? 0,
          putBytes: c.put_b ?? 0,
        };
      },
      remove,
      [Symbol.asyncDispose]: remove,
    };
  } catch (err) {
    await remove();
    throw err;
  } finally {
    deadline[Symbol.dispose]();
  }
}

/** A CA and the gateway's certificate for 127.0.0.1 in `dir`, and a free port not in `taken`. */
async function gatewayTls(dir: string, taken: readonly number[]) {
  const pki = join(dir, "pki");
  const { cert: ca } = await createCa(pki, "Ferry lab RGW CA");
  const issued = await issueCertificate(pki, "rgw", { hosts: ["127.0.0.1"] });
  let port = await freePort();
  while (taken.includes(port)) port = await freePort();
  return { port, cert: issued.cert, key: issued.key, ca };
}

/** Two distinct ports that were free a moment ago. */
async function twoFreePorts(): Promise<[number, number]> {
  const first = await freePort();
  for (;;) {
    const second = await freePort();
    if (second !== first) return [first, second];
  }
}

/** Runs a one-shot Ceph tool to completion; `signal` ends it (CANCELLED or DEADLINE_EXCEEDED). */
function toolRunner(signal: AbortSignal) {
  return async (debianPackage: string, command: string, args: readonly string[]) => {
    try {
      return await runTool(command, args, { debianPackage, signal });
    } catch (err) {
      if (signal.aborted) throw abortReason(signal, command);
      throw err;
    }
  };
}

/** Starts a daemon in the foreground and records it so that it is stopped on removal. */
async function daemon(
  debianPackage: string,
  command: string,
  args: readonly string[],
  processes: LabChild[],
): Promise<LabChild> {
  const child = await spawnChild(command, command, args, { debianPackage });
  processes.push(child);
  return child;
}

/** SIGTERM, then SIGKILL if the daemon has not exited within the grace period. */
async function stop(child: LabChild): Promise<void> {
  if (!(await child.terminate("SIGTERM", STOP_GRACE_MS))) await child.terminate("SIGKILL", 5000);
}

/**
 * Polls until an anonymous GET of the service root answers with S3's bucket list (XML);
 * fails at once, with its output, when a daemon exits.
 */
async function waitForGateway(
  endpoint: string,
  processes: readonly LabChild[],
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    const dead = processes.find((p) => p.hasExited);
    if (dead) {
      throw new FerryError(
        "PROCESS_FAILED",
        `${dead.name} exited before the gateway was ready; its output:\n${dead.output().slice(-4000)}`,
      );
    }
    const answer = await anonymousGet(endpoint, signal);
    if (answer?.status === 200 && answer.body.includes("<ListAllMyBucketsResult")) return;
    try {
      await sleep(POLL_MS, signal);
    } catch {
      const reason = abortReason(signal, `waiting for radosgw at ${endpoint}`);
      const tails = processes.map((p) => `-- ${p.name}:\n${p.output().slice(-1500)}`).join("\n");
      throw new FerryError(reason.code, `${reason.message}; the daemons' output:\n${tails}`, {
        cause: reason,
      });
    }
  }
}

/** One GET without a connection pool; undefined while nothing listens or the request fails. */
function anonymousGet(
  url: string,
  signal: AbortSignal,
): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, signal, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}
