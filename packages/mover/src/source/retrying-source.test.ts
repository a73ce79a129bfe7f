import { FerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import type { BlockSource } from "./block-source.js";
import { withReadRetries } from "./retrying-source.js";

function flaky(failures: number, error: () => FerryError): BlockSource & { reads: number } {
  const source = {
    reads: 0,
    capabilities: {
      sizeBytes: 4096,
      allocationMap: false,
      dirtyBitmaps: [],
      preferredRequestBytes: 4096,
      maxRequestBytes: 4096,
      maxInFlight: 1,
    },
    async read(_offset: number, lengthBytes: number) {
      source.reads++;
      if (source.reads <= failures) throw error();
      return new Uint8Array(lengthBytes).fill(7);
    },
    extents: async () => [],
    dirtyExtents: async () => [],
    close: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
  return source;
}

const eio = () =>
  new FerryError("UNAVAILABLE", "NBD read failed: EIO (input/output error)", {
    details: { nbdErrno: 5 },
  });

describe("reads retried on retryable errors", () => {
  it("recovers from transient errors", async () => {
    const source = flaky(2, eio);
    const read = await withReadRetries(source, { firstDelayMs: 1 }).read(0, 16);
    expect(read).toEqual(new Uint8Array(16).fill(7));
    expect(source.reads).toBe(3);
  });

  it("fails after its attempts, naming the count and the cause", async () => {
    const source = flaky(10, eio);
    const err = (await withReadRetries(source, { attempts: 4, firstDelayMs: 1 })
      .read(4096, 16)
      .catch((e: unknown) => e)) as FerryError;
    expect(source.reads).toBe(4);
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toBe(
      "read of [4096, +16) failed 4 times: NBD read failed: EIO (input/output error)",
    );
  });

  it("does not retry what no retry can mend", async () => {
    const source = flaky(10, () => new FerryError("INVALID_ARGUMENT", "bad range"));
    await expect(withReadRetries(source, { firstDelayMs: 1 }).read(0, 16)).rejects.toThrow(
      /^bad range$/,
    );
    expect(source.reads).toBe(1);
  });
});
