// Property-based: a broken or hostile NBD server (random bytes in the handshake, random reply
// frames) gets a clear FerryError, never a crash, a hang or data that was not sent.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "@ferry/common";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  NBD_OPT_GO,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_INFO,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
} from "./constants.js";
import { connectNbd } from "./nbd-client.js";
import { chunk, concat, greeting, infoExport, optionReply } from "./nbd-wire.test-helper.js";
import { createReplyParser, type NbdCommand, type ReplyEvent } from "./reply-parser.js";

/** Reply chunk frames with any flags, type, cookie and payload. */
const anyChunk = fc
  .tuple(
    fc.integer({ min: 0, max: 3 }),
    fc.oneof(fc.constantFrom(0, 1, 2, 5, 0x8001, 0x8002), fc.integer({ min: 0, max: 0xffff })),
    fc.integer({ min: 1, max: 3 }),
    fc.uint8Array({ maxLength: 80 }),
  )
  .map(([flags, type, cookie, payload]) => chunk(flags, type, cookie, payload));

describe("Ferry's NBD client against broken servers", () => {
  it("the reply parser turns any frames into replies or a PROTOCOL_ERROR, never anything else", () => {
    const contexts = new Map([["base:allocation", 1]]);
    fc.assert(
      fc.property(
        fc.array(anyChunk, { maxLength: 6 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 1, max: 64 }),
        (frames, tail, piece) => {
          const parser = createReplyParser({ structuredReplies: true, metaContexts: contexts });
          const commands: NbdCommand[] = [
            { t: "read", offset: 0, lengthBytes: 64 },
            { t: "block-status", offset: 0, lengthBytes: 4096 },
            { t: "write", offset: 0, lengthBytes: 16 },
          ];
          commands.forEach((c, i) => {
            parser.expect(i + 1, c);
          });
          const events: ReplyEvent[] = [];
          const input = concat(...frames, tail);
          try {
            for (let at = 0; at < input.length; at += piece)
              parser.push(input.subarray(at, at + piece), (e) => events.push(e));
          } catch (err) {
            expect(err).toBeInstanceOf(FerryError);
            expect((err as FerryError).code).toBe("PROTOCOL_ERROR");
          }
          for (const e of events) {
            if (e.t === "read") expect(e.data.length).toBe(64);
            if (e.t === "error") expect(e.error).toBeInstanceOf(FerryError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  describe("a server that answers the handshake with garbage", () => {
    let dir: string;
    let server: Server;
    let script: Uint8Array = new Uint8Array(0);
    const path = () => join(dir, "bad.sock");
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "ferry-nbd-client-fuzz-"));
      server = createServer((socket) => {
        socket.on("error", () => undefined);
        // Drain what the client says, or this side never sees its hang-up.
        socket.resume();
        socket.end(script);
      });
      await new Promise<void>((resolve) => server.listen(path(), resolve));
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    });

    it("gets a FerryError naming the trouble, for random bytes after a good start", async () => {
      // A valid greeting and structured-reply ACK, then anything: option replies or noise.
      const start = concat(greeting(), optionReply(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            fc
              .tuple(
                fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
                fc.integer({ min: 0, max: 0xffff }),
              )
              .map(([size, flags]) =>
                concat(
                  optionReply(NBD_OPT_GO, NBD_REP_INFO, infoExport(size, flags)),
                  optionReply(NBD_OPT_GO, NBD_REP_ACK),
                  chunk(NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, 1, new Uint8Array(4)),
                ),
              ),
          ),
          async (rest) => {
            script = concat(start, rest);
            try {
              const client = await connectNbd({
                path: path(),
                exportName: "x",
                connectTimeoutMs: 2000,
              });
              // A handshake that happened to pass: the connection still fails cleanly.
              await expect(client.read(0, 1).finally(() => client.close())).rejects.toBeInstanceOf(
                FerryError,
              );
            } catch (err) {
              expect(err).toBeInstanceOf(FerryError);
              expect((err as FerryError).message).toMatch(/NBD|closed|export/);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});
