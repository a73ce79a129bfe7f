import {
  loadConfigFile,
  metricsListenerSchema,
  natsAccessSchema,
  schema,
  tlsSchema,
} from "@ferry/common";
import { ROLES } from "./auth/roles.js";

const { number, object, oneOf, string } = schema;

/** The coordinator's configuration file (JSON). Unknown keys are errors. */
export const coordinatorConfigSchema = object({
  /**
   * Mutual TLS: every mover and operator must present a certificate signed by `ca` (see
   * `ferry pki`); the coordinator shows its own. Absent: plaintext, for a lab on one host.
   */
  tls: tlsSchema.optional(),
  /**
   * Operator API tokens (`ferry token new` prints one and its entry): with any listed, every
   * operator call needs one, and its role (viewer, operator, admin) must reach the method's.
   */
  tokens: schema
    .array(
      object({
        name: string({ nonEmpty: true }),
        role: oneOf(ROLES),
        sha256: string({ pattern: /^[0-9a-f]{64}$/, hint: "hex SHA-256 of the token" }),
      }),
    )
    .default([]),
  /**
   * The web console (off when absent): an HTTP listener serving the console and the operator
   * API with the same tokens. A non-loopback address needs `tls` (then it serves HTTPS).
   */
  console: object({
    listen: string({ pattern: /^[^\s]+:\d{1,5}$/, hint: "host:port" }),
  }).optional(),
  /** Where movers and operators reach the gRPC API. */
  listen: string({ pattern: /^[^\s:]+:\d{1,5}$/, hint: "host:port" }).default("127.0.0.1:7100"),
  /**
   * Where other coordinators, movers and operators reach this one, if not `listen` (a
   * follower names the leader by it). Several coordinators share a PostgreSQL catalog.
   */
  advertise: string({ pattern: /^[^\s:]+:\d{1,5}$/, hint: "host:port" }).optional(),
  /**
   * The leader lease's length with a PostgreSQL catalog, milliseconds; default two heartbeat
   * intervals, so a follower takes over within three.
   */
  leaseMs: number({ integer: true, min: 300, max: 600_000 }).optional(),
  /** Interval movers heartbeat at, milliseconds; three missed mark a mover down. */
  heartbeatIntervalMs: number({ integer: true, min: 100, max: 600_000 }).default(5000),
  nats: string({
    pattern: /^(nats|tls):\/\/.+/,
    hint: "nats://host:port[,nats://host:port...]",
  }).optional(),
  /** Credentials for NATS (user and a password file) and TLS to it (its CA, a client cert). */
  natsAccess: natsAccessSchema.optional(),
  /** Directory for the catalog (SQLite) and, by default, the repository. */
  dataDir: string({ nonEmpty: true }).default(".ferry"),
  /**
   * The catalog: a SQLite file (a path or `sqlite:PATH`; default <dataDir>/catalog.sqlite) or
   * a PostgreSQL database (`postgres://USER@HOST:PORT/DATABASE`, without a password).
   */
  catalog: string({ nonEmpty: true }).optional(),
  /**
   * PostgreSQL catalog: file (mode 0600) holding the password. Absent: PGPASSWORD, then
   * ~/.pgpass (PGPASSFILE).
   */
  catalogPasswordFile: string({ nonEmpty: true }).optional(),
  /** PostgreSQL catalog: connections open at most. */
  catalogPoolSize: number({ integer: true, min: 1, max: 1000 }).optional(),
  /** Repository of backups that name none; default <dataDir>/repository. */
  repository: string({ nonEmpty: true }).optional(),
  /**
   * Deprecated and ignored (a warning at start): repository maintenance runs on movers, each
   * with its own passphrase file. Kept so that older files still load.
   */
  repositoryPassphraseFile: string({ nonEmpty: true }).optional(),
  limits: object({
    perHost: number({ integer: true, min: 1, max: 1000 }).default(2),
    perDatastore: number({ integer: true, min: 1, max: 1000 }).default(2),
    total: number({ integer: true, min: 1, max: 10_000 }).default(8),
  }).default({ perHost: 2, perDatastore: 2, total: 8 }),
  /** Backup I/O control per datastore, from the guest latency movers measure. */
  ioControl: object({
    enabled: schema.boolean().default(true),
    /** No new task starts on a datastore at or above this latency, ms. */
    admitBelowMs: number({ min: 1, max: 10_000 }).default(20),
    /** Running tasks on a datastore above this latency are throttled, ms. */
    throttleAboveMs: number({ min: 1, max: 10_000 }).default(30),
    /** Open snapshots (tasks) at once per datastore. */
    snapshotsPerDatastore: number({ integer: true, min: 1, max: 1000 }).default(4),
  }).default({ enabled: true, admitBelowMs: 20, throttleAboveMs: 30, snapshotsPerDatastore: 4 }),
  /** How often schedules are checked, milliseconds. */
  scheduleCheckMs: number({ integer: true, min: 100, max: 60_000 }).default(15_000),
  /** Attempts per task, retries of retryable failures included. */
  maxAttempts: number({ integer: true, min: 1, max: 20 }).default(3),
  /**
   * Task starts a second at most, 0 for no pacing: a big job's starts spread out so the API
   * and heartbeats are answered meanwhile.
   */
  maxStartsPerSecond: number({ integer: true, min: 0, max: 100_000 }).default(400),
  /**
   * Prometheus metrics, /healthz and /readyz over HTTP(S): `{"listen": "127.0.0.1:9464"}`.
   * Absent: no listener. A non-loopback address needs `tls` or `tokenSha256`.
   */
  metrics: metricsListenerSchema.optional(),
  logLevel: oneOf(["debug", "info", "warn", "error"] as const).default("info"),
});

/** Parsed coordinator configuration. */
export type CoordinatorConfig = schema.Infer<typeof coordinatorConfigSchema>;

/** Reads and validates a coordinator configuration file. */
export function loadCoordinatorConfig(
  path: string,
  signal?: AbortSignal,
): Promise<CoordinatorConfig> {
  return loadConfigFile(coordinatorConfigSchema, path, signal);
}
