// Entry of a chunk worker thread (started by chunk-work-pool.ts): runs each job it is sent
// and answers with its result or its error, in order.
import { parentPort, workerData } from "node:worker_threads";
import { errorToThread, type ThreadError } from "../errors/thread-errors.js";
import { niceThisThread } from "../util/thread-priority.js";
import { type ChunkJob, runChunkJob, transferOf } from "./chunk-jobs.js";

/** A job as the pool sends it. */
export interface WorkerRequest {
  id: number;
  job: ChunkJob;
}

/** A worker's answer to one request. */
export type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: JobErrorInfo };

/** An error as it crosses from a worker: a FerryError keeps its code and details. */
export type JobErrorInfo = ThreadError;

// The pool's priority (thread-priority.ts): the lowest for backups' chunk work.
const { nice } = (workerData ?? {}) as { nice?: number };
if (parentPort && nice !== undefined) niceThisThread(nice);

parentPort?.on("message", (request: WorkerRequest) => {
  let reply: WorkerReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const result = runChunkJob(request.job);
    // Memory handed over goes back with the answer: this thread keeps no reference to it.
    transfer = transferOf(request.job, result);
    reply = { id: request.id, ok: true, result };
  } catch (err) {
    reply = { id: request.id, ok: false, error: errorToThread(err) };
  }
  parentPort?.postMessage(reply, transfer);
});
