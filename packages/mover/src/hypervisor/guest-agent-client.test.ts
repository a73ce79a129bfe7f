import { type FerryError, isFerryError } from "@ferry/common";
import { describe, expect, it } from "vitest";
import { startFakePeer } from "./fake-json-server.test-helper.js";
import { connectGuestAgent } from "./guest-agent-client.js";

const reply = (value: unknown) => `${JSON.stringify(value)}\n`;

describe("guest agent client", () => {
  it("syncs with guest-sync-delimited even when the marker and reply arrive in one read", async () => {
    await using peer = await startFakePeer({
      onLine: (line, socket) => {
        const args = line.arguments as { id?: number } | undefined;
        if (line.execute === "guest-sync-delimited")
          socket.write(`\xff${reply({ return: args?.id })}`, "latin1");
        if (line.execute === "guest-fsfreeze-status") socket.write(reply({ return: "frozen" }));
      },
    });
    await using agent = await connectGuestAgent({ path: peer.path, commandTimeoutMs: 2000 });
    expect(await agent.freezeStatus()).toBe("frozen");
    expect(peer.received.map((l) => l.execute)).toEqual([
      "guest-sync-delimited",
      "guest-fsfreeze-status",
    ]);
  });

  it("resyncs after a timed-out command so a late reply is never taken for the next one", async () => {
    let thawCount = 0;
    await using peer = await startFakePeer({
      onLine: (line, socket) => {
        const args = line.arguments as { id?: number } | undefined;
        if (line.execute === "guest-sync-delimited") {
          socket.write(`\xff${reply({ return: args?.id })}`, "latin1");
        } else if (line.execute === "guest-fsfreeze-freeze") {
          // Answers only after the client gave up: a stale reply of 7.
          setTimeout(() => socket.write(reply({ return: 7 })), 300);
        } else if (line.execute === "guest-fsfreeze-thaw") {
          thawCount++;
          socket.write(reply({ return: 2 }));
        }
      },
    });
    await using agent = await connectGuestAgent({ path: peer.path });
    const err = await agent.freeze({ timeoutMs: 100 }).catch((e: unknown) => e);
    expect(isFerryError(err, "DEADLINE_EXCEEDED")).toBe(true);
    await new Promise((r) => setTimeout(r, 400)); // the stale 7 has arrived by now
    expect(await agent.thaw()).toBe(2);
    expect(thawCount).toBe(1);
    expect(peer.received.filter((l) => l.execute === "guest-sync-delimited")).toHaveLength(2);
  });

  it("reports an agent error with its class, and a dead peer as CONNECTION_CLOSED", async () => {
    await using peer = await startFakePeer({
      onLine: (line, socket) => {
        const args = line.arguments as { id?: number } | undefined;
        if (line.execute === "guest-sync-delimited")
          socket.write(`\xff${reply({ return: args?.id })}`, "latin1");
        if (line.execute === "guest-fsfreeze-freeze") {
          socket.write(
            reply({
              error: {
                class: "GenericError",
                desc: "failed to freeze /mnt/data0: Device or resource busy",
              },
            }),
          );
        }
        if (line.execute === "guest-ping") socket.destroy();
      },
    });
    await using agent = await connectGuestAgent({ path: peer.path, commandTimeoutMs: 2000 });
    await expect(agent.freeze()).rejects.toSatisfy(
      (e: FerryError) =>
        isFerryError(e, "GUEST_AGENT_ERROR") &&
        /failed to freeze \/mnt\/data0/.test(e.message) &&
        e.retryable,
    );
    await expect(agent.ping()).rejects.toSatisfy((e: FerryError) =>
      isFerryError(e, "CONNECTION_CLOSED"),
    );
  });

  it("fails to connect to a missing socket with the path in the message", async () => {
    await expect(connectGuestAgent({ path: "/nonexistent/qga.sock" })).rejects.toThrow(
      /cannot connect to guest agent \/nonexistent\/qga\.sock: ENOENT/,
    );
  });
});
