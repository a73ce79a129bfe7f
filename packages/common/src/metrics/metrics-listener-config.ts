import { isIP } from "node:net";
import * as schema from "../config/schema.js";
import { FerryError } from "../errors/ferry-error.js";
import { tlsSchema } from "../tls/tls-files.js";

const { object, string } = schema;

/**
 * The metrics and health listener of a coordinator or a mover (`"metrics": {...}` in its
 * configuration; absent: no listener). `/metrics` needs the bearer token whose SHA-256 is
 * `tokenSha256` when one is set; `/healthz` and `/readyz` never do (probes carry no secrets).
 */
export const metricsListenerSchema = object({
  /** host:port of the HTTP(S) listener, e.g. 127.0.0.1:9464; port 0 picks a free one. */
  listen: string({ pattern: /^[^\s:]+:\d{1,5}$/, hint: "host:port" }),
  /** Hex SHA-256 of the bearer token Prometheus sends (`ferry token new` prints one). */
  tokenSha256: string({ pattern: /^[0-9a-f]{64}$/, hint: "hex SHA-256 of the token" }).optional(),
  /** HTTPS with client certificates the CA signed (Prometheus' tls_config cert_file/key_file). */
  tls: tlsSchema.optional(),
});

/** Parsed metrics listener settings. */
export type MetricsListenerConfig = schema.Infer<typeof metricsListenerSchema>;

/** True for localhost and every loopback address (127.0.0.0/8, ::1). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  return h === "::1" || h === "::ffff:127.0.0.1";
}

/**
 * CONFIG_INVALID when the listener would serve metrics beyond this host unprotected: a
 * non-loopback address needs TLS or a token. Metrics name VMs' datastores and movers.
 */
export function checkMetricsExposure(config: MetricsListenerConfig): void {
  const host = config.listen.slice(0, config.listen.lastIndexOf(":"));
  if (isLoopbackHost(host) || config.tls || config.tokenSha256) return;
  throw new FerryError(
    "CONFIG_INVALID",
    `metrics.listen ${config.listen} is not a loopback address: set metrics.tls or ` +
      "metrics.tokenSha256 so that only Prometheus can read it, or listen on 127.0.0.1",
  );
}
