import type {
  JobRecord,
  JobStateName,
  MoverRecord,
  PolicyRecord,
  RestorePointRecord,
  TaskCounts,
  TaskRecord,
  TaskStateName,
} from "./records.js";

// The catalog as the coordinator sees it. Async so a networked store (PostgreSQL) can
// implement it; every implementation must pass `catalogContract` in
// catalog-store.contract.test-helper.ts. Records are validated on write (INVALID_ARGUMENT)
// and returned as fresh objects the caller may mutate.

/** Backup policies. */
export interface PolicyStore {
  /** ALREADY_EXISTS when the id or the name is taken. */
  create(policy: PolicyRecord): Promise<void>;
  get(id: string): Promise<PolicyRecord | undefined>;
  getByName(name: string): Promise<PolicyRecord | undefined>;
  /** All policies, by name. */
  list(): Promise<PolicyRecord[]>;
  /** False when there was no such policy. The policy's jobs stay, with `policyId` null. */
  delete(id: string): Promise<boolean>;
}

/** Options of {@link JobStore.list}. */
export interface JobListOptions {
  /** Most jobs returned, a non-negative integer; all when absent. */
  limit?: number;
  /** Only jobs in these states; an empty list matches nothing. */
  states?: JobStateName[];
}

/** Jobs; their tasks are created with them. */
export interface JobStore {
  /**
   * Creates a job and its tasks in one transaction: all or nothing. Every task's `jobId`
   * must be `job.id` (INVALID_ARGUMENT); ALREADY_EXISTS when the job id or a task id is taken;
   * NOT_FOUND when `policyId` names no policy.
   */
  create(job: JobRecord, tasks: TaskRecord[]): Promise<void>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Newest first by `createdAt`; equal times in reverse order of creation. */
  list(options?: JobListOptions): Promise<JobRecord[]>;
  /** Sets the given fields (null clears a nullable one). NOT_FOUND when missing. */
  update(id: string, patch: Partial<Omit<JobRecord, "id">>): Promise<void>;
}

/** Options of {@link TaskStore.pageByJob}. */
export interface TaskPageOptions {
  /** Only tasks after this one: a previous page's `next`. From the job's first task when absent. */
  after?: number;
  /** Most tasks returned, a positive integer. */
  limit: number;
  /** Only tasks in these states; every state when absent; an empty list matches nothing. */
  states?: TaskStateName[];
}

/** One page of a job's tasks. */
export interface TaskPage {
  /** In the order they were given to `jobs.create`. */
  tasks: TaskRecord[];
  /** The `after` that reads the next page; absent when no matching task follows. */
  next?: number;
}

/** Tasks of jobs. */
export interface TaskStore {
  get(id: string): Promise<TaskRecord | undefined>;
  /** A job's tasks in the order they were given to `jobs.create`. */
  listByJob(jobId: string): Promise<TaskRecord[]>;
  /**
   * Part of a job's tasks in the order of `listByJob`, read by position: however large the
   * job, a page costs its own size. Paging on with `next` returns each task once.
   */
  pageByJob(jobId: string, options: TaskPageOptions): Promise<TaskPage>;
  /** How many of a job's tasks are in each state (every state named; all 0 for no such job). */
  countByJob(jobId: string): Promise<TaskCounts>;
  /** Tasks in these states, oldest job first, then in job order; an empty list matches nothing. */
  listByState(states: TaskStateName[]): Promise<TaskRecord[]>;
  /** Sets the given fields (null clears a nullable one). NOT_FOUND when missing. */
  update(id: string, patch: Partial<Omit<TaskRecord, "id" | "jobId">>): Promise<void>;
}

/** Options of {@link RestorePointStore.list}. */
export interface RestorePointListOptions {
  vmId?: string;
  repository?: string;
}

/** Outcome of {@link RestorePointStore.replaceForRepository}. */
export interface ReplaceResult {
  /** Restore points the repository has that the catalog did not. */
  added: number;
  /** Restore points the catalog had that the repository no longer has. */
  removed: number;
}

/** The catalogued restore points: a cache of what the repositories hold. */
export interface RestorePointStore {
  /**
   * Inserts or replaces by id. ALREADY_EXISTS when the id is catalogued for another
   * repository (an id belongs to one repository).
   */
  upsert(restorePoint: RestorePointRecord): Promise<void>;
  get(id: string): Promise<RestorePointRecord | undefined>;
  /** By `vmId`, then `createdAt`, then `id`. */
  list(options?: RestorePointListOptions): Promise<RestorePointRecord[]>;
  /**
   * Ids of the movers that wrote restore points into `repository`, each once, in no
   * particular order. Reads an index, not the repository's restore points: fast however
   * many there are.
   */
  moverIds(repository: string): Promise<string[]>;
  /**
   * Each VM's newest restore point (the greatest id among equally new ones), in no particular
   * order: found through the (vm, time) index, not by reading every restore point (the
   * protection report and the metrics ask for it).
   */
  latestPerVm(): Promise<RestorePointRecord[]>;
  /** False when there was no such restore point. */
  delete(id: string): Promise<boolean>;
  /**
   * Makes the repository's catalogued restore points exactly `restorePoints`, in one
   * transaction (the catalog rebuilt from a repository scan); other repositories are untouched.
   * INVALID_ARGUMENT when one names another repository or an id repeats; ALREADY_EXISTS when
   * an id is catalogued for another repository. Nothing changes on error.
   */
  replaceForRepository(
    repository: string,
    restorePoints: RestorePointRecord[],
  ): Promise<ReplaceResult>;
}

/** Movers as last registered. */
export interface MoverStore {
  /** Inserts or replaces by id. */
  upsert(mover: MoverRecord): Promise<void>;
  /** By id. */
  list(): Promise<MoverRecord[]>;
}

/**
 * The coordinator's durable state. Errors are FerryErrors: INVALID_ARGUMENT, NOT_FOUND,
 * ALREADY_EXISTS as documented per method; UNAVAILABLE (retryable) when the database is busy
 * or unreachable; NO_SPACE; CORRUPT_DATA when stored data cannot be read back;
 * FAILED_PRECONDITION after `close`.
 */
/** Who holds the coordinators' leader lease. */
export interface LeaseHolder {
  /** The coordinator process (its id and a per-process nonce: a restart is a new holder). */
  holder: string;
  /** Where operators and movers reach it. */
  address: string;
}

/** The lease's state as one coordinator sees it after trying to take or keep it. */
export type LeaseState =
  | {
      held: true;
      /** Grows with every new holder: movers refuse commands with an older one (fencing). */
      token: bigint;
    }
  | { held: false; leader?: LeaseHolder };

/**
 * The coordinators' leader lease, kept in the shared catalog with the database's clock: at
 * most one holder at a time, each new holder with a larger fencing token.
 */
export interface LeaseStore {
  /** Takes the lease if it is free or expired, or renews it if `me` holds it, for `ttlMs`. */
  acquire(me: LeaseHolder, ttlMs: number): Promise<LeaseState>;
  /** Gives the lease up if `me` holds it, so a follower takes over at once. */
  release(me: LeaseHolder): Promise<void>;
}

export interface CatalogStore extends AsyncDisposable {
  readonly policies: PolicyStore;
  readonly jobs: JobStore;
  readonly tasks: TaskStore;
  readonly restorePoints: RestorePointStore;
  readonly movers: MoverStore;
  /** The leader lease; only a catalog several coordinators share (PostgreSQL) has one. */
  readonly lease?: LeaseStore;
  /** Closes the database. Idempotent; later calls of other methods fail with FAILED_PRECONDITION. */
  close(): Promise<void>;
}
