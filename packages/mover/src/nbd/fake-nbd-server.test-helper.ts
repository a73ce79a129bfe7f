import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_OPT_ABORT,
  NBD_OPT_GO,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_META_CONTEXT,
} from "./constants.js";
import {
  concat,
  decodeRequest,
  greeting,
  infoBlockSize,
  infoExport,
  metaContext,
  optionReply,
  type SeenRequest,
} from "./nbd-wire.test-helper.js";

/** How the scripted server behaves. */
export interface FakeNbdScript {
  sizeBytes?: number;
  /** Answer NBD_OPT_STRUCTURED_REPLY with ACK (default) or ERR_UNSUP. */
  structured?: boolean;
  /** Never send the greeting (to test connect timeouts). */
  silent?: boolean;
  /** Called for each transmission request (NBD_CMD_DISC included). */
  onRequest?: (request: SeenRequest, socket: Socket) => void;
}

/** A scripted NBD server on a unix socket (or TCP on 127.0.0.1 with `tcp: true`). */
export interface FakeNbdServer extends AsyncDisposable {
  path: string;
  port: number;
  /** Requests seen, in order, on every connection. */
  requests: SeenRequest[];
  /** Open server-side connections. */
  readonly openConnections: number;
}

/** Starts the scripted server. Meta contexts asked for are all granted, ids from 1. */
export async function startFakeNbdServer(
  script: FakeNbdScript,
  tcp = false,
): Promise<FakeNbdServer> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-fake-nbd-"));
  const path = join(dir, "nbd.sock");
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    if (!script.silent) serve(socket, script, requests);
  });
  await new Promise<void>((resolve) =>
    tcp ? server.listen(0, "127.0.0.1", resolve) : server.listen(path, resolve),
  );
  const address = server.address();
  return {
    path,
    port: typeof address === "object" && address ? address.port : 0,
    requests,
    get openConnections() {
      return sockets.size;
    },
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function serve(socket: Socket, script: FakeNbdScript, requests: SeenRequest[]): void {
  socket.write(greeting());
  let buffer = Buffer.alloc(0);
  let phase: "flags" | "options" | "transmission" = "flags";
  let granted: string[] = [];
  socket.on("data", (data: Buffer) => {
    buffer = Buffer.concat([buffer, data]);
    for (;;) {
      if (phase === "flags") {
        if (buffer.length < 4) return;
        buffer = buffer.subarray(4);
        phase = "options";
      } else if (phase === "options") {
        if (buffer.length < 16) return;
        const length = buffer.readUInt32BE(12);
        if (buffer.length < 16 + length) return;
        const option = buffer.readUInt32BE(8);
        const data = buffer.subarray(16, 16 + length);
        buffer = buffer.subarray(16 + length);
        if (option === NBD_OPT_ABORT) {
          socket.end(optionReply(option, NBD_REP_ACK));
          return;
        }
        if (option === NBD_OPT_STRUCTURED_REPLY) {
          socket.write(
            optionReply(option, script.structured === false ? NBD_REP_ERR_UNSUP : NBD_REP_ACK),
          );
        } else if (option === NBD_OPT_SET_META_CONTEXT) {
          granted = parseQueries(data);
          for (const [i, name] of granted.entries()) {
            socket.write(optionReply(option, NBD_REP_META_CONTEXT, metaContext(i + 1, name)));
          }
          socket.write(optionReply(option, NBD_REP_ACK));
        } else if (option === NBD_OPT_GO) {
          const size = script.sizeBytes ?? 1024 * 1024;
          socket.write(
            concat(
              optionReply(
                option,
                NBD_REP_INFO,
                infoExport(size, NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY),
              ),
              optionReply(option, NBD_REP_INFO, infoBlockSize(512, 4096, 1024 * 1024)),
              optionReply(option, NBD_REP_ACK),
            ),
          );
          phase = "transmission";
        } else {
          socket.write(optionReply(option, NBD_REP_ERR_UNSUP));
        }
      } else {
        if (buffer.length < 28) return;
        const request = decodeRequest(buffer.subarray(0, 28));
        buffer = buffer.subarray(28);
        requests.push(request);
        script.onRequest?.(request, socket);
      }
    }
  });
}

function parseQueries(data: Buffer): string[] {
  const nameLength = data.readUInt32BE(0);
  let at = 4 + nameLength;
  const count = data.readUInt32BE(at);
  at += 4;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = data.readUInt32BE(at);
    names.push(data.subarray(at + 4, at + 4 + length).toString("utf8"));
    at += 4 + length;
  }
  return names;
}
