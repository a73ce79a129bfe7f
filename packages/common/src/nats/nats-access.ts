import { readFile } from "node:fs/promises";
import { object, string } from "../config/schema.js";
import { FerryError } from "../errors/ferry-error.js";

/**
 * How a coordinator or mover proves itself to NATS, and trusts it: a user whose password
 * sits in a file (so configurations can be shown), and TLS with the server's CA (plus a
 * client certificate where the server asks for one).
 */
export const natsAccessSchema = object({
  user: string({ nonEmpty: true }).optional(),
  passwordFile: string({ nonEmpty: true }).optional(),
  tlsCa: string({ nonEmpty: true }).optional(),
  tlsCert: string({ nonEmpty: true }).optional(),
  tlsKey: string({ nonEmpty: true }).optional(),
});

/** A parsed `natsAccess` section. */
export interface NatsAccess {
  user?: string | undefined;
  passwordFile?: string | undefined;
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

/** The nats.js connect options for `access`: user and password, TLS files. */
export async function natsConnectOptions(access: NatsAccess | undefined): Promise<{
  user?: string;
  pass?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}> {
  if (!access) return {};
  if ((access.user === undefined) !== (access.passwordFile === undefined))
    throw new FerryError("CONFIG_INVALID", "natsAccess needs user and passwordFile together");
  if ((access.tlsCert === undefined) !== (access.tlsKey === undefined))
    throw new FerryError("CONFIG_INVALID", "natsAccess needs tlsCert and tlsKey together");
  const pass =
    access.passwordFile === undefined
      ? undefined
      : (
          await readFile(access.passwordFile, "utf8").catch((err: NodeJS.ErrnoException) => {
            // The path only: the password must never reach a log.
            throw new FerryError(
              "CONFIG_INVALID",
              `cannot read the NATS password file ${access.passwordFile}: ${err.code ?? err.message}`,
            );
          })
        ).trim();
  const tls =
    access.tlsCa || access.tlsCert
      ? {
          ...(access.tlsCa ? { caFile: access.tlsCa } : {}),
          ...(access.tlsCert ? { certFile: access.tlsCert, keyFile: access.tlsKey as string } : {}),
        }
      : undefined;
  return {
    ...(access.user ? { user: access.user } : {}),
    ...(pass !== undefined ? { pass } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** A server URL fit for logs: any user:password in it replaced. */
export function safeUrl(url: string): string {
  return url.replace(/\/\/[^@/,]*@/g, "//***@");
}
