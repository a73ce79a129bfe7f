import { type FerryError, isFerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { encodeClientFlags, encodeGoData, encodeOption } from "./client-wire.js";
import {
  NBD_FLAG_HAS_FLAGS,
  NBD_INFO_BLOCK_SIZE,
  NBD_OPT_GO,
  NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_TLS_REQD,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
} from "./constants.js";
import { createHandshake, type HandshakeStep } from "./handshake.js";
import { concat, greeting, infoExport, optionReply, pieces } from "./nbd-wire.test-helper.js";

const te = new TextEncoder();
const MiB = 1024 * 1024;

// What the server says inside TLS: haggling starts over, as after a fresh greeting.
const afterTls = concat(
  optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK),
  optionReply(NBD_OPT_GO, NBD_REP_INFO, infoExport(8 * MiB, NBD_FLAG_HAS_FLAGS)),
  optionReply(NBD_OPT_GO, NBD_REP_ACK),
);

/** Feeds `input` in pieces until a step says start TLS or done; returns the steps' output. */
function feed(
  hs: ReturnType<typeof createHandshake>,
  input: Uint8Array,
  split: "bytes" | { seed: number },
) {
  const sent: Uint8Array[] = [];
  let last: HandshakeStep | undefined;
  for (const piece of pieces(input, split)) {
    last = hs.push(piece);
    sent.push(...last.send);
  }
  return { sent: concat(...sent), last };
}

function thrown(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (err) {
    return err as FerryError;
  }
  throw new Error("did not throw");
}

describe("NBD handshake with STARTTLS", () => {
  it.each([
    ["one byte at a time", "bytes" as const],
    ["random splits", { seed: 7 }],
  ])("asks for TLS first and starts haggling over once TLS is up, fed %s", (_, split) => {
    const hs = createHandshake({ exportName: "disk0", startTls: true });
    const plain = feed(hs, concat(greeting(), optionReply(NBD_OPT_STARTTLS, NBD_REP_ACK)), split);
    expect(Buffer.from(plain.sent)).toEqual(
      Buffer.from(concat(encodeClientFlags(3), encodeOption(NBD_OPT_STARTTLS))),
    );
    expect(plain.last?.startTls).toBe(true);
    // No plaintext NBD_OPT_ABORT in the middle of a TLS handshake.
    expect(hs.abortBytes()).toBeUndefined();
    const resumed = concat(...hs.tlsStarted());
    expect(Buffer.from(resumed)).toEqual(Buffer.from(encodeOption(NBD_OPT_STRUCTURED_REPLY)));
    const secure = feed(hs, afterTls, split);
    expect(Buffer.from(secure.sent)).toEqual(
      Buffer.from(
        encodeOption(NBD_OPT_GO, encodeGoData(te.encode("disk0"), [NBD_INFO_BLOCK_SIZE])),
      ),
    );
    expect(secure.last?.done?.info).toMatchObject({
      exportSizeBytes: 8 * MiB,
      structuredReplies: true,
    });
  });

  it("refuses plaintext bytes between the STARTTLS reply and the TLS handshake", () => {
    const injected = concat(
      greeting(),
      optionReply(NBD_OPT_STARTTLS, NBD_REP_ACK),
      optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK),
    );
    const sameRead = thrown(() =>
      createHandshake({ exportName: "", startTls: true }).push(injected),
    );
    expect(isFerryError(sameRead, "PROTOCOL_ERROR")).toBe(true);
    expect(sameRead.message).toMatch(/20 plaintext bytes after accepting NBD_OPT_STARTTLS/);
    const hs = createHandshake({ exportName: "", startTls: true });
    expect(hs.push(concat(greeting(), optionReply(NBD_OPT_STARTTLS, NBD_REP_ACK))).startTls).toBe(
      true,
    );
    const laterRead = thrown(() => hs.push(Uint8Array.of(0)));
    expect(isFerryError(laterRead, "PROTOCOL_ERROR")).toBe(true);
  });

  it.each([
    [NBD_REP_ERR_UNSUP, "NBD_REP_ERR_UNSUP"],
    [NBD_REP_ERR_POLICY, "NBD_REP_ERR_POLICY"],
  ])("fails, never falls back to plaintext, when the server refuses TLS (%s)", (reply, name) => {
    const hs = createHandshake({ exportName: "disk0", startTls: true });
    const err = thrown(() =>
      hs.push(concat(greeting(), optionReply(NBD_OPT_STARTTLS, reply, te.encode("no TLS here")))),
    );
    expect(isFerryError(err, "FAILED_PRECONDITION")).toBe(true);
    expect(err.message).toContain(`the NBD server refused TLS (NBD_OPT_STARTTLS answered ${name})`);
    expect(err.message).toContain("no TLS here");
    expect(err.details).toEqual({ option: "NBD_OPT_STARTTLS", reply: name });
    // The failed STARTTLS is still plaintext haggling: a soft disconnect is right.
    expect(hs.abortBytes()).toBeDefined();
  });

  it("says the server requires TLS when a client without TLS gets NBD_REP_ERR_TLS_REQD", () => {
    const hs = createHandshake({ exportName: "disk0" });
    const err = thrown(() =>
      hs.push(concat(greeting(), optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_TLS_REQD))),
    );
    expect(isFerryError(err, "FAILED_PRECONDITION")).toBe(true);
    expect(err.message).toMatch(
      /the NBD server requires TLS \(it answered NBD_OPT_STRUCTURED_REPLY .*NBD_REP_ERR_TLS_REQD\), but this client is not configured for TLS/,
    );
    expect(err.details).toMatchObject({ reply: "NBD_REP_ERR_TLS_REQD" });
  });

  it("refuses tlsStarted when no upgrade is pending", () => {
    const hs = createHandshake({ exportName: "disk0", startTls: true });
    expect(() => hs.tlsStarted()).toThrow(/no NBD TLS upgrade is pending/);
    hs.push(greeting());
    expect(() => hs.tlsStarted()).toThrow(/no NBD TLS upgrade is pending/);
  });
});
