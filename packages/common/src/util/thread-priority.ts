// Bulk chunk work (hashing, compression) runs at the lowest CPU priority, so the mover's own
// I/O thread (and anything else in its scheduling group) goes first. Nice ranks threads
// within one CPU cgroup or autogroup only: VMs under libvirt's machine.slice or another
// systemd unit are not outranked by it (give the mover's unit a CPUWeight for that).
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
  // A typo must not raise priority (negative, blank) or crash a worker: anything else is 19.
  if (!/^\d{1,2}$/.test(set)) return 19;
  const n = Number(set);
  return Math.min(n, 19);
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
