import { type FerryError, isFerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import {
  encodeClientFlags,
  encodeGoData,
  encodeMetaContextData,
  encodeOption,
} from "./client-wire.js";
import {
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_NAME,
  NBD_INIT_MAGIC,
  NBD_OLDSTYLE_MAGIC,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_TLS_REQD,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_META_CONTEXT,
  NBD_REP_SERVER,
} from "./constants.js";
import { createHandshake, type HandshakeOptions, type NbdExportInfo } from "./handshake.js";
import {
  concat,
  greeting,
  infoBlockSize,
  infoExport,
  metaContext,
  optionReply,
  pieces,
} from "./nbd-wire.test-helper.js";

const te = new TextEncoder();
const MiB = 1024 * 1024;
const opts: HandshakeOptions = {
  exportName: "disk0",
  metaContexts: ["base:allocation", "qemu:dirty-bitmap:b0"],
};

/** Feeds the server's whole transcript in pieces; returns what the client sent and the result. */
function run(options: HandshakeOptions, server: Uint8Array, split: "bytes" | { seed: number }) {
  const hs = createHandshake(options);
  const sent: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  let info: NbdExportInfo | undefined;
  for (const piece of pieces(server, split)) {
    if (info) {
      rest.push(piece);
      continue;
    }
    const step = hs.push(piece);
    sent.push(...step.send);
    if (step.done) {
      info = step.done.info;
      rest.push(step.done.rest);
    }
  }
  return { sent: concat(...sent), info, rest: concat(...rest) };
}

/** Runs to the first error; returns it. */
function failure(options: HandshakeOptions, server: Uint8Array): FerryError {
  try {
    run(options, server, "bytes");
  } catch (err) {
    return err as FerryError;
  }
  throw new Error("handshake did not fail");
}

const qemuLike = concat(
  greeting(),
  optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK),
  optionReply(
    NBD_OPT_SET_META_CONTEXT,
    NBD_REP_META_CONTEXT,
    metaContext(1, "qemu:dirty-bitmap:b0"),
  ),
  optionReply(NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT, metaContext(0, "base:allocation")),
  optionReply(NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK),
  optionReply(
    NBD_OPT_GO,
    NBD_REP_INFO,
    concat(Uint8Array.of(0, NBD_INFO_NAME), te.encode("disk0")),
  ),
  optionReply(
    NBD_OPT_GO,
    NBD_REP_INFO,
    infoExport(64 * MiB, NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY),
  ),
  optionReply(NBD_OPT_GO, NBD_REP_INFO, infoBlockSize(1, 4096, 32 * MiB)),
  optionReply(NBD_OPT_GO, NBD_REP_ACK),
);

const expectedClient = concat(
  encodeClientFlags(3),
  encodeOption(NBD_OPT_STRUCTURED_REPLY),
  encodeOption(
    NBD_OPT_SET_META_CONTEXT,
    encodeMetaContextData(te.encode("disk0"), [
      te.encode("base:allocation"),
      te.encode("qemu:dirty-bitmap:b0"),
    ]),
  ),
  encodeOption(NBD_OPT_GO, encodeGoData(te.encode("disk0"), [NBD_INFO_BLOCK_SIZE])),
);

describe("NBD handshake", () => {
  it.each([
    ["one byte at a time", "bytes" as const],
    ["random splits (seed 1)", { seed: 1 }],
    ["random splits (seed 2)", { seed: 2 }],
  ])("negotiates fixed newstyle, structured replies, meta contexts and GO fed %s", (_, split) => {
    const trailing = Uint8Array.of(1, 2, 3);
    const { sent, info, rest } = run(opts, concat(qemuLike, trailing), split);
    expect(Buffer.from(sent).equals(Buffer.from(expectedClient))).toBe(true);
    expect(info).toEqual({
      exportSizeBytes: 64 * MiB,
      transmissionFlags: NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY,
      readOnly: true,
      blockSize: { minimum: 1, preferred: 4096, maximum: 32 * MiB },
      structuredReplies: true,
      metaContexts: new Map([
        ["qemu:dirty-bitmap:b0", 1],
        ["base:allocation", 0],
      ]),
    });
    expect([...rest]).toEqual([1, 2, 3]);
  });

  it("uses the spec's default block sizes and skips SET_META_CONTEXT when none are wanted", () => {
    const server = concat(
      greeting(NBD_FLAG_FIXED_NEWSTYLE),
      optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK),
      optionReply(NBD_OPT_GO, NBD_REP_INFO, infoExport(4096)),
      optionReply(NBD_OPT_GO, NBD_REP_ACK),
    );
    const { sent, info } = run({ exportName: "" }, server, { seed: 3 });
    // Without NBD_FLAG_NO_ZEROES from the server, the client must not set C_NO_ZEROES.
    expect([...sent.subarray(0, 4)]).toEqual([0, 0, 0, 1]);
    expect(info?.blockSize).toEqual({ minimum: 1, preferred: 4096, maximum: 32 * MiB });
    expect(info?.metaContexts.size).toBe(0);
    expect(info?.readOnly).toBe(false);
  });

  it("carries on without structured replies or meta contexts when the server lacks them", () => {
    const server = concat(
      greeting(),
      optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP),
      optionReply(NBD_OPT_GO, NBD_REP_INFO, infoExport(4096)),
      optionReply(NBD_OPT_GO, NBD_REP_ACK),
    );
    const { sent, info } = run(opts, server, "bytes");
    expect(info?.structuredReplies).toBe(false);
    expect(info?.metaContexts.size).toBe(0);
    // No SET_META_CONTEXT: the spec forbids it without structured replies.
    const go = encodeOption(NBD_OPT_GO, encodeGoData(te.encode("disk0"), [NBD_INFO_BLOCK_SIZE]));
    expect(sent.length).toBe(4 + 16 + go.length);
  });

  it("keeps only the meta contexts the server granted, and none after a refusal", () => {
    const partial = concat(
      greeting(),
      optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK),
      optionReply(
        NBD_OPT_SET_META_CONTEXT,
        NBD_REP_META_CONTEXT,
        metaContext(7, "base:allocation"),
      ),
      optionReply(NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK),
      optionReply(NBD_OPT_GO, NBD_REP_INFO, infoExport(4096)),
      optionReply(NBD_OPT_GO, NBD_REP_ACK),
    );
    expect(run(opts, partial, "bytes").info?.metaContexts).toEqual(
      new Map([["base:allocation", 7]]),
    );
    const refused = concat(
      greeting(),
      optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK),
      optionReply(
        NBD_OPT_SET_META_CONTEXT,
        NBD_REP_META_CONTEXT,
        metaContext(7, "base:allocation"),
      ),
      optionReply(NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_POLICY),
      optionReply(NBD_OPT_GO, NBD_REP_INFO, infoExport(4096)),
      optionReply(NBD_OPT_GO, NBD_REP_ACK),
    );
    expect(run(opts, refused, "bytes").info?.metaContexts.size).toBe(0);
  });

  it("falls back to NBD_OPT_EXPORT_NAME when the server lacks NBD_OPT_GO", () => {
    const withZeroes = concat(
      greeting(NBD_FLAG_FIXED_NEWSTYLE),
      optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP),
      optionReply(NBD_OPT_GO, NBD_REP_ERR_UNSUP),
      infoExport(8192, NBD_FLAG_HAS_FLAGS).subarray(2),
      new Uint8Array(124),
      Uint8Array.of(9),
    );
    const { sent, info, rest } = run({ exportName: "x" }, withZeroes, { seed: 4 });
    expect(info?.exportSizeBytes).toBe(8192);
    expect([...rest]).toEqual([9]);
    expect(
      Buffer.from(sent).includes(Buffer.from(encodeOption(NBD_OPT_EXPORT_NAME, te.encode("x")))),
    ).toBe(true);
  });

  const PROTOCOL: [string, Uint8Array, RegExp][] = [
    [
      "a server that is not NBD",
      new Uint8Array(Buffer.from("SSH-2.0-OpenSSH_9.2\r\n")),
      /did not greet with NBDMAGIC/,
    ],
    [
      "an option reply with the wrong magic",
      concat(greeting(), new Uint8Array(20)),
      /option reply has magic 0x0/,
    ],
    [
      "a reply to an option that is not pending",
      concat(greeting(), optionReply(NBD_OPT_GO, NBD_REP_ACK)),
      /option reply is for NBD_OPT_GO while NBD_OPT_STRUCTURED_REPLY is pending/,
    ],
    [
      "an option reply over 64 KiB (before reading it)",
      concat(
        greeting(),
        optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK).subarray(0, 16),
        Uint8Array.of(0, 1, 0, 1),
      ),
      /65537 bytes, over the limit of 65536/,
    ],
    [
      "NBD_REP_ACK with data",
      concat(greeting(), optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, Uint8Array.of(1))),
      /NBD_REP_ACK to NBD_OPT_STRUCTURED_REPLY carries 1 bytes/,
    ],
    [
      "an unexpected reply type",
      concat(
        greeting(),
        optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_SERVER, Uint8Array.of(0, 0, 0, 0)),
      ),
      /unexpected reply type 2 to NBD_OPT_STRUCTURED_REPLY/,
    ],
    [
      "a meta context nobody asked for",
      concat(
        greeting(),
        optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK),
        optionReply(
          NBD_OPT_SET_META_CONTEXT,
          NBD_REP_META_CONTEXT,
          metaContext(1, "qemu:allocation-depth"),
        ),
      ),
      /selected meta context "qemu:allocation-depth", never requested/,
    ],
    [
      "two meta contexts with one id",
      concat(
        greeting(),
        optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK),
        optionReply(
          NBD_OPT_SET_META_CONTEXT,
          NBD_REP_META_CONTEXT,
          metaContext(1, "base:allocation"),
        ),
        optionReply(
          NBD_OPT_SET_META_CONTEXT,
          NBD_REP_META_CONTEXT,
          metaContext(1, "qemu:dirty-bitmap:b0"),
        ),
      ),
      /share id 1/,
    ],
    [
      "NBD_INFO_EXPORT of the wrong length",
      concat(
        greeting(),
        optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP),
        optionReply(NBD_OPT_GO, NBD_REP_INFO, infoExport(1).subarray(0, 10)),
      ),
      /NBD_INFO_EXPORT is 10 bytes, expected 12/,
    ],
    [
      "transmission flags without NBD_FLAG_HAS_FLAGS",
      concat(
        greeting(),
        optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP),
        optionReply(NBD_OPT_GO, NBD_REP_INFO, infoExport(4096, NBD_FLAG_READ_ONLY)),
      ),
      /lack NBD_FLAG_HAS_FLAGS/,
    ],
    [
      "an export larger than 2^53",
      concat(
        greeting(),
        optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP),
        optionReply(NBD_OPT_GO, NBD_REP_INFO, infoExport(2n ** 63n)),
      ),
      /export size 9223372036854775808 is too large/,
    ],
    [
      "block sizes that break the spec",
      concat(
        greeting(),
        optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP),
        optionReply(NBD_OPT_GO, NBD_REP_INFO, infoBlockSize(512, 256, 1024)),
      ),
      /preferred is not a power of 2 at least max\(minimum, 512\)/,
    ],
    [
      "GO acknowledged without NBD_INFO_EXPORT",
      concat(
        greeting(),
        optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP),
        optionReply(NBD_OPT_GO, NBD_REP_ACK),
      ),
      /NBD_OPT_GO succeeded without an NBD_INFO_EXPORT reply/,
    ],
  ];

  it.each(PROTOCOL)("fails with PROTOCOL_ERROR on %s", (_, server, message) => {
    const err = failure(opts, server);
    expect(isFerryError(err, "PROTOCOL_ERROR")).toBe(true);
    expect(err.message).toMatch(message);
  });

  it("names what is missing when the server cannot do what Ferry needs", () => {
    const oldstyle = new Uint8Array(152);
    new DataView(oldstyle.buffer).setBigUint64(0, NBD_INIT_MAGIC);
    new DataView(oldstyle.buffer).setBigUint64(8, NBD_OLDSTYLE_MAGIC);
    expect(failure(opts, oldstyle)).toSatisfy(
      (e: FerryError) => isFerryError(e, "FAILED_PRECONDITION") && /oldstyle/.test(e.message),
    );
    expect(failure(opts, greeting(0))).toSatisfy(
      (e: FerryError) =>
        isFerryError(e, "FAILED_PRECONDITION") && /NBD_FLAG_FIXED_NEWSTYLE/.test(e.message),
    );
    const unknown = concat(
      greeting(),
      optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK),
      optionReply(NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, te.encode("no such export")),
    );
    expect(failure({ exportName: "disk9" }, unknown)).toSatisfy(
      (e: FerryError) =>
        isFerryError(e, "NOT_FOUND") &&
        e.message === 'NBD export "disk9" does not exist: no such export',
    );
    const tls = concat(greeting(), optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_TLS_REQD));
    expect(failure(opts, tls)).toSatisfy(
      (e: FerryError) => isFerryError(e, "FAILED_PRECONDITION") && /requires TLS/.test(e.message),
    );
  });

  it("offers NBD_OPT_ABORT for a soft disconnect only once options are being exchanged", () => {
    const hs = createHandshake(opts);
    expect(hs.abortBytes()).toBeUndefined();
    hs.push(greeting());
    expect(hs.abortBytes()).toEqual(encodeOption(NBD_OPT_ABORT));
  });

  it("rejects export names and contexts the protocol cannot carry", () => {
    expect(() => createHandshake({ exportName: "a\0b" })).toThrow(/NBD export name/);
    expect(() => createHandshake({ exportName: "x", metaContexts: ["x".repeat(5000)] })).toThrow(
      /at most 4096 bytes/,
    );
  });
});
