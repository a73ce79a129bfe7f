// A ProgressEvent decoder written out field by field. A coordinator hears a progress event
// per running task every second (10,000 a second at 10,000 tasks), on the thread that
// answers the API; the reflective fromBinary cost several times as much per event. Skips
// unknown fields as fromBinary would (they are not kept), throws on a known field of the
// wrong wire type. progress-decoder.test.ts checks it against fromBinary and against
// the schema's fields, so a field added to ProgressEvent fails the test until decoded here.

import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Phase, ProgressEvent } from "../gen/ferry/v1/backup_pb.js";

/** The ProgressEvent fields this decoder reads, by number (checked against the schema). */
export const DECODED_PROGRESS_FIELDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] as const;

/** Decodes a ProgressEvent from protobuf binary; throws an Error on malformed input. */
export function decodeProgressEvent(bytes: Uint8Array): ProgressEvent {
  const r = new BinaryReader(bytes);
  const e: ProgressEvent = {
    $typeName: "ferry.v1.ProgressEvent",
    taskId: "",
    jobId: "",
    vmId: "",
    phase: 0 as Phase,
    bytesTotal: 0n,
    bytesRead: 0n,
    bytesNew: 0n,
    bytesDeduplicated: 0n,
    rateBytesPerSec: 0n,
    etaSeconds: 0n,
    readRateLimit: 0n,
  };
  const u64 = () => BigInt(r.uint64());
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    const want = (type: WireType) => {
      if (wt !== type) throw new Error(`field ${no} has wire type ${wt}, not ${type}`);
    };
    switch (no) {
      case 1:
        want(WireType.LengthDelimited);
        e.taskId = r.string();
        break;
      case 2:
        want(WireType.LengthDelimited);
        e.jobId = r.string();
        break;
      case 3:
        want(WireType.LengthDelimited);
        e.vmId = r.string();
        break;
      case 4:
        want(WireType.Varint);
        e.phase = r.int32() as Phase;
        break;
      case 5:
        want(WireType.Varint);
        e.bytesTotal = u64();
        break;
      case 6:
        want(WireType.Varint);
        e.bytesRead = u64();
        break;
      case 7:
        want(WireType.Varint);
        e.bytesNew = u64();
        break;
      case 8:
        want(WireType.Varint);
        e.bytesDeduplicated = u64();
        break;
      case 9:
        want(WireType.Varint);
        e.rateBytesPerSec = u64();
        break;
      case 10:
        want(WireType.Varint);
        e.etaSeconds = u64();
        break;
      case 11:
        want(WireType.LengthDelimited);
        e.at = timestamp(r, r.uint32(), e.at);
        break;
      case 12:
        want(WireType.Varint);
        e.readRateLimit = u64();
        break;
      default:
        r.skip(wt, no);
    }
  }
  return e;
}

// A Timestamp of `length` bytes; a second occurrence merges into the first, as protobuf does.
function timestamp(r: BinaryReader, length: number, into: Timestamp | undefined): Timestamp {
  const t: Timestamp = into ?? { $typeName: "google.protobuf.Timestamp", seconds: 0n, nanos: 0 };
  const end = r.pos + length;
  if (end > r.len) throw new Error("a timestamp runs past the end of the event");
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.Varint) t.seconds = BigInt(r.int64());
    else if (no === 2 && wt === WireType.Varint) t.nanos = r.int32();
    else r.skip(wt, no);
  }
  if (r.pos !== end) throw new Error("a timestamp's fields overrun its length");
  return t;
}
