import { describe, expect, it } from "vitest";
import { dataRuns } from "./data-runs.js";

describe("data runs of a chunk", () => {
  it("finds data around holes that start and end inside the chunk, block by block", () => {
    const data = Buffer.alloc(64 * 1024);
    data[5] = 1; // block 0
    data.fill(7, 3 * 4096 + 100, 5 * 4096 - 1); // blocks 3 and 4
    data[64 * 1024 - 1] = 9; // the last block
    expect(dataRuns(data)).toEqual([
      { offset: 0, lengthBytes: 4096 },
      { offset: 3 * 4096, lengthBytes: 2 * 4096 },
      { offset: 15 * 4096, lengthBytes: 4096 },
    ]);
  });

  it("gives one run for data without a zero block, none for zeros, and ends at a short tail", () => {
    expect(dataRuns(Buffer.alloc(8192, 3))).toEqual([{ offset: 0, lengthBytes: 8192 }]);
    expect(dataRuns(Buffer.alloc(8192))).toEqual([]);
    const tail = Buffer.alloc(4096 + 10);
    tail[4096 + 9] = 1;
    expect(dataRuns(tail)).toEqual([{ offset: 4096, lengthBytes: 10 }]);
  });
});
