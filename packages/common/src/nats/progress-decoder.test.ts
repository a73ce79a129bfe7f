import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProgressEventSchema } from "../gen/ferry/v1/backup_pb.js";
import { DECODED_PROGRESS_FIELDS, decodeProgressEvent } from "./progress-decoder.js";

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

describe("the ProgressEvent decoder", () => {
  it("decodes every field ProgressEvent has", () => {
    expect(ProgressEventSchema.fields.map((f) => f.number).sort((a, b) => a - b)).toEqual([
      ...DECODED_PROGRESS_FIELDS,
    ]);
  });

  it("reads what fromBinary reads", () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            taskId: fc.string(),
            jobId: fc.string(),
            vmId: fc.string({ unit: "grapheme" }),
            phase: fc.integer({ min: 0, max: 7 }),
            bytesTotal: u64,
            bytesRead: u64,
            bytesNew: u64,
            bytesDeduplicated: u64,
            rateBytesPerSec: u64,
            etaSeconds: u64,
            readRateLimit: u64,
            at: fc.record({
              seconds: fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
              nanos: fc.integer({ min: 0, max: 999_999_999 }),
            }),
          },
          { requiredKeys: [] },
        ),
        (init) => {
          const bytes = toBinary(ProgressEventSchema, create(ProgressEventSchema, init));
          const expected = fromBinary(ProgressEventSchema, bytes, { readUnknownFields: false });
          expect(decodeProgressEvent(bytes)).toEqual(expected);
        },
      ),
    );
  });

  it("skips unknown fields and refuses a known field of the wrong wire type", () => {
    const w = new BinaryWriter();
    w.tag(1, WireType.LengthDelimited).string("t1");
    w.tag(99, WireType.Varint).uint64(7n);
    w.tag(98, WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3]));
    w.tag(5, WireType.Varint).uint64(42n);
    expect(decodeProgressEvent(w.finish())).toMatchObject({ taskId: "t1", bytesTotal: 42n });
    const bad = new BinaryWriter().tag(5, WireType.LengthDelimited).string("x").finish();
    expect(() => decodeProgressEvent(bad)).toThrow(/wire type/);
    expect(() => decodeProgressEvent(new Uint8Array([0x0a, 0x05, 0x61]))).toThrow();
  });
});
