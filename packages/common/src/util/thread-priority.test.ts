import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createChunkThreadsPool, createChunkWorkPool } from "../repository/chunk-work-pool.js";
import { chunkWorkerNice } from "./thread-priority.js";

/** Nice values of this process's threads, from /proc (field 19 of each task's stat). */
function threadNices(): number[] {
  return readdirSync("/proc/self/task").map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    // Fields after the command name, which may hold spaces: state is field 3, nice field 19.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[16]);
  });
}

/** The calling thread's nice value. */
function callingThreadNice(): number {
  const stat = readFileSync("/proc/thread-self/stat", "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

const count = (xs: number[], x: number) => xs.filter((n) => n === x).length;

describe("chunk worker priority", () => {
  it("runs a pool's workers at its nice value and leaves the other threads alone", async () => {
    const own = callingThreadNice();
    const before = count(threadNices(), 19);
    const pool = createChunkWorkPool({ size: 2, nice: 19 });
    try {
      // A job answered by each worker: both have started and set their priority.
      const data = Buffer.from(new SharedArrayBuffer(4096));
      await Promise.all([pool.hash({ data }), pool.hash({ data })]);
      expect(count(threadNices(), 19) - before).toBe(2);
      // The thread that made the pool keeps its priority.
      expect(callingThreadNice()).toBe(own);
    } finally {
      await pool.close();
    }
  });

  it("runs the native chunk threads at their nice value and leaves the other threads alone", () => {
    const own = callingThreadNice();
    const before = count(threadNices(), 19);
    // Started (and reniced) before warm() returns.
    createChunkThreadsPool({ size: 2, nice: 19 }).warm();
    expect(count(threadNices(), 19) - before).toBe(2);
    expect(callingThreadNice()).toBe(own);
  });

  it("takes FERRY_CHUNK_WORKER_NICE from 0 to 19, and 19 for anything else", () => {
    expect(chunkWorkerNice({})).toBe(19);
    expect(chunkWorkerNice({ FERRY_CHUNK_WORKER_NICE: "0" })).toBe(0);
    expect(chunkWorkerNice({ FERRY_CHUNK_WORKER_NICE: "5" })).toBe(5);
    for (const bad of ["-5", "20", "fast", "1.5", " ", "0x13", "1e1"])
      expect(chunkWorkerNice({ FERRY_CHUNK_WORKER_NICE: bad })).toBe(19);
  });
});
