// A throwaway PostgreSQL server for benchmarks, from Debian's server binaries, the way the
// coordinator's catalog specs make theirs (postgres-cluster.test-helper.ts): initdb in a temp
// dir, the server listening only on a unix socket there, run as an unprivileged user when we
// are root (initdb and postgres refuse root), stopped and removed afterwards. Unlike the
// specs' cluster it keeps PostgreSQL's durability defaults (fsync, synchronous commit):
// benchmark figures must be what a production catalog would show.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { FerryError } from "@ferry/common";
import { type LabChild, spawnChild } from "./child.js";

const run = promisify(execFile);
const PG_ROOT = "/usr/lib/postgresql";
// With no TCP listener the port only names the socket file.
const PORT = 5432;

/** A running PostgreSQL server this helper made. */
export interface PostgresServer extends AsyncDisposable {
  /** Directory of the server's unix socket and of its data. */
  readonly dir: string;
  readonly process: LabChild;
  /** The superuser, who needs {@link password}. */
  readonly user: string;
  readonly password: string;
  /** The URL of `database` (no password in it). */
  url(database: string): string;
  /** Creates database `name`; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs `sql` with psql in `database`; returns the unaligned, tuples-only output. */
  psql(database: string, sql: string): Promise<string>;
  /** Stops the server and deletes its data. Idempotent. */
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory; TOOL_MISSING saying how to install one. */
function binDir(): string {
  const newest = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(PG_ROOT, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))[0]
    : undefined;
  if (newest === undefined)
    throw new FerryError(
      "TOOL_MISSING",
      `no PostgreSQL server found (${PG_ROOT}/<version>/bin/initdb): apt-get install postgresql; ./scripts/setup.sh does it`,
    );
  return join(PG_ROOT, newest, "bin");
}

/** The unprivileged account to run as when we are root; undefined otherwise. */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const accounts = new Map(
    readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .map((line) => line.split(":"))
      .filter((f) => f.length >= 4)
      .map((f) => [f[0] as string, { uid: Number(f[2]), gid: Number(f[3]) }]),
  );
  for (const name of ["postgres", "nobody"]) {
    const account = accounts.get(name);
    if (account && account.uid !== 0) return account;
  }
  throw new FerryError("FAILED_PRECONDITION", "no unprivileged account to run PostgreSQL as");
}

/**
 * Creates a cluster (superuser "ferry" with a random password, scram-sha-256) in a new temp
 * dir and starts its server; resolves once it accepts connections.
 */
export async function startPostgresServer(
  options: {
    /** Load pg_stat_statements (each database still needs CREATE EXTENSION). */
    statements?: boolean;
  } = {},
): Promise<PostgresServer> {
  const bin = binDir();
  const account = serverAccount();
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-pg-"));
  const user = "ferry";
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  let child: LabChild | undefined;
  try {
    const pwfile = join(dir, "pwfile");
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (account) {
      await chown(dir, account.uid, account.gid);
      await chown(pwfile, account.uid, account.gid);
    }
    await run(
      join(bin, "initdb"),
      [
        ...["-D", join(dir, "data"), "-U", user, `--pwfile=${pwfile}`, "--auth=scram-sha-256"],
        ...["-E", "UTF8", "--locale=C", "--no-instructions"],
      ],
      { cwd: dir, timeout: 60_000, ...account },
    ).catch((err: { stderr?: string; message: string }) => {
      throw new FerryError("PROCESS_FAILED", `initdb failed: ${err.stderr || err.message}`);
    });
    await rm(pwfile);
    child = await spawnChild(
      "postgres",
      join(bin, "postgres"),
      [
        ...["-D", join(dir, "data"), "-k", dir, "-p", String(PORT)],
        ...["-c", "listen_addresses=", "-c", "max_connections=50"],
        ...(options.statements
          ? ["-c", "shared_preload_libraries=pg_stat_statements", "-c", "track_io_timing=on"]
          : []),
      ],
      {
        debianPackage: "postgresql",
        cwd: dir,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C" },
        ...(account ? { account } : {}),
      },
    );
    await child.waitForOutput(/database system is ready to accept connections/, 30_000);
  } catch (err) {
    await child?.terminate("SIGKILL", 5000);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const server = child;
  const url = (database: string) => `postgres://${user}@/${database}?host=${dir}`;
  const psql = async (database: string, sql: string) => {
    const { stdout } = await run(
      "psql",
      ["-h", dir, "-p", String(PORT), "-U", user, "-d", database, "-X", "-A", "-t", "-c", sql],
      { env: { ...process.env, PGPASSWORD: password }, timeout: 600_000 },
    ).catch((err: { stderr?: string; message: string }) => {
      throw new FerryError("PROCESS_FAILED", `psql failed: ${err.stderr || err.message}`);
    });
    return stdout.trim();
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    // SIGINT is PostgreSQL's fast shutdown: sessions end, the server exits cleanly.
    stopping ??= (async () => {
      if (!(await server.terminate("SIGINT", 15_000))) await server.terminate("SIGKILL", 5000);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  return {
    dir,
    process: server,
    user,
    password,
    url,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name))
        throw new FerryError("INVALID_ARGUMENT", `database name ${name} is not a plain name`);
      await psql("postgres", `CREATE DATABASE ${name}`);
      return url(name);
    },
    psql,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
