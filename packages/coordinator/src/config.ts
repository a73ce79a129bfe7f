import { loadConfigFile, schema } from "@ferry/common";

const { number, object, oneOf, string } = schema;

/** The coordinator's configuration file (JSON). Unknown keys are errors. */
export const coordinatorConfigSchema = object({
  /** Where movers and operators reach the gRPC API. */
  listen: string({ pattern: /^[^\s:]+:\d{1,5}$/, hint: "host:port" }).default("127.0.0.1:7100"),
  /** Interval movers heartbeat at, milliseconds; three missed mark a mover down. */
  heartbeatIntervalMs: number({ integer: true, min: 100, max: 600_000 }).default(5000),
  nats: string({ pattern: /^nats:\/\/.+/, hint: "nats://host:port" }).optional(),
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
