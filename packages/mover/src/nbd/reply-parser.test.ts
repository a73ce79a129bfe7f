import { type FerryError, isFerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import {
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOSPC,
  NBD_EPERM,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_NONE,
  NBD_STATE_HOLE,
  NBD_STATE_ZERO,
} from "./constants.js";
import {
  chunk,
  concat,
  dataChunk,
  errorChunk,
  holeChunk,
  pieces,
  simpleReply,
  statusChunk,
} from "./nbd-wire.test-helper.js";
import {
  createReplyParser,
  type NbdCommand,
  type ReplyEvent,
  type ReplyParser,
  type ReplyParserOptions,
} from "./reply-parser.js";

const DONE = NBD_REPLY_FLAG_DONE;
const CONTEXTS = new Map([
  ["base:allocation", 0],
  ["qemu:dirty-bitmap:b0", 5],
]);
const structured: ReplyParserOptions = { structuredReplies: true, metaContexts: CONTEXTS };

function fill(lengthBytes: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: lengthBytes }, (_, i) => (i * 7 + seed) & 0xff);
}

function parser(options: ReplyParserOptions, requests: [number, NbdCommand][]): ReplyParser {
  const p = createReplyParser(options);
  for (const [cookie, command] of requests) p.expect(cookie, command);
  return p;
}

function feed(p: ReplyParser, input: Uint8Array, split: "bytes" | { seed: number } | "whole") {
  const events: ReplyEvent[] = [];
  for (const piece of split === "whole" ? [input] : pieces(input, split)) {
    p.push(piece, (e) => events.push(e));
  }
  return events;
}

/**
 * Feeds `input` the way the socket does: where the parser offers a region, the next piece is
 * written into it in place (then announced), else pushed. Returns events and in-place bytes.
 */
function feedInPlace(p: ReplyParser, input: Uint8Array, seed: number) {
  const events: ReplyEvent[] = [];
  const sizes = pieces(input, { seed });
  let at = 0;
  let inPlace = 0;
  for (let i = 0; at < input.length; i++) {
    const want = sizes[i % sizes.length]?.length ?? 1;
    const region = p.region(1);
    const n = Math.min(want, input.length - at, region?.length ?? want);
    if (region) {
      region.set(input.subarray(at, at + n));
      p.pushedInPlace(n, (e) => events.push(e));
      inPlace += n;
    } else p.push(input.slice(at, at + n), (e) => events.push(e));
    at += n;
  }
  return { events, inPlace };
}

/** The error a stream fails with, fed a byte at a time. */
function violation(
  options: ReplyParserOptions,
  requests: [number, NbdCommand][],
  input: Uint8Array,
) {
  try {
    feed(parser(options, requests), input, "bytes");
  } catch (err) {
    return err as FerryError;
  }
  throw new Error("parser accepted the input");
}

const read = (offset: number, lengthBytes: number): NbdCommand => ({
  t: "read",
  offset,
  lengthBytes,
});
const status = (offset: number, lengthBytes: number): NbdCommand => ({
  t: "block-status",
  offset,
  lengthBytes,
});

describe("NBD reply parser", () => {
  // Four requests whose replies interleave: a read in data and hole chunks out of
  // order, a single-chunk read, a block status for two contexts, a failed read.
  const a = fill(4096, 1);
  const b = fill(1000, 2);
  const stream = concat(
    dataChunk(0, 1, 8192 + 3072, a.subarray(3072)),
    dataChunk(DONE, 2, 100, b),
    statusChunk(0, 3, 5, [
      [65536, 1],
      [65536, 0],
    ]),
    holeChunk(0, 1, 8192 + 1024, 2048),
    dataChunk(0, 1, 8192, a.subarray(0, 1024)),
    errorChunk(0, 4, NBD_EIO, "disk on fire", 12345),
    statusChunk(0, 3, 0, [[4096, NBD_STATE_HOLE | NBD_STATE_ZERO]]),
    chunk(DONE, NBD_REPLY_TYPE_NONE, 1),
    chunk(DONE, NBD_REPLY_TYPE_NONE, 3),
    chunk(DONE, NBD_REPLY_TYPE_NONE, 4),
  );
  const requests: [number, NbdCommand][] = [
    [1, read(8192, 4096)],
    [2, read(100, 1000)],
    [3, status(0, 131072)],
    [4, read(12288, 4096)],
  ];
  const expectedA = Uint8Array.from(a);
  expectedA.fill(0, 1024, 3072);

  it.each([
    ["whole", "whole" as const],
    ["one byte at a time", "bytes" as const],
    ["random splits (seed 7)", { seed: 7 }],
    ["random splits (seed 8)", { seed: 8 }],
  ])("assembles interleaved structured replies fed %s", (_, split) => {
    const p = parser(structured, requests);
    const events = feed(p, stream, split);
    expect(events.map((e) => [e.t, e.cookie])).toEqual([
      ["read", 2],
      ["read", 1],
      ["block-status", 3],
      ["error", 4],
    ]);
    const [r2, r1, s3, e4] = events;
    expect(r2?.t === "read" && Buffer.from(r2.data).equals(Buffer.from(b))).toBe(true);
    expect(r1?.t === "read" && Buffer.from(r1.data).equals(Buffer.from(expectedA))).toBe(true);
    expect(s3?.t === "block-status" && s3.extents).toEqual(
      new Map([
        [
          5,
          [
            { offset: 0, lengthBytes: 65536, flags: 1 },
            { offset: 65536, lengthBytes: 65536, flags: 0 },
          ],
        ],
        [0, [{ offset: 0, lengthBytes: 4096, flags: 3 }]],
      ]),
    );
    const error = e4?.t === "error" ? e4.error : undefined;
    expect(error?.code).toBe("UNAVAILABLE");
    expect(error?.retryable).toBe(true);
    expect(error?.message).toBe(
      "NBD read of [12288, +4096) failed at offset 12345: EIO (input/output error): disk on fire",
    );
    expect(error?.details).toEqual({ nbdError: "EIO", nbdErrno: 5, offset: 12345 });
    expect(p.inFlight).toBe(0);
  });

  it("assembles the same replies when payloads are received in place, into the caller's array", () => {
    const into = new Uint8Array(4096).fill(0xee);
    const p = parser(structured, [
      [1, { t: "read", offset: 8192, lengthBytes: 4096, into }],
      ...requests.slice(1),
    ]);
    const { events, inPlace } = feedInPlace(p, stream, 11);
    expect(events.map((e) => [e.t, e.cookie])).toEqual([
      ["read", 2],
      ["read", 1],
      ["block-status", 3],
      ["error", 4],
    ]);
    const [r2, r1] = events;
    expect(r2?.t === "read" && Buffer.from(r2.data).equals(Buffer.from(b))).toBe(true);
    expect(r1?.t === "read" && r1.data).toBe(into);
    expect(Buffer.from(into).equals(Buffer.from(expectedA))).toBe(true);
    // Only read payloads go in place: headers, offsets, holes and status are pushed.
    expect(inPlace).toBeGreaterThan(0);
    expect(inPlace).toBeLessThanOrEqual(3072 + 1000 + 1024);
    expect(p.inFlight).toBe(0);
  });

  it("stops writing into the caller's array the moment its read is abandoned", () => {
    const into = new Uint8Array(4096).fill(0xee);
    const p = parser(structured, [[1, { t: "read", offset: 0, lengthBytes: 4096, into }]]);
    const reply = dataChunk(DONE, 1, 0, fill(4096, 8));
    const events: ReplyEvent[] = [];
    // Header, offset and the first 1000 payload bytes arrive; then the caller gives up.
    p.push(reply.subarray(0, 20 + 8 + 1000), (e) => events.push(e));
    expect(p.region(1)?.length).toBe(4096 - 1000);
    p.abandon(1);
    expect(p.region(1)).toBeUndefined();
    p.push(reply.subarray(20 + 8 + 1000), (e) => events.push(e));
    expect(events).toEqual([]);
    expect(into.subarray(1000).every((b) => b === 0xee)).toBe(true);
    expect(p.inFlight).toBe(0);
  });

  it("offers no region for an abandoned read, whose payload is skipped", () => {
    const p = parser(structured, [
      [1, read(0, 4096)],
      [2, read(4096, 4096)],
    ]);
    p.abandon(1);
    const { events, inPlace } = feedInPlace(
      p,
      concat(dataChunk(DONE, 1, 0, fill(4096, 4)), dataChunk(DONE, 2, 4096, fill(4096, 6))),
      3,
    );
    expect(events.map((e) => e.cookie)).toEqual([2]);
    expect(inPlace).toBeGreaterThan(0);
    expect(inPlace).toBeLessThanOrEqual(4096);
    const r = events[0];
    expect(r?.t === "read" && Buffer.from(r.data).equals(Buffer.from(fill(4096, 6)))).toBe(true);
  });

  it("finishes writes on a simple or a structured empty reply, and fails them on errors", () => {
    const write = (offset: number, lengthBytes: number): NbdCommand => ({
      t: "write",
      offset,
      lengthBytes,
    });
    const p = parser(structured, [
      [1, write(0, 4096)],
      [2, write(4096, 4096)],
      [3, write(0, 0)],
    ]);
    const events = feed(
      p,
      concat(
        chunk(DONE, NBD_REPLY_TYPE_NONE, 2),
        simpleReply(0, 1),
        errorChunk(DONE, 3, NBD_ENOSPC, "disk full"),
      ),
      "bytes",
    );
    expect(events.map((e) => [e.t, e.cookie])).toEqual([
      ["done", 2],
      ["done", 1],
      ["error", 3],
    ]);
    const failed = events[2] as Extract<ReplyEvent, { t: "error" }>;
    expect(failed.error.message).toMatch(/write of \[0, \+0\).*disk full/);
    const err = violation(structured, [[1, write(0, 8)]], dataChunk(DONE, 1, 0, fill(8, 1)));
    expect(err.message).toMatch(/OFFSET_DATA chunk of 16 bytes in the reply to a write request/);
  });

  it("reads simple replies when structured replies were not negotiated", () => {
    const options = { structuredReplies: false, metaContexts: new Map() };
    const p = parser(options, [
      [1, read(0, 512)],
      [2, read(512, 512)],
    ]);
    const data = fill(512, 3);
    const events = feed(p, concat(simpleReply(NBD_EPERM, 2), simpleReply(0, 1, data)), "bytes");
    expect(events[0]).toMatchObject({ t: "error", cookie: 2 });
    expect(events[0]?.t === "error" && events[0].error.code).toBe("PERMISSION_DENIED");
    expect(events[1]?.t === "read" && Buffer.from(events[1].data).equals(Buffer.from(data))).toBe(
      true,
    );
  });

  it("accepts a simple error reply to block status, and maps error numbers by name", () => {
    const p = parser(structured, [
      [1, status(0, 512)],
      [2, status(0, 512)],
      [3, read(0, 512)],
    ]);
    const events = feed(
      p,
      concat(simpleReply(NBD_EINVAL, 1), simpleReply(42, 2), errorChunk(DONE, 3, NBD_ENOSPC, "")),
      { seed: 9 },
    );
    const errors = events.map((e) => (e.t === "error" ? e.error : undefined));
    expect(errors.map((e) => [e?.code, e?.retryable, e?.details.nbdError])).toEqual([
      ["INVALID_ARGUMENT", false, "EINVAL"],
      ["INVALID_ARGUMENT", false, "errno 42"],
      ["NO_SPACE", false, "ENOSPC"],
    ]);
  });

  it("treats an unknown error chunk type as an error of the request", () => {
    const p = parser(structured, [[1, read(0, 512)]]);
    const events = feed(p, errorChunk(DONE, 1, NBD_EIO, "odd", undefined, 0x8000 + 77), "bytes");
    expect(events[0]?.t === "error" && events[0].error.details.nbdError).toBe("EIO");
  });

  it("parses and drops the reply of an abandoned request, keeping the stream in step", () => {
    const p = parser(structured, [
      [1, read(0, 4096)],
      [2, status(0, 4096)],
      [3, read(4096, 8)],
    ]);
    p.abandon(1);
    p.abandon(2);
    expect(p.tracks(1)).toBe(true);
    const events = feed(
      p,
      concat(
        dataChunk(DONE, 1, 0, fill(4096, 4)),
        statusChunk(0, 2, 0, [[4096, 0]]),
        statusChunk(DONE, 2, 5, [[4096, 0]]),
        dataChunk(DONE, 3, 4096, fill(8, 5)),
      ),
      "bytes",
    );
    expect(events.map((e) => e.cookie)).toEqual([3]);
    expect(p.tracks(1)).toBe(false);
    expect(p.inFlight).toBe(0);
  });

  it("refuses a read larger than 32 MiB before sending it", () => {
    const p = createReplyParser(structured);
    expect(() => p.expect(1, read(0, 32 * 1024 * 1024 + 1))).toThrow(/exceeds 33554432/);
    p.expect(2, read(0, 1));
    expect(() => p.expect(2, read(0, 1))).toThrow(/cookie 2 in use/);
  });

  const big = new Uint8Array(20);
  new DataView(big.buffer).setUint32(0, 0x668e33ef);
  new DataView(big.buffer).setUint16(6, 1); // OFFSET_DATA
  new DataView(big.buffer).setBigUint64(8, 1n);
  new DataView(big.buffer).setUint32(16, 0xfffffff0); // ~4 GiB, never sent

  const MALFORMED: [string, [number, NbdCommand][], Uint8Array, RegExp][] = [
    ["a wrong magic", [[1, read(0, 8)]], new Uint8Array(16), /reply has magic 0x00000000/],
    [
      "an unknown cookie",
      [[1, read(0, 8)]],
      dataChunk(DONE, 9, 0, fill(8, 0)),
      /unknown cookie 0x9/,
    ],
    [
      "a data chunk outside the read",
      [[1, read(4096, 512)]],
      dataChunk(DONE, 1, 4096 + 256, fill(512, 0)),
      /OFFSET_DATA \[4352, 4864\) lies outside the read \[4096, 4608\)/,
    ],
    [
      "a hole chunk before the read",
      [[1, read(4096, 512)]],
      holeChunk(DONE, 1, 0, 512),
      /OFFSET_HOLE \[0, 512\) lies outside the read/,
    ],
    [
      "overlapping data",
      [[1, read(0, 1024)]],
      concat(dataChunk(0, 1, 512, fill(512, 0)), holeChunk(DONE, 1, 0, 513)),
      /\[0, 513\) overlaps data already received/,
    ],
    [
      "missing data at the end of a read",
      [[1, read(0, 1024)]],
      concat(dataChunk(0, 1, 0, fill(512, 0)), chunk(DONE, NBD_REPLY_TYPE_NONE, 1)),
      /read reply for \[0, \+1024\) ended after 512 bytes/,
    ],
    [
      "a data chunk longer than the read (before reading it)",
      [[1, read(0, 8)]],
      big,
      /OFFSET_DATA chunk of 4294967280 bytes does not fit a read of 8 bytes/,
    ],
    [
      "an empty block status extent",
      [[1, status(0, 8192)]],
      statusChunk(DONE, 1, 0, [
        [4096, 0],
        [0, 1],
      ]),
      /extent 1 for base:allocation is empty \(extents must be non-empty and increasing\)/,
    ],
    [
      "block status extents past the request",
      [[1, status(0, 8192)]],
      statusChunk(DONE, 1, 0, [
        [8192, 0],
        [4096, 1],
      ]),
      /extents past the requested range \[0, 8192\)/,
    ],
    [
      "a block status chunk without extents",
      [[1, status(0, 8192)]],
      statusChunk(DONE, 1, 0, []),
      /BLOCK_STATUS chunk of 4 bytes is not a context id and whole extents/,
    ],
    [
      "a context id that was not negotiated",
      [[1, status(0, 8192)]],
      statusChunk(DONE, 1, 3, [[8192, 0]]),
      /meta context id 3, which was not negotiated/,
    ],
    [
      "a block status reply missing a context",
      [[1, status(0, 8192)]],
      statusChunk(DONE, 1, 0, [[8192, 0]]),
      /block status reply lacks meta context qemu:dirty-bitmap:b0/,
    ],
    [
      "two chunks for one context",
      [[1, status(0, 8192)]],
      concat(statusChunk(0, 1, 0, [[8192, 0]]), statusChunk(0, 1, 0, [[8192, 0]])),
      /two block status chunks for meta context id 0/,
    ],
    [
      "NBD_REPLY_TYPE_NONE without the done flag",
      [[1, read(0, 8)]],
      chunk(0, NBD_REPLY_TYPE_NONE, 1),
      /NBD_REPLY_TYPE_NONE chunk of 0 bytes lacks NBD_REPLY_FLAG_DONE/,
    ],
    [
      "data in reply to block status",
      [[1, status(0, 8)]],
      dataChunk(DONE, 1, 0, fill(8, 0)),
      /OFFSET_DATA chunk of 16 bytes in the reply to a block status request/,
    ],
    [
      "block status in reply to a read",
      [[1, read(0, 8)]],
      statusChunk(DONE, 1, 0, [[8, 0]]),
      /in the reply to a read/,
    ],
    [
      "an unknown chunk type",
      [[1, read(0, 8)]],
      chunk(DONE, 42, 1),
      /unknown structured reply chunk type 42/,
    ],
    [
      "a simple reply to a read after structured replies",
      [[1, read(0, 8)]],
      simpleReply(0, 1, fill(8, 0)),
      /simple reply to a read after structured replies were negotiated/,
    ],
    [
      "a simple success reply to block status",
      [[1, status(0, 8)]],
      simpleReply(0, 1),
      /simple success reply to a block status request/,
    ],
    [
      "an error chunk with error 0",
      [[1, read(0, 8)]],
      errorChunk(DONE, 1, 0, "fine"),
      /carries error 0/,
    ],
    [
      "an error offset outside the request",
      [[1, read(0, 8)]],
      errorChunk(DONE, 1, NBD_EIO, "", 8),
      /error offset 8 lies outside the request \[0, 8\)/,
    ],
    [
      "an error message longer than its chunk",
      [[1, read(0, 8)]],
      (() => {
        const c = errorChunk(DONE, 1, NBD_EIO, "abc");
        new DataView(c.buffer).setUint16(24, 99);
        return c;
      })(),
      /message of 99 bytes does not fit its 9-byte payload/,
    ],
    [
      "an error chunk over the size limit",
      [[1, read(0, 8)]],
      errorChunk(DONE, 1, NBD_EIO, "x".repeat(5000)),
      /NBD_REPLY_TYPE_ERROR chunk of 5006 bytes exceeds 4110/,
    ],
  ];

  it.each(MALFORMED)("fails with a PROTOCOL_ERROR naming %s", (_, requests, input, message) => {
    const err = violation(structured, requests, input);
    expect(isFerryError(err, "PROTOCOL_ERROR")).toBe(true);
    expect(err.message).toMatch(message);
  });

  it("rejects structured chunks when only simple replies were negotiated", () => {
    const err = violation(
      { structuredReplies: false, metaContexts: new Map() },
      [[1, read(0, 8)]],
      dataChunk(DONE, 1, 0, fill(8, 0)),
    );
    expect(err.message).toMatch(/structured replies were not negotiated/);
  });

  it("checks a block status reply holding more than 2^20 extents before buffering it", () => {
    const head = statusChunk(DONE, 1, 0, [[1, 0]]).subarray(0, 20);
    new DataView(head.buffer, head.byteOffset).setUint32(16, 4 + 8 * (2 ** 20 + 1));
    const err = violation(structured, [[1, status(0, 8)]], head);
    expect(err.message).toMatch(/holds over 1048576 extents/);
  });

  it("delivers replies completed before a violation in the same input", () => {
    const p = parser(structured, [
      [1, read(0, 8)],
      [2, read(8, 8)],
    ]);
    const events: ReplyEvent[] = [];
    expect(() =>
      p.push(concat(dataChunk(DONE, 1, 0, fill(8, 0)), new Uint8Array(20)), (e) => events.push(e)),
    ).toThrow(/reply has magic/);
    expect(events.map((e) => e.cookie)).toEqual([1]);
  });
});
