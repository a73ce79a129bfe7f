import type { BlockSource } from "./block-source.js";
import type { ReadRateLimit } from "./read-rate-limit.js";

/** `source` with every read waiting for `limit` first (backup I/O control). */
export function withReadRateLimit(source: BlockSource, limit: ReadRateLimit): BlockSource {
  return {
    capabilities: source.capabilities,
    async read(offset, lengthBytes, signal, into) {
      await limit.take(lengthBytes, signal);
      return source.read(offset, lengthBytes, signal, into);
    },
    extents: (offset, lengthBytes, signal) => source.extents(offset, lengthBytes, signal),
    dirtyExtents: (bitmap, offset, lengthBytes, signal) =>
      source.dirtyExtents(bitmap, offset, lengthBytes, signal),
    close: () => source.close(),
    [Symbol.asyncDispose]: () => source.close(),
  };
}
