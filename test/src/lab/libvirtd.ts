import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "@ferry/common";
import { createVirsh, type Virsh } from "@ferry/mover";
import { type LabChild, spawnChild } from "./child.js";
import { waitForSocket } from "./wait-for-socket.js";

/** A libvirtd this lab started, with its own configuration and state. */
export interface LabLibvirtd extends AsyncDisposable {
  /** URI for virsh and the mover: the private daemon's socket on the system driver. */
  readonly uri: string;
  readonly dir: string;
  readonly process: LabChild;
  readonly virsh: Virsh;
  /** Destroys every domain it runs, then stops the daemon by its PID. Idempotent. */
  stop(): Promise<void>;
}

// libvirt's system daemon reads and writes these fixed paths; the harness mounts its own
// directories over them in a private mount namespace, so it shares nothing with the host's
// libvirt or another test's.
const PRIVATE_DIRS = {
  etc: "/etc/libvirt",
  run: "/run/libvirt",
  lib: "/var/lib/libvirt",
  log: "/var/log/libvirt",
  cache: "/var/cache/libvirt",
} as const;

// As verified in this container: no confinement, cgroups or namespaces for QEMU; root runs
// it; QEMU writes its own log file, so no virtlogd is needed.
const QEMU_CONF = `security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
user = "root"
group = "root"
stdio_handler = "file"
`;

/**
 * Starts libvirtd in a private mount namespace and waits until its socket answers. With
 * `backupTlsDir` (ca-cert.pem, server-cert.pem, server-key.pem), backup exports over TCP
 * speak TLS with that certificate and ask clients for one the CA signed.
 */
export async function startLibvirtd(
  o: { dir?: string; backupTlsDir?: string } = {},
): Promise<LabLibvirtd> {
  for (const [bin, pkg] of [
    ["/usr/sbin/libvirtd", "libvirt-daemon-system"],
    ["/usr/bin/virsh", "libvirt-clients"],
    ["/usr/bin/unshare", "util-linux"],
  ] as const) {
    await access(bin).catch(() => {
      throw new FerryError(
        "TOOL_MISSING",
        `${bin} is missing (apt-get install ${pkg}, or run scripts/setup.sh)`,
      );
    });
  }
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), "ferry-libvirtd-")));
  for (const sub of Object.keys(PRIVATE_DIRS)) await mkdir(join(dir, sub), { recursive: true });
  const backupTls = o.backupTlsDir
    ? `backup_tls_x509_cert_dir = "${o.backupTlsDir}"\nbackup_tls_x509_verify = 1\n`
    : "";
  await writeFile(join(dir, "etc", "qemu.conf"), QEMU_CONF + backupTls);
  await writeFile(join(dir, "etc", "libvirtd.conf"), 'unix_sock_rw_perms = "0700"\n');
  const mounts = Object.entries(PRIVATE_DIRS)
    .map(([sub, target]) => `mkdir -p ${target} && mount --bind ${join(dir, sub)} ${target}`)
    .join(" && ");
  // unshare execs the shell, the shell execs libvirtd: the child's PID is libvirtd's.
  const child = await spawnChild(
    "libvirtd",
    "unshare",
    ["--mount", "--propagation", "private", "sh", "-c", `${mounts} && exec libvirtd`],
    { debianPackage: "util-linux" },
  );
  const socket = join(dir, "run", "libvirt-sock");
  const uri = `qemu+unix:///system?socket=${socket}`;
  const virsh = createVirsh({ uri, timeoutMs: 60_000 });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (!child.hasExited) {
        // QEMU outlives libvirtd: end every domain while the daemon can still do it.
        const names = await virsh.run(["list", "--name"]).catch(() => "");
        for (const name of names.split("\n").filter((n) => n.trim() !== ""))
          await virsh.run(["destroy", name.trim()]).catch(() => undefined);
      }
      if (!(await child.terminate("SIGTERM", 10_000))) await child.terminate("SIGKILL", 5000);
      await killLeftoverQemu(dir);
      if (!o.dir) await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    await waitForSocket(socket, child, 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { uri, dir, process: child, virsh, stop, [Symbol.asyncDispose]: stop };
}

// A QEMU the daemon could not destroy (it died first): its PID file is in our run dir.
async function killLeftoverQemu(dir: string): Promise<void> {
  const runQemu = join(dir, "run", "qemu");
  const files = await readdir(runQemu).catch(() => [] as string[]);
  for (const f of files.filter((f) => f.endsWith(".pid"))) {
    const pid = Number((await readFile(join(runQemu, f), "utf8")).trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    // Only a QEMU: a stale file's PID may belong to someone else by now.
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.startsWith("/usr/bin/qemu-system")) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}
