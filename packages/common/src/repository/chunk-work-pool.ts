// Threads, one per core, that name, encode and decode chunks (chunk-jobs.ts) off the main
// thread: worker threads, and for naming and encoding (backups) the native chunk threads
// (chunk-threads.ts), which cost no JavaScript per job. Jobs pass views of shared memory
// (SharedArrayBuffer): no chunk is copied between threads. A worker that dies fails only the
// jobs it held, and is replaced.
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { FerryError } from "../errors/ferry-error.js";
import { errorFromThread } from "../errors/thread-errors.js";
import { chunkWorkerNice } from "../util/thread-priority.js";
import type {
  ChunkJob,
  DecodeJob,
  DecodeResult,
  EncodeJob,
  EncodeResult,
  HashJob,
  HashResult,
} from "./chunk-jobs.js";
import { type ChunkThreads, chunkThreads } from "./chunk-threads.js";
import type { JobErrorInfo, WorkerReply, WorkerRequest } from "./chunk-worker.js";

/** The process's chunk workers. */
export interface ChunkWorkPool {
  /** Worker threads (the machine's cores). */
  readonly size: number;
  hash(job: Omit<HashJob, "t">): Promise<HashResult>;
  encode(job: Omit<EncodeJob, "t">): Promise<EncodeResult>;
  /**
   * Decodes a chunk file in shared memory (changed in place when sealed), or in memory of its
   * own (a whole ArrayBuffer) which the job takes over: the caller must not use it afterwards.
   */
  decode(job: Omit<DecodeJob, "t">): Promise<DecodeResult>;
  /**
   * Starts every worker now rather than at the first job: each takes tens of milliseconds to
   * load, time a command can spend waiting anyway (opening a key, connecting a source).
   */
  warm(): void;
  /** Stops every worker; jobs still held fail. Idempotent. */
  close(): Promise<void>;
}

/** True when `data` lives in shared memory, so a worker can use it without a copy. */
export function isShared(data: Uint8Array): boolean {
  return data.buffer instanceof SharedArrayBuffer;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

// Compiled beside this file; tests that run the TypeScript sources use the build's.
function workerFile(): URL {
  const here = new URL("./chunk-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL("../../dist/repository/chunk-worker.js", import.meta.url);
}

class Pool implements ChunkWorkPool {
  readonly #slots: Slot[] = [];
  #nextId = 1;
  #closed = false;

  constructor(
    readonly size: number,
    readonly script: { url: URL } | { code: string },
    readonly nice: number | undefined,
  ) {}

  hash(job: Omit<HashJob, "t">): Promise<HashResult> {
    return this.#run({ t: "hash", ...job }) as Promise<HashResult>;
  }

  encode(job: Omit<EncodeJob, "t">): Promise<EncodeResult> {
    return this.#run({ t: "encode", ...job }) as Promise<EncodeResult>;
  }

  decode(job: Omit<DecodeJob, "t">): Promise<DecodeResult> {
    const { file } = job;
    if (isShared(file)) return this.#run({ t: "decode", ...job }) as Promise<DecodeResult>;
    if (file.byteOffset !== 0 || file.byteLength !== file.buffer.byteLength)
      return Promise.reject(
        new FerryError("INVALID_ARGUMENT", "a chunk file to decode must own its memory"),
      );
    return this.#run({ t: "decode", ...job }, [
      file.buffer as ArrayBuffer,
    ]) as Promise<DecodeResult>;
  }

  #run(job: ChunkJob, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.#closed) return Promise.reject(new FerryError("UNAVAILABLE", "chunk workers stopped"));
    const slot = this.#leastBusy();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      // Held jobs keep the process alive; an idle pool does not.
      if (slot.pending.size === 1) slot.worker.ref();
      const request: WorkerRequest = { id, job };
      slot.worker.postMessage(request, transfer);
    });
  }

  warm(): void {
    if (this.#closed) return;
    while (this.#slots.length < this.size) this.#slots.push(this.#start());
  }

  #leastBusy(): Slot {
    this.warm();
    let best = this.#slots[0] as Slot;
    for (const s of this.#slots) if (s.pending.size < best.pending.size) best = s;
    return best;
  }

  #start(): Slot {
    // The parent's flags, but for those only its own entry can take (node -e with a type)
    // and process-wide V8 ones a worker refuses (perf's symbol maps: they cover workers too).
    const execArgv = process.execArgv.filter(
      (a) => !a.startsWith("--input-type") && !a.startsWith("--perf-"),
    );
    const worker =
      "url" in this.script
        ? new Worker(this.script.url, { execArgv, workerData: { nice: this.nice } })
        : new Worker(this.script.code, { eval: true, execArgv, workerData: { nice: this.nice } });
    const slot: Slot = { worker, pending: new Map() };
    worker.on("message", (reply: WorkerReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if (reply.ok) p.resolve(reply.result);
      else p.reject(jobError(reply.error));
    });
    const fail = (cause: string) => {
      const at = this.#slots.indexOf(slot);
      if (at >= 0) this.#slots.splice(at, 1);
      for (const p of slot.pending.values())
        p.reject(new FerryError("INTERNAL", `a chunk worker ${cause}; its chunk failed`));
      slot.pending.clear();
    };
    worker.on("error", (err) => fail(`failed: ${err.message}`));
    worker.on("exit", (code) => fail(`exited (code ${code})`));
    // After the listeners: adding a "message" listener refs the worker's port again.
    worker.unref();
    return slot;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

/** A job's error, as the worker reported it: a Ferry code stays a Ferry code. */
function jobError(e: JobErrorInfo): Error {
  return errorFromThread(e, "a chunk worker");
}

/** Options of {@link createChunkWorkPool}. */
export interface ChunkWorkPoolOptions {
  /** Worker threads; default the machine's cores. */
  size?: number;
  /** The worker's code (CommonJS) instead of chunk-worker.js: for tests of the pool itself. */
  workerCode?: string;
  /** The workers' nice value (thread-priority.ts); default the process's own priority. */
  nice?: number;
}

/** A pool of workers, each started on first use. */
export function createChunkWorkPool(o: ChunkWorkPoolOptions = {}): ChunkWorkPool {
  return new Pool(
    Math.max(1, o.size ?? availableParallelism()),
    o.workerCode === undefined ? { url: workerFile() } : { code: o.workerCode },
    o.nice,
  );
}

/**
 * Hash and encode jobs on the native chunk threads (chunk-threads.ts); decodes on worker
 * threads, started only when one comes.
 */
class ThreadsFirst implements ChunkWorkPool {
  readonly #threads: () => ChunkThreads;
  readonly #workers: ChunkWorkPool;

  constructor(threads: () => ChunkThreads, workers: ChunkWorkPool) {
    let started: ChunkThreads | undefined;
    this.#threads = () => {
      started ??= threads();
      return started;
    };
    this.#workers = workers;
  }

  get size(): number {
    return this.#workers.size;
  }

  // async: the threads' first start may throw (an addon not built), and that must reject.
  async hash(job: Omit<HashJob, "t">): Promise<HashResult> {
    return this.#threads().hash(job);
  }

  async encode(job: Omit<EncodeJob, "t">): Promise<EncodeResult> {
    return this.#threads().encode(job);
  }

  decode(job: Omit<DecodeJob, "t">): Promise<DecodeResult> {
    return this.#workers.decode(job);
  }

  /** The native threads start in microseconds; workers wait for a job of theirs. */
  warm(): void {
    this.#threads();
  }

  close(): Promise<void> {
    return this.#workers.close();
  }
}

/** Options of {@link createChunkThreadsPool}. */
export interface ChunkThreadsPoolOptions {
  /** Threads (native and workers alike); default the machine's cores. */
  size?: number;
  /** Their nice value (thread-priority.ts); default the process's own priority. */
  nice?: number;
}

/**
 * A pool that names and encodes chunks on the native chunk threads, which are the process's
 * (this environment's): the first pool made sets their count and priority.
 */
export function createChunkThreadsPool(o: ChunkThreadsPoolOptions = {}): ChunkWorkPool {
  const workers = createChunkWorkPool(o);
  return new ThreadsFirst(() => chunkThreads(workers.size, o.nice), workers);
}

let writing: ChunkWorkPool | undefined;
let reading: ChunkWorkPool | undefined;

/**
 * The process's pool for naming and encoding chunks (backups): at the lowest CPU priority,
 * so the threads that drive I/O and the host's VMs go first (thread-priority.ts).
 */
export function chunkWorkPool(): ChunkWorkPool {
  writing ??= createChunkThreadsPool({ nice: chunkWorkerNice() });
  return writing;
}

/**
 * The process's pool for decoding chunks (restores, verify, the reads of a VM running from
 * its restore point): at normal priority, since a recovered VM's disk reads wait on it.
 */
export function readWorkPool(): ChunkWorkPool {
  reading ??= createChunkWorkPool();
  return reading;
}

/** Starts the workers of a pool ahead of their first job (see ChunkWorkPool.warm). */
export function warmChunkWorkers(pool: "write" | "read" = "write"): void {
  (pool === "write" ? chunkWorkPool() : readWorkPool()).warm();
}
