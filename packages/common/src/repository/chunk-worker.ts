// Entry of a chunk worker thread (started by chunk-work-pool.ts): runs each job it is sent
// and answers with its result or its error, in order.
import { parentPort } from "node:worker_threads";
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
export interface JobErrorInfo {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

parentPort?.on("message", (request: WorkerRequest) => {
  let reply: WorkerReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const result = runChunkJob(request.job);
    // Memory handed over goes back with the answer: this thread keeps no reference to it.
    transfer = transferOf(request.job, result);
    reply = { id: request.id, ok: true, result };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const { code, details } = e as { code?: unknown; details?: unknown };
    reply = {
      id: request.id,
      ok: false,
      error: {
        name: e.name,
        message: e.message,
        ...(typeof code === "string" ? { code } : {}),
        ...(details && typeof details === "object"
          ? { details: details as Record<string, unknown> }
          : {}),
      },
    };
  }
  parentPort?.postMessage(reply, transfer);
});
