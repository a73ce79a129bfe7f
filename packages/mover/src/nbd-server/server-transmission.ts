import { createSemaphore, FerryError, isFerryError, toFerryError } from "@ferry/common";
import {
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_DISC,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_REQ_ONE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOSPC,
  NBD_EOVERFLOW,
  NBD_EPERM,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_NONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_STATE_HOLE,
  NBD_STATE_ZERO,
  REQUEST_BYTES,
} from "../nbd/constants.js";
import { isWritable } from "./export-device.js";
import { BASE_ALLOCATION_ID, type Negotiated } from "./server-handshake.js";
import {
  decodeRequest,
  encodeBlockStatusChunk,
  encodeChunkHeader,
  encodeErrorChunk,
  encodeOffset,
  encodeSimpleReply,
  type NbdRequest,
  type StatusDescriptor,
} from "./server-wire.js";
import type { SocketReader } from "./socket-reader.js";

/** errno names of a full disk: the client hears ENOSPC, not EIO. */
const FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

/** Requests one connection works on at once; the next waits (and so does the socket). */
const IN_FLIGHT = 16;

/** Where replies go. */
export interface ReplyWire {
  /** Writes one reply, its parts back to back. */
  send(...parts: Uint8Array[]): void;
  /** Resolves once the socket has room for more (or is gone). */
  drained(): Promise<void>;
}

/** An error a request is answered with: the errno for the client, text for people. */
class RequestError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Serves requests until the client disconnects (resolves) or breaks the protocol
 * (PROTOCOL_ERROR). Requests run concurrently; each reply is written whole.
 */
export async function serveTransmission(
  reader: SocketReader,
  wire: ReplyWire,
  agreed: Negotiated,
  signal: AbortSignal,
): Promise<void> {
  const { device, maxRequestBytes } = agreed.export;
  const send = wire.send;
  const slots = createSemaphore(IN_FLIGHT);
  const running = new Set<Promise<void>>();

  const answer = async (req: NbdRequest, data: Uint8Array | undefined): Promise<void> => {
    try {
      const payload = await handle(req, data);
      if (agreed.structuredReplies) {
        if (req.type === NBD_CMD_READ && payload)
          send(
            encodeChunkHeader(
              req.cookie,
              NBD_REPLY_FLAG_DONE,
              NBD_REPLY_TYPE_OFFSET_DATA,
              8 + payload.length,
            ),
            encodeOffset(req.offset),
            payload,
          );
        else if (req.type === NBD_CMD_BLOCK_STATUS && payload) send(payload);
        else send(encodeChunkHeader(req.cookie, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0));
      } else if (payload) send(encodeSimpleReply(req.cookie, 0), payload);
      else send(encodeSimpleReply(req.cookie, 0));
    } catch (err) {
      const failure =
        err instanceof RequestError
          ? err
          : new RequestError(
              isFerryError(err, "NO_SPACE") || FULL.has(String((err as { code?: unknown }).code))
                ? NBD_ENOSPC
                : NBD_EIO,
              toFerryError(err).message,
            );
      if (agreed.structuredReplies)
        send(encodeErrorChunk(req.cookie, NBD_REPLY_FLAG_DONE, failure.errno, failure.message));
      // A simple reply to a failed read carries no data: the client reads none.
      else send(encodeSimpleReply(req.cookie, failure.errno));
    }
  };

  const handle = async (
    req: NbdRequest,
    data: Uint8Array | undefined,
  ): Promise<Uint8Array | undefined> => {
    const inRange = req.offset + req.lengthBytes <= device.sizeBytes;
    switch (req.type) {
      case NBD_CMD_READ:
        checkLength(req, maxRequestBytes);
        if (!inRange) throw outOfRange(req, device.sizeBytes, NBD_EINVAL);
        return await device.read(req.offset, req.lengthBytes, signal);
      case NBD_CMD_WRITE:
      case NBD_CMD_WRITE_ZEROES: {
        if (!isWritable(device)) throw new RequestError(NBD_EPERM, "the export is read-only");
        if (!inRange) throw outOfRange(req, device.sizeBytes, NBD_ENOSPC);
        if (data) await device.write(req.offset, data, signal);
        else await device.writeZeroes(req.offset, req.lengthBytes, signal);
        if (req.flags & NBD_CMD_FLAG_FUA) await device.flush(signal);
        return undefined;
      }
      case NBD_CMD_FLUSH:
        if (isWritable(device)) await device.flush(signal);
        return undefined;
      case NBD_CMD_BLOCK_STATUS: {
        if (!agreed.baseAllocation)
          throw new RequestError(NBD_EINVAL, "block status needs the base:allocation context");
        if (req.lengthBytes === 0 || !inRange) throw outOfRange(req, device.sizeBytes, NBD_EINVAL);
        const extents = await device.extents(req.offset, req.lengthBytes, signal);
        const descriptors = mergeDescriptors(
          extents.map((e) => ({
            lengthBytes: e.lengthBytes,
            flags: e.zero ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0,
          })),
        );
        const sent = req.flags & NBD_CMD_FLAG_REQ_ONE ? descriptors.slice(0, 1) : descriptors;
        return encodeBlockStatusChunk(req.cookie, NBD_REPLY_FLAG_DONE, BASE_ALLOCATION_ID, sent);
      }
      default:
        throw new RequestError(NBD_EINVAL, `command ${req.type} is not supported`);
    }
  };

  try {
    for (;;) {
      const req = decodeRequest(await reader.read(REQUEST_BYTES));
      let data: Uint8Array | undefined;
      if (req.type === NBD_CMD_WRITE) {
        // The payload must be consumed to stay in step; one too large cannot be trusted.
        if (req.lengthBytes > maxRequestBytes)
          throw new FerryError(
            "PROTOCOL_ERROR",
            `NBD client sent a ${req.lengthBytes}-byte write, over the ${maxRequestBytes}-byte limit`,
          );
        data = await reader.read(req.lengthBytes);
      }
      if (req.type === NBD_CMD_DISC) return;
      const release = await slots.acquire();
      // A slot is held until the reply has left: a client that stops reading stops us.
      const job = answer(req, data)
        .then(wire.drained)
        .finally(() => {
          release();
          running.delete(job);
        });
      running.add(job);
    }
  } catch (err) {
    if (isFerryError(err, "CONNECTION_CLOSED")) return;
    throw err;
  } finally {
    // Every accepted request gets its reply before the connection is let go.
    await Promise.allSettled(running);
  }
}

function checkLength(req: NbdRequest, max: number): void {
  if (req.lengthBytes > max)
    throw new RequestError(NBD_EOVERFLOW, `a request of ${req.lengthBytes} bytes is over ${max}`);
}

function outOfRange(req: NbdRequest, sizeBytes: number, errno: number): RequestError {
  return new RequestError(
    errno,
    `range ${req.offset}+${req.lengthBytes} is outside the ${sizeBytes}-byte export`,
  );
}

/** Joins neighbours with equal flags: fewer descriptors for the same map. */
function mergeDescriptors(list: StatusDescriptor[]): StatusDescriptor[] {
  const out: StatusDescriptor[] = [];
  for (const d of list) {
    const last = out.at(-1);
    if (last && last.flags === d.flags && last.lengthBytes + d.lengthBytes <= 0xffffffff)
      last.lengthBytes += d.lengthBytes;
    else out.push({ ...d });
  }
  return out;
}
