import { statSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { dirname } from "node:path";
import { FerryError } from "@ferry/common";
import Database from "better-sqlite3";
import type {
  CatalogStore,
  JobStore,
  MoverStore,
  PolicyStore,
  RestorePointStore,
  TaskStore,
} from "../catalog-store.js";
import { createJobTable } from "./job-table.js";
import { applyMigrations } from "./migrations.js";
import { createMoverTable } from "./mover-table.js";
import { createPolicyTable } from "./policy-table.js";
import { createRestorePointTable } from "./restore-point-table.js";
import type { SqliteContext, Sync } from "./sqlite-context.js";
import { toCatalogError } from "./sqlite-errors.js";
import { createTaskTable } from "./task-table.js";

/** Options of {@link openSqliteCatalog}. */
export interface SqliteCatalogOptions {
  /**
   * The database file, created when missing; its directory must exist and be on a local
   * filesystem (WAL needs shared memory). ":memory:" gives a private in-memory catalog.
   */
  path: string;
  /** How long a statement waits for another connection's lock before UNAVAILABLE, ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) a SQLite catalog in WAL mode with foreign keys on and applies
 * pending schema migrations. FAILED_PRECONDITION when the directory is missing, WAL is refused
 * or the schema is newer than this Ferry; CORRUPT_DATA when the file is not a database.
 * Statements run synchronously on the calling thread; the methods return promises so callers
 * are ready for a networked store.
 */
export async function openSqliteCatalog(options: SqliteCatalogOptions): Promise<CatalogStore> {
  const db = openDatabase(options);
  try {
    return new SqliteCatalog({ db, file: options.path });
  } catch (err) {
    // Preparing the statements failed: the schema is not what the migrations made.
    db.close();
    throw toCatalogError(err, options.path, "open");
  }
}

function openDatabase({ path, busyTimeoutMs = 5000 }: SqliteCatalogOptions): Database.Database {
  const inMemory = path === ":memory:";
  // "" would be an anonymous temporary file: almost certainly a configuration mistake.
  if (typeof path !== "string" || path === "") {
    throw new FerryError("INVALID_ARGUMENT", "catalog path must be a file name or :memory:");
  }
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new FerryError(
      "INVALID_ARGUMENT",
      `catalog busyTimeoutMs ${busyTimeoutMs} must be a non-negative integer`,
    );
  }
  if (!inMemory) checkDirectory(path);
  let db: Database.Database;
  try {
    // `timeout` is SQLite's busy_timeout, set before the first statement so opening waits too.
    db = new Database(path, { timeout: busyTimeoutMs });
  } catch (err) {
    throw toCatalogError(err, path, "open");
  }
  try {
    // Off by default per connection, and needed for ON DELETE SET NULL / CASCADE.
    db.pragma("foreign_keys = ON");
    // Readers (the operator API) do not block the writer (the dispatcher), and vice versa.
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (!inMemory && mode !== "wal") {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `catalog ${path}: SQLite refused WAL journal mode (kept ${String(mode)}); put the catalog on a local filesystem`,
      );
    }
    // A commit does not wait for the disk on this thread (the API's): SqliteCatalog fsyncs
    // the WAL on libuv's pool and settles a write only after that, so a finished job still
    // survives a power cut. Migrations keep FULL: they run before anything else anyway.
    applyMigrations(db, path);
    if (!inMemory) db.pragma("synchronous = NORMAL");
    return db;
  } catch (err) {
    db.close();
    throw toCatalogError(err, path, "open");
  }
}

// better-sqlite3 reports a missing directory as a TypeError without a code.
function checkDirectory(path: string): void {
  const dir = dirname(path);
  let isDirectory = false;
  try {
    isDirectory = statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch (err) {
    throw new FerryError("FAILED_PRECONDITION", `catalog ${path}: cannot use directory ${dir}`, {
      cause: err,
    });
  }
  if (!isDirectory) {
    throw new FerryError("FAILED_PRECONDITION", `catalog ${path}: directory ${dir} does not exist`);
  }
}

// Methods that write: they are committed in groups (see SqliteCatalog).
const WRITES = new Set(["create", "update", "upsert", "delete", "replaceForRepository"]);

interface PendingWrite {
  action: string;
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * The CatalogStore over one better-sqlite3 connection. Writes asked for in one turn of the
 * event loop commit together, each in its own savepoint (one failing leaves the others). A
 * commit (`synchronous = NORMAL`) does not fsync on the event loop's thread: the WAL file is
 * fsynced on libuv's thread pool afterwards, one fsync covering every batch committed before
 * it, and each write's promise settles only then, so what a caller saw succeed is on disk
 * (the durability of `synchronous = FULL`, without holding the API in fsync). A read first
 * commits the writes asked for before it, so every caller reads what it wrote. A batch that
 * cannot commit (another connection holding the lock past busyTimeoutMs) commits nothing;
 * its writes are then tried one by one.
 */
class SqliteCatalog implements CatalogStore {
  readonly policies: PolicyStore;
  readonly jobs: JobStore;
  readonly tasks: TaskStore;
  readonly restorePoints: RestorePointStore;
  readonly movers: MoverStore;
  #closed = false;
  readonly #ctx: SqliteContext;
  #pending: PendingWrite[] = [];
  #flushScheduled = false;
  readonly #inTransaction: (fn: () => void) => void;
  readonly #inSavepoint: (fn: () => unknown) => unknown;
  // The fsync under way, and the one queued behind it for batches committed meanwhile.
  #syncing: Promise<void> | undefined;
  #syncQueued: Promise<void> | undefined;
  #wal: { file: FileHandle; ino: number } | undefined;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
    // Called inside a transaction, a better-sqlite3 transaction function is a savepoint.
    this.#inTransaction = ctx.db.transaction((fn: () => void) => fn());
    this.#inSavepoint = ctx.db.transaction((fn: () => unknown) => fn());
    this.policies = this.#async<PolicyStore>("policies", createPolicyTable(ctx));
    this.jobs = this.#async<JobStore>("jobs", createJobTable(ctx));
    this.tasks = this.#async<TaskStore>("tasks", createTaskTable(ctx));
    this.restorePoints = this.#async<RestorePointStore>(
      "restorePoints",
      createRestorePointTable(ctx),
    );
    this.movers = this.#async<MoverStore>("movers", createMoverTable(ctx));
  }

  /** Each method of `table` as an async method that refuses after close and maps errors. */
  #async<T>(name: string, table: Sync<T>): T {
    const methods = Object.entries(table as Record<string, (...args: unknown[]) => unknown>);
    return Object.fromEntries(
      methods.map(([method, fn]) => [
        method,
        async (...args: unknown[]) => {
          const action = `${name}.${method}`;
          if (this.#closed) {
            throw new FerryError(
              "FAILED_PRECONDITION",
              `catalog ${this.#ctx.file}: ${action} after close`,
            );
          }
          if (WRITES.has(method))
            return new Promise((resolve, reject) => {
              this.#pending.push({ action, run: () => fn(...args), resolve, reject });
              if (!this.#flushScheduled) {
                this.#flushScheduled = true;
                setImmediate(() => this.#flush());
              }
            });
          this.#flush();
          try {
            return fn(...args);
          } catch (err) {
            throw toCatalogError(err, this.#ctx.file, action);
          }
        },
      ]),
    ) as T;
  }

  /** Commits the pending writes; settles each one's promise once the commit is on disk. */
  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const mapped = (w: PendingWrite, err: unknown) => toCatalogError(err, this.#ctx.file, w.action);
    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = [];
    // Each write alone, in its own transaction: as writes went before batches.
    const oneByOne = () => {
      outcomes.length = 0;
      for (const w of batch) {
        try {
          outcomes.push({ ok: true, value: w.run() });
        } catch (err) {
          outcomes.push({ ok: false, err });
        }
      }
    };
    if (batch.length === 1) oneByOne();
    else {
      try {
        this.#inTransaction(() => {
          for (const w of batch) {
            try {
              outcomes.push({ ok: true, value: this.#inSavepoint(w.run) });
            } catch (err) {
              // Some errors (a full disk, I/O) roll the whole transaction back: none committed.
              if (!this.#ctx.db.inTransaction) throw err;
              outcomes.push({ ok: false, err });
            }
          }
        });
      } catch {
        // Nothing was committed (another connection held the lock too long, or the disk
        // failed): each write is tried on its own and fails, or not, on its own.
        oneByOne();
      }
    }
    const settle = (syncErr: unknown) =>
      batch.forEach((w, i) => {
        const o = outcomes[i];
        if (!o?.ok) w.reject(mapped(w, o?.err));
        else if (syncErr !== undefined) w.reject(this.#syncError(w.action, syncErr));
        else w.resolve(o.value);
      });
    // Failed writes changed nothing: only a batch with a success waits for the disk.
    if (!outcomes.some((o) => o.ok)) settle(undefined);
    else
      this.#synced().then(
        () => settle(undefined),
        (err: unknown) => settle(err),
      );
  }

  /** Resolves once everything committed so far is on disk (an fsync of the WAL file). */
  #synced(): Promise<void> {
    if (this.#ctx.file === ":memory:") return Promise.resolve();
    if (!this.#syncing) {
      this.#syncing = this.#fsyncWal().finally(() => {
        this.#syncing = undefined;
      });
      return this.#syncing;
    }
    // The fsync under way may have started before this commit: one more after it.
    this.#syncQueued ??= this.#syncing
      .catch(() => undefined)
      .then(() => {
        this.#syncQueued = undefined;
        return this.#synced();
      });
    return this.#syncQueued;
  }

  async #fsyncWal(): Promise<void> {
    const path = `${this.#ctx.file}-wal`;
    // No WAL: SQLite checkpointed it into the database (syncing both) and removed it.
    const ino = statSync(path, { throwIfNoEntry: false })?.ino;
    if (ino === undefined) return;
    if (this.#wal?.ino !== ino) {
      // Kept open between syncs; a WAL file SQLite replaced is opened again.
      const old = this.#wal;
      this.#wal = undefined;
      await old?.file.close();
      const file = await open(path, "r").catch((err: NodeJS.ErrnoException) => {
        // Removed since the stat: the last connection closed, and SQLite checkpointed it.
        if (err.code === "ENOENT") return undefined;
        throw err;
      });
      if (!file) return;
      this.#wal = { file, ino };
    }
    // What SQLite's own commit under FULL does (fdatasync): the frames, not the mtime.
    await this.#wal.file.datasync();
  }

  #syncError(action: string, err: unknown): FerryError {
    // Not retryable: the write is in the catalog, only its flush failed (as SQLite's own
    // failed fsync under FULL would leave it).
    return new FerryError(
      "INTERNAL",
      `catalog ${this.#ctx.file}: ${action} was committed but cannot be flushed to disk: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err, details: { file: this.#ctx.file } },
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#ctx.db.close();
    // Every write's promise settles before close resolves.
    await this.#syncQueued?.catch(() => undefined);
    await this.#syncing?.catch(() => undefined);
    await this.#wal?.file.close();
    this.#wal = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
