import { execFile } from "node:child_process";
import { access, chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { FerryError } from "../errors/ferry-error.js";
import { type PeerRole, parsePeerRole, roleUnit } from "./peer-role.js";

const run = promisify(execFile);

// Names of the files a PKI directory holds.
const CA_KEY = "ca.key";
const CA_CERT = "ca.crt";

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT")
      throw new FerryError("TOOL_MISSING", "openssl is not installed (apt-get install openssl)");
    throw new FerryError(
      "PROCESS_FAILED",
      `openssl ${args[0]} failed: ${e.stderr?.trim() ?? e.message}`,
    );
  }
}

/** A new P-256 private key at `path`, readable by its owner only. */
async function newKey(path: string): Promise<void> {
  await openssl([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    path,
  ]);
  await chmod(path, 0o600);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Creates a certificate authority in `dir` (ca.key, private; ca.crt, to hand to every party).
 * Refuses to replace one: every certificate it signed would stop working.
 */
export async function createCa(dir: string, name = "Ferry CA"): Promise<{ cert: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = join(dir, CA_KEY);
  const cert = join(dir, CA_CERT);
  if ((await exists(key)) || (await exists(cert)))
    throw new FerryError("ALREADY_EXISTS", `${dir} already holds a CA: issue certificates from it`);
  await newKey(key);
  await openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    key,
    "-out",
    cert,
    "-days",
    "3650",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { cert };
}

/** Options of {@link issueCertificate}. */
export interface IssueOptions {
  /** DNS names and IP addresses the certificate is valid for. Default 127.0.0.1, localhost. */
  hosts?: readonly string[];
  /**
   * What the holder may call (see {@link PeerRole}). Default "operator", the least a
   * certificate can do: the coordinator and movers need theirs named.
   */
  role?: PeerRole;
}

/**
 * Issues a certificate for `name` (a mover id, "coordinator", an operator) signed by the CA in
 * `dir`: `<name>.key` and `<name>.crt`, good for both ends of mutual TLS, valid for the DNS
 * names and IP addresses in `hosts`, carrying `role` as the subject OU "ferry-<role>".
 */
export async function issueCertificate(
  dir: string,
  name: string,
  options: IssueOptions = {},
): Promise<{ cert: string; key: string; role: PeerRole }> {
  const hosts = options.hosts ?? ["127.0.0.1", "localhost"];
  const role = options.role ?? "operator";
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
    throw new FerryError(
      "INVALID_ARGUMENT",
      `certificate name ${JSON.stringify(name)}: use [A-Za-z0-9._-], 1-64`,
    );
  // Checked here too: the role lands in an openssl -subj argument.
  parsePeerRole(role);
  if (!(await exists(join(dir, CA_KEY))))
    throw new FerryError("NOT_FOUND", `${dir} holds no CA: run ferry pki init first`);
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  if (await exists(cert)) throw new FerryError("ALREADY_EXISTS", `${cert} exists`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
  try {
    await newKey(key);
    await openssl([
      "req",
      "-new",
      "-key",
      key,
      "-out",
      csr,
      "-subj",
      `/OU=${roleUnit(role)}/CN=${name}`,
    ]);
    await writeFile(
      ext,
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`,
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      join(dir, CA_CERT),
      "-CAkey",
      join(dir, CA_KEY),
      "-CAcreateserial",
      "-out",
      cert,
      "-days",
      "825",
      "-extfile",
      ext,
    ]);
  } catch (err) {
    await rm(key, { force: true });
    await rm(cert, { force: true });
    throw err;
  } finally {
    await rm(csr, { force: true });
    await rm(ext, { force: true });
  }
  return { cert, key, role };
}
