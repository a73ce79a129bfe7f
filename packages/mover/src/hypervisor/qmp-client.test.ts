import { type FerryError, isFerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { startFakePeer } from "./fake-json-server.test-helper.js";
import { connectQmp } from "./qmp-client.js";

const greeting = `${JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 19 } }, capabilities: [] } })}\r\n`;
const reply = (value: unknown) => `${JSON.stringify(value)}\r\n`;

describe("QMP client", () => {
  it("negotiates, matches replies to commands by id and delivers events", async () => {
    await using peer = await startFakePeer({
      onConnect: (s) => s.write(greeting),
      onLine: (line, s) => {
        if (line.execute === "query-status") {
          // An event and an out-of-order reply arrive before the answer.
          s.write(
            reply({
              event: "BLOCK_JOB_READY",
              data: { device: "j1" },
              timestamp: { seconds: 1, microseconds: 5 },
            }),
          );
          setTimeout(() => s.write(reply({ return: { status: "running" }, id: line.id })), 20);
        } else {
          s.write(reply({ return: {}, id: line.id }));
        }
      },
    });
    await using qmp = await connectQmp({ path: peer.path });
    expect(qmp.version).toBe("7.2.19");
    const event = qmp.waitForEvent("BLOCK_JOB_READY", (e) => e.data.device === "j1");
    expect(await qmp.execute("query-status")).toEqual({ status: "running" });
    expect((await event).timestamp).toBeCloseTo(1.000005);
    expect(peer.received[0]?.execute).toBe("qmp_capabilities");
  });

  it("turns a QMP error into QMP_ERROR naming command, description and class", async () => {
    await using peer = await startFakePeer({
      onConnect: (s) => s.write(greeting),
      onLine: (line, s) =>
        s.write(
          line.execute === "qmp_capabilities"
            ? reply({ return: {}, id: line.id })
            : reply({
                error: { class: "GenericError", desc: "Node 'disk9' not found" },
                id: line.id,
              }),
        ),
    });
    await using qmp = await connectQmp({ path: peer.path });
    await expect(qmp.execute("blockdev-del", { "node-name": "disk9" })).rejects.toSatisfy(
      (e: FerryError) =>
        isFerryError(e, "QMP_ERROR") &&
        e.message === "blockdev-del: Node 'disk9' not found (GenericError)",
    );
  });

  it("rejects a peer that does not greet like QEMU, and one that sends garbage", async () => {
    await using notQemu = await startFakePeer({
      onConnect: (s) => s.write(reply({ hello: 1 })),
      onLine: () => undefined,
    });
    await expect(connectQmp({ path: notQemu.path })).rejects.toThrow(
      /did not start with a QMP greeting/,
    );
    await using garbage = await startFakePeer({
      onConnect: (s) => s.write("{not json\n"),
      onLine: () => undefined,
    });
    await expect(connectQmp({ path: garbage.path })).rejects.toSatisfy(
      (e: FerryError) => isFerryError(e, "PROTOCOL_ERROR") && /sent invalid JSON/.test(e.message),
    );
  });

  it("times out a command QEMU never answers, and fails pending commands when the socket closes", async () => {
    await using peer = await startFakePeer({
      onConnect: (s) => s.write(greeting),
      onLine: (line, s) => {
        if (line.execute === "qmp_capabilities") s.write(reply({ return: {}, id: line.id }));
        if (line.execute === "quit") s.destroy();
      },
    });
    await using qmp = await connectQmp({ path: peer.path });
    await expect(qmp.execute("query-block", undefined, { timeoutMs: 100 })).rejects.toSatisfy(
      (e: FerryError) => isFerryError(e, "DEADLINE_EXCEEDED"),
    );
    const pending = qmp.execute("query-block");
    await expect(qmp.execute("quit")).rejects.toSatisfy((e: FerryError) =>
      isFerryError(e, "CONNECTION_CLOSED"),
    );
    await expect(pending).rejects.toSatisfy((e: FerryError) =>
      isFerryError(e, "CONNECTION_CLOSED"),
    );
  });
});
