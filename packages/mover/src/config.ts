import {
  loadConfigFile,
  metricsListenerSchema,
  natsAccessSchema,
  schema,
  tlsSchema,
} from "@ferry/common";

const { array, number, object, oneOf, string } = schema;

const hostPort = { pattern: /^[^\s:]+:\d{1,5}$/, hint: "host:port" };

/** The mover's configuration file (JSON). Unknown keys are errors. */
export const moverConfigSchema = object({
  /** Stable mover id, unique in the estate. */
  id: string({ nonEmpty: true, pattern: /^[A-Za-z0-9_-]+$/, hint: "letters, digits, _ and -" }),
  /**
   * Mutual TLS with the coordinator: this mover's certificate and key, and the CA that signs
   * both (see `ferry pki`). Without it a TLS coordinator refuses the mover. With it, backups
   * over the nbd transport also export the VM's disks over TLS: QEMU presents this
   * certificate (it must be able to read these files) and admits only CA-signed clients.
   */
  tls: tlsSchema.optional(),
  /** Where the MoverService listens. */
  listen: string(hostPort).default("127.0.0.1:0"),
  /** Address the coordinator dials back; default: the bound listen address. */
  advertise: string(hostPort).optional(),
  /**
   * The coordinator's gRPC address, or several separated by commas when coordinators share
   * a catalog (the mover finds the leader); without one it serves tasks but registers nowhere.
   */
  coordinator: string({
    pattern: /^[^\s:,]+:\d{1,5}(,[^\s:,]+:\d{1,5})*$/,
    hint: "host:port[,host:port...]",
  }).optional(),
  /** NATS server URL for progress events. */
  nats: string({
    pattern: /^(nats|tls):\/\/.+/,
    hint: "nats://host:port[,nats://host:port...]",
  }).optional(),
  /** Credentials for NATS (user and a password file) and TLS to it (its CA, a client cert). */
  natsAccess: natsAccessSchema.optional(),
  host: object({
    id: string({ nonEmpty: true }),
    name: string().optional(),
  }),
  datastores: array(
    object({
      id: string({ nonEmpty: true }),
      name: string().optional(),
      path: string({ nonEmpty: true }),
    }),
  ).default([]),
  /**
   * How the mover reaches VMs besides the inventory file's QEMU monitor sockets:
   * `{"libvirt": "qemu:///system"}` lists the connection's domains and backs them up through
   * libvirt's backup API (the VM's monitor is libvirt's alone).
   */
  hypervisor: object({ libvirt: string({ nonEmpty: true }) }).optional(),
  /** Inventory file listing this host's VMs and their sockets. */
  inventory: string({ nonEmpty: true }).optional(),
  slots: number({ integer: true, min: 1, max: 256 }).default(2),
  /** How often the mover re-reads its inventory and registers again, milliseconds. */
  inventoryRefreshMs: number({ integer: true, min: 100, max: 3_600_000 }).default(60_000),
  /** Directory for the mover's NBD sockets; default a directory under the system temp dir. */
  runDir: string({ nonEmpty: true }).optional(),
  /** A task stops when its fleecing overlays occupy more than this, bytes (default 4 GiB). */
  overlayLimitBytes: number({ integer: true, min: 1024 * 1024 }).default(4 * 1024 ** 3),
  /**
   * Chunk buffers the mover holds at once, all tasks together, bytes (default 64 MiB):
   * backups beyond that wait their turn instead of growing the mover.
   */
  chunkMemoryBytes: number({ integer: true, min: 16 * 1024 * 1024 }).default(64 * 1024 ** 2),
  /** Directory of the micro guest (vmlinuz, initrd.img) file-level restores boot; default setup's. */
  fileRestoreGuestDir: string({ nonEmpty: true }).optional(),
  /**
   * File holding the passphrase of encrypted repositories (mode 0600). Repositories this
   * mover creates are then encrypted; without it an encrypted repository cannot be backed
   * up into or restored from.
   */
  repositoryPassphraseFile: string({ nonEmpty: true }).optional(),
  /** Limit for the guest freeze, milliseconds. */
  freezeTimeoutMs: number({ integer: true, min: 100, max: 600_000 }).default(30_000),
  transports: array(oneOf(["hotadd", "nbd"] as const)).default(["hotadd", "nbd"]),
  /**
   * Prometheus metrics, /healthz and /readyz over HTTP(S): `{"listen": "127.0.0.1:9465"}`.
   * Absent: no listener. A non-loopback address needs `tls` or `tokenSha256`.
   */
  metrics: metricsListenerSchema.optional(),
  logLevel: oneOf(["debug", "info", "warn", "error"] as const).default("info"),
});

/** Parsed mover configuration. */
export type MoverConfig = schema.Infer<typeof moverConfigSchema>;

/** Reads and validates a mover configuration file. */
export function loadMoverConfig(path: string, signal?: AbortSignal): Promise<MoverConfig> {
  return loadConfigFile(moverConfigSchema, path, signal);
}
