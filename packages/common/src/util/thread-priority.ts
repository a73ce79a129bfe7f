// Bulk chunk work (hashing, compression) runs at the lowest CPU priority: on a busy host the
// threads that drive I/O (the mover's main thread, qemu-nbd) and the VMs themselves go first.
// With both cores busy hashing at normal priority, NBD reads fell from 1.9 to 1.1 GB/s; with
// the same load at nice 19 they kept 1.7 GB/s.
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";

/**
 * The nice value of chunk worker threads: lowest priority, or FERRY_CHUNK_WORKER_NICE (0-19)
 * where backups must compete with production on equal terms.
 */
export function chunkWorkerNice(env: NodeJS.ProcessEnv = process.env): number {
  const set = env.FERRY_CHUNK_WORKER_NICE;
  if (set === undefined || set === "") return 19;
  const n = Number(set);
  // A typo must not raise priority (negative) or crash a worker: out of range means 19.
  return Number.isInteger(n) && n >= 0 && n <= 19 ? n : 19;
}

/**
 * Sets the calling thread's nice value (Linux: setpriority on its thread id changes that
 * thread only). False where the thread id is not known (not Linux) or the change is refused.
 */
export function niceThisThread(nice: number): boolean {
  let tid: number;
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
  } catch {
    return false;
  }
  if (!Number.isInteger(tid) || tid <= 0) return false;
  try {
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
