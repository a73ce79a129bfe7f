import type { Extent } from "../source/block-source.js";

/** One chunk of a disk and the parts of it that hold data. */
export interface ChunkPlan {
  index: number;
  offset: number;
  lengthBytes: number;
  /** Data ranges inside the chunk (absolute offsets); empty = the chunk is all zeros. */
  data: Extent[];
}

/**
 * Cuts a disk of `sizeBytes` into fixed chunks and assigns each the data
 * extents that overlap it. Pure: extents must be in order and may have gaps
 * (a gap counts as zero).
 */
export function planChunks(
  sizeBytes: number,
  chunkSizeBytes: number,
  extents: readonly Extent[],
): ChunkPlan[] {
  const plans: ChunkPlan[] = [];
  const data = extents.filter((e) => !e.zero && e.lengthBytes > 0);
  let e = 0;
  for (let index = 0, offset = 0; offset < sizeBytes; index++, offset += chunkSizeBytes) {
    const end = Math.min(sizeBytes, offset + chunkSizeBytes);
    const plan: ChunkPlan = { index, offset, lengthBytes: end - offset, data: [] };
    while (
      e < data.length &&
      (data[e] as Extent).offset + (data[e] as Extent).lengthBytes <= offset
    )
      e++;
    for (let k = e; k < data.length; k++) {
      const x = data[k] as Extent;
      if (x.offset >= end) break;
      const from = Math.max(offset, x.offset);
      const to = Math.min(end, x.offset + x.lengthBytes);
      if (to > from) plan.data.push({ offset: from, lengthBytes: to - from, zero: false });
    }
    plans.push(plan);
  }
  return plans;
}
