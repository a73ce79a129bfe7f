import type { Socket } from "node:net";
import { type FerryError, isFerryError, withDeadline } from "@ferry/common";
import { describe, expect, it } from "vitest";
import {
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_DISC,
  NBD_CMD_READ,
  NBD_EIO,
  NBD_ESHUTDOWN,
  NBD_REPLY_FLAG_DONE,
} from "./constants.js";
import { startFakeNbdServer } from "./fake-nbd-server.test-helper.js";
import { connectNbd } from "./nbd-client.js";
import {
  dataChunk,
  errorChunk,
  type SeenRequest,
  simpleReply,
  statusChunk,
} from "./nbd-wire.test-helper.js";

const DONE = NBD_REPLY_FLAG_DONE;

/** Bytes a fake export holds: each byte is a function of its offset. */
function content(offset: number, lengthBytes: number): Uint8Array {
  return Uint8Array.from({ length: lengthBytes }, (_, i) => ((offset + i) * 31) & 0xff);
}

const answerRead = (r: SeenRequest, s: Socket) =>
  s.write(dataChunk(DONE, r.cookie, r.offset, content(r.offset, r.lengthBytes)));

const hangUpOnDisc = (r: SeenRequest, s: Socket) => {
  if (r.type === NBD_CMD_DISC) s.end();
};

const isCode = (code: FerryError["code"]) => (e: FerryError) => isFerryError(e, code);

describe("NBD client against a scripted server", () => {
  it("keeps many requests in flight and matches replies in any order by cookie", async () => {
    const held: SeenRequest[] = [];
    await using server = await startFakeNbdServer({
      onRequest: (r, s) => {
        hangUpOnDisc(r, s);
        if (r.type !== NBD_CMD_READ) return;
        held.push(r);
        // Answer all 16 at once, newest first.
        if (held.length === 16) for (const h of held.reverse()) answerRead(h, s);
      },
    });
    await using client = await connectNbd({ path: server.path, exportName: "" });
    expect(client.exportSizeBytes).toBe(1024 * 1024);
    expect(client.readOnly).toBe(true);
    expect(client.blockSize).toEqual({ minimum: 512, preferred: 4096, maximum: 1024 * 1024 });
    const reads = Array.from({ length: 16 }, (_, i) => client.read(i * 4096, 4096));
    expect(client.inFlight).toBe(16);
    const results = await Promise.all(reads);
    results.forEach((data, i) => {
      expect(Buffer.from(data).equals(Buffer.from(content(i * 4096, 4096)))).toBe(true);
    });
    expect(new Set(server.requests.map((r) => r.cookie)).size).toBe(16);
    expect(client.inFlight).toBe(0);
  });

  it("asks block status over TCP for a granted context only", async () => {
    await using server = await startFakeNbdServer(
      {
        onRequest: (r, s) => {
          hangUpOnDisc(r, s);
          if (r.type === NBD_CMD_BLOCK_STATUS) {
            s.write(
              statusChunk(DONE, r.cookie, 1, [
                [8192, 3],
                [4096, 0],
              ]),
            );
          }
        },
      },
      true,
    );
    await using client = await connectNbd({
      host: "127.0.0.1",
      port: server.port,
      exportName: "",
      metaContexts: ["base:allocation"],
    });
    expect(client.metaContexts).toEqual(new Map([["base:allocation", 1]]));
    expect(await client.blockStatus("base:allocation", 0, 65536)).toEqual([
      { offset: 0, lengthBytes: 8192, flags: 3 },
      { offset: 8192, lengthBytes: 4096, flags: 0 },
    ]);
    await expect(client.blockStatus("qemu:dirty-bitmap:x", 0, 512)).rejects.toSatisfy(
      (e: FerryError) =>
        isFerryError(e, "FAILED_PRECONDITION") && /qemu:dirty-bitmap:x/.test(e.message),
    );
  });

  it("rejects a cancelled request at once and discards its late reply safely", async () => {
    let late: SeenRequest | undefined;
    await using server = await startFakeNbdServer({
      onRequest: (r, s) => {
        hangUpOnDisc(r, s);
        if (r.type !== NBD_CMD_READ) return;
        if (r.offset === 0) late = r;
        else {
          // Answer the cancelled read first, then this one.
          if (late) answerRead(late, s);
          answerRead(r, s);
        }
      },
    });
    await using client = await connectNbd({ path: server.path, exportName: "" });
    const controller = new AbortController();
    const cancelled = client.read(0, 4096, { signal: controller.signal });
    controller.abort();
    await expect(cancelled).rejects.toSatisfy(isCode("CANCELLED"));
    using deadline = withDeadline(undefined, 1, "read");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await expect(client.read(0, 512, { signal: deadline.signal })).rejects.toSatisfy(
      isCode("DEADLINE_EXCEEDED"),
    );
    const data = await client.read(8192, 512);
    expect(Buffer.from(data).equals(Buffer.from(content(8192, 512)))).toBe(true);
    expect(client.inFlight).toBe(0);
  });

  it("fails the connection and every pending request with one clear error on a malformed reply", async () => {
    await using server = await startFakeNbdServer({
      onRequest: (r, s) => {
        if (r.offset === 8192) s.write(dataChunk(DONE, r.cookie, 0, content(0, 512)));
      },
    });
    const client = await connectNbd({ path: server.path, exportName: "" });
    const pending = [client.read(0, 512), client.read(4096, 512), client.read(8192, 512)];
    const errors = await Promise.all(
      pending.map((p) =>
        p.then(
          () => undefined,
          (e) => e,
        ),
      ),
    );
    expect(errors[0]).toBeDefined();
    expect(errors.every((e) => e === errors[0])).toBe(true);
    expect(errors[0]).toSatisfy(
      (e: FerryError) =>
        isFerryError(e, "PROTOCOL_ERROR") &&
        e.message ===
          "NBD protocol error: NBD_REPLY_TYPE_OFFSET_DATA [0, 512) lies outside the read [8192, 8704)",
    );
    await expect(client.read(0, 512)).rejects.toBe(errors[0]);
    await client.close();
    await expect.poll(() => server.openConnections).toBe(0);
  });

  it("reports a server error by name and stays usable; EIO is retryable", async () => {
    await using server = await startFakeNbdServer({
      onRequest: (r, s) => {
        hangUpOnDisc(r, s);
        if (r.type !== NBD_CMD_READ) return;
        if (r.offset === 0) s.write(errorChunk(DONE, r.cookie, NBD_EIO, "bad sector", 512));
        else answerRead(r, s);
      },
    });
    await using client = await connectNbd({ path: server.path, exportName: "" });
    await expect(client.read(0, 4096)).rejects.toSatisfy(
      (e: FerryError) =>
        e.code === "UNAVAILABLE" &&
        e.retryable &&
        e.details.nbdError === "EIO" &&
        e.message ===
          "NBD read of [0, +4096) failed at offset 512: EIO (input/output error): bad sector",
    );
    expect((await client.read(4096, 512)).length).toBe(512);
  });

  it("close() rejects pending requests, sends NBD_CMD_DISC, and is idempotent", async () => {
    await using server = await startFakeNbdServer({ onRequest: hangUpOnDisc });
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === "PipeWrap").length;
    const before = sockets();
    const client = await connectNbd({ path: server.path, exportName: "" });
    expect(sockets()).toBeGreaterThan(before);
    const pending = client.read(0, 512);
    const closing = client.close();
    await expect(pending).rejects.toSatisfy(isCode("CONNECTION_CLOSED"));
    await closing;
    await client[Symbol.asyncDispose]();
    await client.close();
    expect(server.requests.map((r) => r.type)).toEqual([NBD_CMD_READ, NBD_CMD_DISC]);
    expect(server.requests[1]).toMatchObject({ offset: 0, lengthBytes: 0 });
    await expect(client.read(0, 512)).rejects.toSatisfy(isCode("CONNECTION_CLOSED"));
    await expect.poll(() => server.openConnections).toBe(0);
    // Neither end of the connection is left open.
    await expect.poll(sockets).toBe(before);
  });

  it("fails pending requests when the server hangs up", async () => {
    await using server = await startFakeNbdServer({ onRequest: (_, s) => s.destroy() });
    await using client = await connectNbd({ path: server.path, exportName: "" });
    await expect(client.read(0, 512)).rejects.toSatisfy(
      (e: FerryError) => isFerryError(e, "CONNECTION_CLOSED") && e.retryable,
    );
  });

  it("disconnects softly after ESHUTDOWN and fails the rest with it", async () => {
    await using server = await startFakeNbdServer({
      onRequest: (r, s) => {
        hangUpOnDisc(r, s);
        if (r.offset === 0) s.write(errorChunk(DONE, r.cookie, NBD_ESHUTDOWN, ""));
      },
    });
    await using client = await connectNbd({ path: server.path, exportName: "" });
    const other = client.read(4096, 512);
    await expect(client.read(0, 512)).rejects.toSatisfy(
      (e: FerryError) => e.details.nbdError === "ESHUTDOWN" && e.retryable,
    );
    await expect(other).rejects.toSatisfy((e: FerryError) => e.details.nbdError === "ESHUTDOWN");
    expect(server.requests.at(-1)?.type).toBe(NBD_CMD_DISC);
  });

  it("reads with simple replies when the server has no structured replies", async () => {
    await using server = await startFakeNbdServer({
      structured: false,
      onRequest: (r, s) => {
        hangUpOnDisc(r, s);
        if (r.type === NBD_CMD_READ)
          s.write(simpleReply(0, r.cookie, content(r.offset, r.lengthBytes)));
      },
    });
    await using client = await connectNbd({
      path: server.path,
      exportName: "",
      metaContexts: ["base:allocation"],
    });
    expect(client.metaContexts.size).toBe(0);
    const data = await client.read(1024, 2048);
    expect(Buffer.from(data).equals(Buffer.from(content(1024, 2048)))).toBe(true);
    await expect(client.blockStatus("base:allocation", 0, 512)).rejects.toSatisfy(
      isCode("FAILED_PRECONDITION"),
    );
  });

  it("checks request ranges against the export and its block sizes before sending", async () => {
    await using server = await startFakeNbdServer({ onRequest: hangUpOnDisc });
    await using client = await connectNbd({ path: server.path, exportName: "" });
    const cases: [number, number, RegExp][] = [
      [0, 0, /must be 1 to 1048576 bytes long/],
      [0, 2 * 1024 * 1024, /must be 1 to 1048576 bytes long/],
      [1024 * 1024 - 512, 1024, /ends past the export \(1048576 bytes\)/],
      [100, 512, /not aligned to the minimum block size 512/],
      [-512, 512, /non-negative integers/],
    ];
    for (const [offset, length, message] of cases) {
      await expect(client.read(offset, length)).rejects.toThrow(message);
    }
    expect(server.requests).toEqual([]);
  });

  it("fails connecting with CONNECTION_CLOSED, DEADLINE_EXCEEDED or CANCELLED", async () => {
    await expect(connectNbd({ path: "/nonexistent/nbd.sock", exportName: "" })).rejects.toSatisfy(
      (e: FerryError) =>
        isFerryError(e, "CONNECTION_CLOSED") &&
        /cannot connect to NBD server unix:/.test(e.message),
    );
    await using silent = await startFakeNbdServer({ silent: true });
    await expect(
      connectNbd({ path: silent.path, exportName: "", connectTimeoutMs: 50 }),
    ).rejects.toSatisfy(isCode("DEADLINE_EXCEEDED"));
    const controller = new AbortController();
    const connecting = connectNbd({ path: silent.path, exportName: "", signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(connecting).rejects.toSatisfy(isCode("CANCELLED"));
    await expect.poll(() => silent.openConnections).toBe(0);
  });
});
