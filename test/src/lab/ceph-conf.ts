/** What a throwaway single-node Ceph cluster's configuration depends on. */
export interface CephConfOptions {
  /** The cluster's directory: every daemon's data, sockets and pid files live under it. */
  readonly dir: string;
  /** The cluster's fsid (a UUID). */
  readonly fsid: string;
  /** The monitor's msgr2 port on 127.0.0.1. */
  readonly monPort: number;
  /** The RADOS Gateway's HTTP port on 127.0.0.1. */
  readonly rgwPort: number;
  /** An HTTPS port beside the HTTP one, with the gateway's certificate and key (PEM files). */
  readonly rgwTls?: { readonly port: number; readonly cert: string; readonly key: string };
  /** The OSD's in-memory store size, in bytes: a limit, allocated only as data arrives. */
  readonly storeBytes: number;
}

/** The name the RADOS Gateway runs as (`-n`); its section in the configuration. */
export const RGW_NAME = "client.rgw";

/**
 * The ceph.conf of a test cluster: one monitor, one memstore OSD, one RADOS Gateway, all on
 * 127.0.0.1 only, without cephx (loopback, throwaway data) and without a manager (RGW does
 * not need one). Pure: text out, no I/O.
 */
export function cephConf(o: CephConfOptions): string {
  const settings: [string, string | number | boolean][] = [
    ["fsid", o.fsid],
    // msgr2 only, IPv4 loopback only: nothing listens beyond this machine.
    ["mon host", `v2:127.0.0.1:${o.monPort}`],
    ["public addr", "127.0.0.1"],
    ["cluster addr", "127.0.0.1"],
    ["ms bind msgr1", false],
    ["ms bind ipv6", false],
    ["auth cluster required", "none"],
    ["auth service required", "none"],
    ["auth client required", "none"],
    // Without cephx there is no session key, so "secure" (encrypted) connections cannot be
    // set up; radosgw asks for them towards the monitor by default and is refused (-13).
    ["ms cluster mode", "crc"],
    ["ms service mode", "crc"],
    ["ms client mode", "crc"],
    ["ms mon cluster mode", "crc"],
    ["ms mon service mode", "crc"],
    ["ms mon client mode", "crc"],
    // Everything a daemon writes stays in the cluster's directory; logs go to stderr, where
    // the lab keeps the tail of each process's output for error messages.
    ["run dir", `${o.dir}/run`],
    ["admin socket", `${o.dir}/run/$name.$pid.asok`],
    ["pid file", `${o.dir}/run/$name.pid`],
    ["crash dir", `${o.dir}/crash`],
    ["keyring", `${o.dir}/keyring`],
    ["mon data", `${o.dir}/$name`],
    ["osd data", `${o.dir}/$name`],
    ["rgw data", `${o.dir}/$name`],
    ["log to file", false],
    ["log to stderr", true],
    ["err to stderr", true],
    ["mon cluster log to file", false],
    // One OSD: one copy, few placement groups (RGW makes about eight pools), no autoscaler.
    ["osd objectstore", "memstore"],
    ["memstore device bytes", o.storeBytes],
    ["osd pool default size", 1],
    ["osd pool default min size", 1],
    ["osd pool default pg num", 8],
    ["osd pool default pgp num", 8],
    ["osd pool default pg autoscale mode", "off"],
    ["osd crush chooseleaf type", 0],
    ["mon allow pool size one", true],
    ["mon allow pool delete", true],
    ["mon warn on pool no redundancy", false],
    ["mon warn on insecure global id reclaim allowed", false],
    // A nearly full disk elsewhere must not stop the monitor; its store is a few MiB.
    ["mon data avail crit", 1],
    ["mon data avail warn", 2],
    // RGW's first start makes its pools one map change at a time; the default of one map
    // change a second makes that ten seconds. The Ceph test suites shorten it likewise.
    ["paxos propose interval", 0.05],
    // A stopping OSD tells the monitor; if the monitor is gone already, do not wait long.
    ["osd mon shutdown timeout", 1],
  ];
  const rgw: [string, string | number | boolean][] = [
    [
      "rgw frontends",
      o.rgwTls
        ? `beast endpoint=127.0.0.1:${o.rgwPort} ssl_endpoint=127.0.0.1:${o.rgwTls.port} ssl_certificate=${o.rgwTls.cert} ssl_private_key=${o.rgwTls.key}`
        : `beast endpoint=127.0.0.1:${o.rgwPort}`,
    ],
    // The default 512 request threads are for production; a test sends a few at a time.
    ["rgw thread pool size", 16],
    ["rgw dynamic resharding", false],
  ];
  const lines = (entries: [string, string | number | boolean][]) =>
    entries.map(([k, v]) => `${k} = ${v}`).join("\n");
  return `[global]\n${lines(settings)}\n\n[${RGW_NAME}]\n${lines(rgw)}\n`;
}
