import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { FerryError } from "@ferry/common";
import { Client } from "pg";
import { parseIntoClientConfig } from "pg-connection-string";

// A throwaway PostgreSQL cluster for tests, from Debian's server binaries: initdb in a temp
// dir, the server listening only on a unix socket there, stopped and removed afterwards.
// initdb and postgres refuse to run as root: as root, they run as an unprivileged user.

const run = promisify(execFile);
const PG_ROOT = "/usr/lib/postgresql";
// With no TCP listener the port only names the socket file: no clash with anything.
const PORT = 5432;

/** A running (or stopped) cluster this helper made. */
export interface PostgresCluster extends AsyncDisposable {
  /** Directory of the server's unix socket (and of the cluster). */
  readonly dir: string;
  /** The superuser; it needs {@link password}. */
  readonly user: string;
  readonly password: string;
  /** The server's process id while it runs. */
  readonly pid: number | undefined;
  /** The URL of `database` (no password in it). */
  url(database: string): string;
  /** A new, empty database; returns its URL. */
  newDatabase(): Promise<string>;
  /** Runs `sql` as the superuser in `database`; returns the rows. */
  query<R = Record<string, unknown>>(
    database: string,
    sql: string,
    params?: unknown[],
  ): Promise<R[]>;
  /** Stops the server (fast shutdown: sessions are ended); the data stays. Idempotent. */
  stop(): Promise<void>;
  /** Starts the stopped server again, on the same socket. */
  start(): Promise<void>;
  /** Stops the server and deletes the cluster. Idempotent. */
  remove(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory; TOOL_MISSING saying how to install one. */
export function postgresBinDir(): string {
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(PG_ROOT, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new FerryError(
      "TOOL_MISSING",
      `no PostgreSQL server found (${PG_ROOT}/<version>/bin/initdb): apt-get install postgresql; ./scripts/setup.sh does it`,
    );
  }
  return join(PG_ROOT, newest, "bin");
}

/** Who the cluster's processes run as. */
interface Account {
  uid: number;
  gid: number;
}

/** The unprivileged account the cluster runs as when we are root; undefined otherwise. */
function clusterAccount(): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const accounts = new Map(
    readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .map((line) => line.split(":"))
      .filter((f) => f.length >= 4)
      .map((f) => [f[0] as string, { uid: Number(f[2]), gid: Number(f[3]) }]),
  );
  // Debian's postgresql package creates "postgres"; "nobody" exists everywhere.
  for (const name of ["postgres", "nobody"]) {
    const account = accounts.get(name);
    if (account && account.uid !== 0) return account;
  }
  throw new FerryError(
    "FAILED_PRECONDITION",
    "no unprivileged account (postgres, nobody) to run PostgreSQL as",
  );
}

/** Starts the server and resolves once it accepts connections; rejects, with its output, if it exits first. */
function startServer(
  bin: string,
  dir: string,
  account: Account | undefined,
): Promise<ChildProcess> {
  const server = spawn(
    join(bin, "postgres"),
    [
      ...["-D", join(dir, "data"), "-k", dir, "-p", String(PORT)],
      ...["-c", "listen_addresses=", "-c", "shared_buffers=16MB", "-c", "max_connections=50"],
      // Throwaway data: durability costs time and buys nothing.
      ...["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
    ],
    {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C" },
      stdio: ["ignore", "pipe", "pipe"],
      ...account,
    },
  );
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.kill("SIGKILL");
      fail(`PostgreSQL was not ready within 30 s; its output:\n${output}`);
    }, 30_000);
    const onOutput = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-16_384);
      if (output.includes("database system is ready to accept connections")) {
        clearTimeout(timer);
        server.off("exit", onExit);
        // Keep draining: a full pipe would block the server's logging.
        resolve(server);
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(`PostgreSQL exited (${code ?? signal}) before it was ready; its output:\n${output}`);
    const fail = (message: string) => {
      clearTimeout(timer);
      reject(new FerryError("PROCESS_FAILED", message));
    };
    server.stdout?.on("data", onOutput);
    server.stderr?.on("data", onOutput);
    server.once("exit", onExit);
    server.once("error", (err) => fail(`cannot start ${bin}/postgres: ${err.message}`));
  });
}

/** Ends `server`: fast shutdown, then SIGKILL if it hangs. Only this process is signalled. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  server.kill("SIGINT");
  let timer: NodeJS.Timeout | undefined;
  const hung = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), 15_000);
    }),
  ]);
  clearTimeout(timer);
  if (hung) {
    server.kill("SIGKILL");
    await exited;
  }
}

/**
 * Creates a cluster in a new temp dir (superuser "ferry", a random password, scram-sha-256
 * for every connection) and starts its server on a unix socket in that dir. TOOL_MISSING
 * when PostgreSQL is not installed: a failure, not a reason to skip.
 */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  const account = clusterAccount();
  const dir = await mkdtemp(join(tmpdir(), "ferry-pg-"));
  const user = "ferry";
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  let server: ChildProcess | undefined;
  try {
    const pwfile = join(dir, "pwfile");
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (account) {
      await chown(dir, account.uid, account.gid);
      await chown(pwfile, account.uid, account.gid);
    }
    const initdb = [
      ...["-D", join(dir, "data"), "-U", user, `--pwfile=${pwfile}`, "--auth=scram-sha-256"],
      ...["-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
    ];
    await run(join(bin, "initdb"), initdb, { cwd: dir, timeout: 60_000, ...account }).catch(
      (err: { stderr?: string; message: string }) => {
        throw new FerryError("PROCESS_FAILED", `initdb failed: ${err.stderr || err.message}`);
      },
    );
    await rm(pwfile);
    server = await startServer(bin, dir, account);
  } catch (err) {
    if (server) await stopServer(server);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const url = (database: string) => `postgres://${user}@/${database}?host=${dir}`;
  let databases = 0;
  let removing: Promise<void> | undefined;
  const query = async <R>(database: string, sql: string, params: unknown[] = []) => {
    const client = new Client({ ...parseIntoClientConfig(url(database)), password });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as R[];
    } finally {
      await client.end();
    }
  };
  const stop = async () => {
    if (server) await stopServer(server);
    server = undefined;
  };
  const remove = () => {
    removing ??= (async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    })();
    return removing;
  };
  return {
    dir,
    user,
    password,
    get pid() {
      return server?.pid;
    },
    url,
    async newDatabase() {
      const name = `catalog_${++databases}`;
      await query("postgres", `CREATE DATABASE ${name}`);
      return url(name);
    },
    query,
    stop,
    async start() {
      server ??= await startServer(bin, dir, account);
    },
    remove,
    [Symbol.asyncDispose]: remove,
  };
}
