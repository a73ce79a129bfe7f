import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A unix-socket peer scripted by the test: sees each line the client sends. */
export interface FakePeer extends AsyncDisposable {
  path: string;
  /** Lines received, parsed. */
  received: Record<string, unknown>[];
}

/** Starts a fake QMP / guest-agent peer; `onConnect` and `onLine` script it. */
export async function startFakePeer(script: {
  onConnect?: (socket: Socket) => void;
  onLine: (line: Record<string, unknown>, socket: Socket) => void;
}): Promise<FakePeer> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-fake-"));
  const path = join(dir, "peer.sock");
  const received: Record<string, unknown>[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    script.onConnect?.(socket);
    let buffer = "";
    socket.on("data", (chunk) => {
      // The agent protocol's 0xFF reset byte is not part of any line.
      buffer += chunk.toString("latin1").replaceAll("\xff", "");
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        const line = JSON.parse(buffer.slice(0, i)) as Record<string, unknown>;
        buffer = buffer.slice(i + 1);
        received.push(line);
        script.onLine(line, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    received,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
