// Where a chunk's data is not zero, in whole blocks: a restore writes those and leaves the
// rest of a new image as holes, as sparse as the disk it came from (a chunk of a real disk
// often holds data around a hole that starts or ends inside it).

/** A range of a chunk, bytes from its start. */
export interface DataRun {
  offset: number;
  lengthBytes: number;
}

// The filesystem block: holes are made in whole blocks.
const BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

/** The runs of `data` holding a byte that is not zero, block by block, in order. */
export function dataRuns(data: Uint8Array): DataRun[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const runs: DataRun[] = [];
  let start = -1;
  for (let at = 0; at < buf.length; at += BLOCK) {
    const n = Math.min(BLOCK, buf.length - at);
    const zero = ZERO_BLOCK.compare(buf, at, at + n, 0, n) === 0;
    if (!zero && start < 0) start = at;
    if (zero && start >= 0) {
      runs.push({ offset: start, lengthBytes: at - start });
      start = -1;
    }
  }
  if (start >= 0) runs.push({ offset: start, lengthBytes: buf.length - start });
  return runs;
}
