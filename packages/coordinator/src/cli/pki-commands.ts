import {
  type ChannelCredentials,
  clientCredentials,
  createCa,
  FerryError,
  issueCertificate,
  type ParsedArgs,
  parsePeerRole,
} from "@ferry/common";
import { json2, list, out, str } from "./cli-io.js";

/**
 * `ferry pki init --dir DIR` and `ferry pki issue --dir DIR --name NAME [--host A,B]
 * [--role coordinator|mover|operator]`: a certificate authority for mutual TLS between the
 * coordinator, movers and operators, and certificates that say which of those they are.
 */
export async function pkiCommand(args: ParsedArgs, json: boolean): Promise<void> {
  const [, sub] = args.positionals;
  const dir = str(args, "dir");
  if (!dir) throw new FerryError("INVALID_ARGUMENT", "--dir is required");
  if (sub === "init") {
    const { cert } = await createCa(dir);
    return out(
      json
        ? json2({ ca: cert })
        : `created a CA: give ${cert} to every party; keep ${dir}/ca.key private`,
    );
  }
  if (sub === "issue") {
    const name = str(args, "name");
    if (!name) throw new FerryError("INVALID_ARGUMENT", "--name is required");
    const hosts = list(args, "host");
    // Operator by default: the role that can do least without a token; see PeerRole.
    const role = parsePeerRole(str(args, "role") || "operator");
    const issued = await issueCertificate(dir, name, {
      role,
      ...(hosts.length > 0 ? { hosts } : {}),
    });
    return out(
      json ? json2(issued) : `issued ${issued.cert} and ${issued.key} (role ${issued.role})`,
    );
  }
  throw new FerryError(
    "INVALID_ARGUMENT",
    `unknown pki command ${JSON.stringify(sub)} (init, issue)`,
  );
}

/** Client TLS from --tls-ca/--tls-cert/--tls-key or FERRY_TLS_*; nothing when none is given. */
export async function cliTls(args: ParsedArgs): Promise<{ credentials?: ChannelCredentials }> {
  const pick = (flag: string, env: string) => str(args, flag) || process.env[env] || "";
  const ca = pick("tls-ca", "FERRY_TLS_CA");
  const cert = pick("tls-cert", "FERRY_TLS_CERT");
  const key = pick("tls-key", "FERRY_TLS_KEY");
  if (!ca && !cert && !key) return {};
  if (!ca || !cert || !key)
    throw new FerryError(
      "INVALID_ARGUMENT",
      "mutual TLS needs all of --tls-ca, --tls-cert and --tls-key",
    );
  // The CLI talks to the coordinator only: no other certificate of the CA may answer for it.
  return { credentials: await clientCredentials({ ca, cert, key }, "coordinator") };
}
