import { FerryError, isFerryError, type TlsPem } from "@ferry/common";
import {
  BASE_ALLOCATION,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_SEND_DF,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_LIST_META_CONTEXT,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_TLS_REQD,
  NBD_REP_ERR_TOO_BIG,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_META_CONTEXT,
  NBD_REP_SERVER,
} from "../nbd/constants.js";
import type { ServedExport } from "./served-export.js";
import type { ServerChannel } from "./server-channel.js";
import {
  decodeGoData,
  decodeMetaContextData,
  decodeOptionHeader,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeMetaContext,
  encodeOptionError,
  encodeOptionReply,
  encodeServerEntry,
} from "./server-wire.js";

/** Largest option data a client may send (names and queries are at most 4 KiB each). */
const MAX_OPTION_BYTES = 64 * 1024;
/** The one meta context this server offers, and its id on every connection. */
export const BASE_ALLOCATION_ID = 1;

/** What a successful handshake agreed on. */
export interface Negotiated {
  export: ServedExport;
  structuredReplies: boolean;
  /** base:allocation was selected for this export (block status allowed). */
  baseAllocation: boolean;
}

/**
 * Runs fixed-newstyle negotiation on a fresh connection. Resolves with the agreed export,
 * or undefined when the client aborted or asked only for a list. Throws PROTOCOL_ERROR
 * for a client that breaks the protocol (the caller hangs up).
 */
export async function negotiate(
  channel: ServerChannel,
  lookup: (name: string) => ServedExport | undefined,
  names: () => string[],
  tls?: TlsPem,
): Promise<Negotiated | undefined> {
  // The channel's reader changes when TLS starts: always read through the channel.
  const read = (n: number) => channel.reader.read(n);
  const send = (bytes: Uint8Array) => channel.wire.send(bytes);
  send(encodeGreeting());
  const clientFlags = new DataView((await read(4)).buffer).getUint32(0);
  if (!(clientFlags & NBD_FLAG_C_FIXED_NEWSTYLE))
    throw new FerryError("PROTOCOL_ERROR", "NBD client does not speak fixed newstyle negotiation");
  // The spec: a server that does not know a client flag must drop the connection.
  if (clientFlags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))
    throw new FerryError(
      "PROTOCOL_ERROR",
      `NBD client sent unknown flags 0x${clientFlags.toString(16)}`,
    );
  const noZeroes = (clientFlags & NBD_FLAG_C_NO_ZEROES) !== 0;
  let structuredReplies = false;
  let contexts: { exportName: string } | undefined;

  for (;;) {
    const { option, lengthBytes } = decodeOptionHeader(await read(16));
    if (lengthBytes > MAX_OPTION_BYTES) {
      if (option === NBD_OPT_EXPORT_NAME)
        throw new FerryError("PROTOCOL_ERROR", "NBD client sent an export name over 64 KiB");
      // Read past it so the stream stays in step, then refuse.
      for (let left = lengthBytes; left > 0; left -= Math.min(left, MAX_OPTION_BYTES))
        await read(Math.min(left, MAX_OPTION_BYTES));
      send(encodeOptionError(option, NBD_REP_ERR_TOO_BIG, "option data over 64 KiB"));
      continue;
    }
    const data = await read(lengthBytes);
    const reply = (type: number, payload?: Uint8Array) =>
      send(encodeOptionReply(option, type, payload));
    const refuse = (type: number, message: string) =>
      send(encodeOptionError(option, type, message));
    // With TLS required, nothing but STARTTLS and ABORT is answered in the clear.
    if (tls && !channel.secure && option !== NBD_OPT_STARTTLS && option !== NBD_OPT_ABORT) {
      if (option === NBD_OPT_EXPORT_NAME)
        throw new FerryError("PERMISSION_DENIED", "NBD client asked for an export without TLS");
      refuse(NBD_REP_ERR_TLS_REQD, "this server requires TLS (NBD_OPT_STARTTLS) first");
      continue;
    }
    try {
      switch (option) {
        case NBD_OPT_STARTTLS:
          if (!tls) {
            refuse(NBD_REP_ERR_POLICY, "this server does not offer TLS");
            break;
          }
          if (channel.secure || data.length > 0) {
            refuse(NBD_REP_ERR_INVALID, "TLS is already on, or STARTTLS carried data");
            break;
          }
          await channel.startTls(tls, encodeOptionReply(option, NBD_REP_ACK));
          // The spec: what was agreed before TLS does not carry over.
          structuredReplies = false;
          contexts = undefined;
          break;
        case NBD_OPT_EXPORT_NAME: {
          const name = new TextDecoder().decode(data);
          const found = lookup(name);
          // This option has no error reply: hanging up is the answer.
          if (!found) throw new FerryError("NOT_FOUND", `no export named ${JSON.stringify(name)}`);
          const reply = encodeExportNameReply(
            found.device.sizeBytes,
            flagsFor(found, structuredReplies),
          );
          send(noZeroes ? reply : concatZeroes(reply, 124));
          return { export: found, structuredReplies, baseAllocation: false };
        }
        case NBD_OPT_ABORT:
          reply(NBD_REP_ACK);
          return undefined;
        case NBD_OPT_LIST:
          if (data.length > 0) {
            refuse(NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
            break;
          }
          for (const name of names()) reply(NBD_REP_SERVER, encodeServerEntry(name));
          reply(NBD_REP_ACK);
          break;
        case NBD_OPT_STRUCTURED_REPLY:
          if (data.length > 0) {
            refuse(NBD_REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
            break;
          }
          structuredReplies = true;
          reply(NBD_REP_ACK);
          break;
        case NBD_OPT_LIST_META_CONTEXT:
        case NBD_OPT_SET_META_CONTEXT: {
          const set = option === NBD_OPT_SET_META_CONTEXT;
          if (!structuredReplies) {
            refuse(NBD_REP_ERR_INVALID, "meta contexts need structured replies first");
            break;
          }
          const request = decodeMetaContextData(data);
          if (!lookup(request.exportName)) {
            refuse(NBD_REP_ERR_UNKNOWN, `no export named ${JSON.stringify(request.exportName)}`);
            break;
          }
          // An empty list asks for everything (LIST) or selects nothing (SET).
          const wanted = request.queries.some((q) => q === BASE_ALLOCATION || q === "base:")
            ? true
            : !set && request.queries.length === 0;
          if (wanted)
            reply(NBD_REP_META_CONTEXT, encodeMetaContext(BASE_ALLOCATION_ID, BASE_ALLOCATION));
          if (set) contexts = wanted ? { exportName: request.exportName } : undefined;
          reply(NBD_REP_ACK);
          break;
        }
        case NBD_OPT_INFO:
        case NBD_OPT_GO: {
          const request = decodeGoData(data);
          const found = lookup(request.exportName);
          if (!found) {
            refuse(NBD_REP_ERR_UNKNOWN, `no export named ${JSON.stringify(request.exportName)}`);
            break;
          }
          reply(
            NBD_REP_INFO,
            encodeInfoExport(found.device.sizeBytes, flagsFor(found, structuredReplies)),
          );
          // Any client may get the sizes: a minimum of 1 asks nothing of it.
          reply(NBD_REP_INFO, encodeInfoBlockSize(1, 4096, found.maxRequestBytes));
          reply(NBD_REP_ACK);
          if (option === NBD_OPT_INFO) break;
          return {
            export: found,
            structuredReplies,
            baseAllocation: contexts !== undefined && lookup(contexts.exportName) === found,
          };
        }
        default:
          refuse(NBD_REP_ERR_UNSUP, `option ${option} is not supported by Ferry's NBD server`);
      }
    } catch (err) {
      if (!isFerryError(err, "INVALID_ARGUMENT")) throw err;
      refuse(NBD_REP_ERR_INVALID, err.message);
    }
  }
}

function concatZeroes(bytes: Uint8Array, zeroes: number): Uint8Array {
  const out = new Uint8Array(bytes.length + zeroes);
  out.set(bytes);
  return out;
}

/** An export's transmission flags on this connection: "don't fragment" needs structured replies. */
function flagsFor(found: ServedExport, structuredReplies: boolean): number {
  return structuredReplies ? found.transmissionFlags : found.transmissionFlags & ~NBD_FLAG_SEND_DF;
}
