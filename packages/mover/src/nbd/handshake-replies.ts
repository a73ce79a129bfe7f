import { FerryError } from "@ferry/common/core";
import { readSafeUint64, view } from "./byte-reader.js";
import {
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_EXPORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ERR_BLOCK_SIZE_REQD,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_NAMES,
  NBD_REP_ERR_PLATFORM,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_SHUTDOWN,
  NBD_REP_ERR_TLS_REQD,
  NBD_REP_ERR_TOO_BIG,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_FLAG_ERROR,
} from "./constants.js";
import type { NbdBlockSize } from "./handshake.js";
import { nbdProtocolError } from "./nbd-errors.js";

// Decoders for the payloads of option replies. Pure functions of bytes.

/** Export facts gathered from NBD_REP_INFO replies (or NBD_OPT_EXPORT_NAME's reply). */
export interface ExportFacts {
  exportSizeBytes?: number;
  transmissionFlags?: number;
  readOnly?: boolean;
  blockSize: NbdBlockSize;
}

const OPTION_NAMES: Readonly<Record<number, string>> = {
  [NBD_OPT_EXPORT_NAME]: "NBD_OPT_EXPORT_NAME",
  [NBD_OPT_GO]: "NBD_OPT_GO",
  [NBD_OPT_STRUCTURED_REPLY]: "NBD_OPT_STRUCTURED_REPLY",
  [NBD_OPT_SET_META_CONTEXT]: "NBD_OPT_SET_META_CONTEXT",
  [NBD_OPT_STARTTLS]: "NBD_OPT_STARTTLS",
};

/** "NBD_OPT_GO", or "option 42" for one Ferry does not know. */
export function optionName(option: number): string {
  return OPTION_NAMES[option] ?? `option ${option}`;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/** Decodes NBD_INFO_EXPORT / NBD_INFO_BLOCK_SIZE into `facts`; ignores other types, as the spec asks. */
export function decodeInfo(data: Uint8Array, facts: ExportFacts): void {
  if (data.length < 2) throw nbdProtocolError(`NBD_REP_INFO of ${data.length} bytes has no type`);
  const dv = view(data);
  const type = dv.getUint16(0);
  if (type === NBD_INFO_EXPORT) {
    if (data.length !== 12) {
      throw nbdProtocolError(`NBD_INFO_EXPORT is ${data.length} bytes, expected 12`);
    }
    Object.assign(facts, decodeSizeAndFlags(dv, 2));
  } else if (type === NBD_INFO_BLOCK_SIZE) {
    if (data.length !== 14) {
      throw nbdProtocolError(`NBD_INFO_BLOCK_SIZE is ${data.length} bytes, expected 14`);
    }
    facts.blockSize = checkBlockSize({
      minimum: dv.getUint32(2),
      preferred: dv.getUint32(6),
      maximum: dv.getUint32(10),
    });
  }
}

/** Decodes the reply to NBD_OPT_EXPORT_NAME: size, flags, optional zero padding. */
export function decodeExportReply(data: Uint8Array): Omit<ExportFacts, "blockSize"> {
  return decodeSizeAndFlags(view(data), 0);
}

function decodeSizeAndFlags(dv: DataView, at: number): Omit<ExportFacts, "blockSize"> {
  const exportSizeBytes = readSafeUint64(dv, at);
  if (exportSizeBytes === undefined) {
    throw nbdProtocolError(`export size ${dv.getBigUint64(at)} is too large`);
  }
  const transmissionFlags = dv.getUint16(at + 8);
  if ((transmissionFlags & NBD_FLAG_HAS_FLAGS) === 0) {
    throw nbdProtocolError("transmission flags lack NBD_FLAG_HAS_FLAGS");
  }
  return {
    exportSizeBytes,
    transmissionFlags,
    readOnly: (transmissionFlags & NBD_FLAG_READ_ONLY) !== 0,
  };
}

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

function checkBlockSize(b: NbdBlockSize): NbdBlockSize {
  const bad = (what: string) =>
    nbdProtocolError(
      `block sizes min ${b.minimum}, preferred ${b.preferred}, max ${b.maximum}: ${what}`,
    );
  if (!isPowerOfTwo(b.minimum) || b.minimum > 65536) {
    throw bad("minimum is not a power of 2 up to 65536");
  }
  if (!isPowerOfTwo(b.preferred) || b.preferred < Math.max(b.minimum, 512)) {
    throw bad("preferred is not a power of 2 at least max(minimum, 512)");
  }
  if (b.maximum < b.preferred) throw bad("maximum is below preferred");
  return b;
}

/** Decodes NBD_REP_META_CONTEXT, checking the name was asked for and id and name are new. */
export function decodeMetaContext(
  data: Uint8Array,
  requested: readonly string[],
  granted: ReadonlyMap<string, number>,
): { id: number; name: string } {
  if (data.length < 5) {
    throw nbdProtocolError(`NBD_REP_META_CONTEXT of ${data.length} bytes has no name`);
  }
  const id = view(data).getUint32(0);
  let name: string;
  try {
    name = utf8.decode(data.subarray(4));
  } catch (cause) {
    throw nbdProtocolError("meta context name is not valid UTF-8", { cause });
  }
  if (!requested.includes(name)) {
    throw nbdProtocolError(`server selected meta context ${JSON.stringify(name)}, never requested`);
  }
  if (granted.has(name)) {
    throw nbdProtocolError(`server selected meta context ${JSON.stringify(name)} twice`);
  }
  for (const [other, otherId] of granted) {
    if (otherId === id) {
      throw nbdProtocolError(`meta contexts ${other} and ${name} share id ${id}`);
    }
  }
  return { id, name };
}

/**
 * True for error replies that only mean "this optional feature is not
 * available": Ferry carries on without it.
 */
export function softOptionError(replyType: number): boolean {
  return [
    NBD_REP_ERR_UNSUP,
    NBD_REP_ERR_POLICY,
    NBD_REP_ERR_INVALID,
    NBD_REP_ERR_PLATFORM,
    NBD_REP_ERR_TOO_BIG,
  ].includes(replyType);
}

/** The FerryError for an option the server refused (or answered with an unexpected type). */
export function optionFailure(
  option: number,
  replyType: number,
  data: Uint8Array,
  exportName: Uint8Array,
): FerryError {
  const opt = optionName(option);
  if ((replyType & NBD_REP_FLAG_ERROR) === 0) {
    return nbdProtocolError(`unexpected reply type ${replyType} to ${opt}`);
  }
  const errName = NBD_REP_ERR_NAMES[replyType] ?? `error 0x${replyType.toString(16)}`;
  const message = data.length > 0 ? `: ${lenient.decode(data)}` : "";
  const exportText = JSON.stringify(lenient.decode(exportName));
  const details = { option: opt, reply: errName };
  switch (replyType) {
    case NBD_REP_ERR_UNKNOWN:
      return new FerryError("NOT_FOUND", `NBD export ${exportText} does not exist${message}`, {
        details,
      });
    case NBD_REP_ERR_SHUTDOWN:
      return new FerryError("UNAVAILABLE", `NBD server is shutting down${message}`, { details });
    case NBD_REP_ERR_TLS_REQD:
      // Only a client without TLS gets here: with TLS, STARTTLS is the first option.
      return new FerryError(
        "FAILED_PRECONDITION",
        `the NBD server requires TLS (it answered ${opt} for export ${exportText} with NBD_REP_ERR_TLS_REQD), but this client is not configured for TLS${message}`,
        { details },
      );
    case NBD_REP_ERR_BLOCK_SIZE_REQD:
      // Ferry always asks for NBD_INFO_BLOCK_SIZE, so this reply breaks the spec.
      return nbdProtocolError(`${opt} failed with ${errName} although block sizes were requested`);
    default:
      return new FerryError(
        "FAILED_PRECONDITION",
        `NBD server refused ${opt}: ${errName}${message}`,
        {
          details,
        },
      );
  }
}

/**
 * The FerryError for a server that did not accept NBD_OPT_STARTTLS. A client that asked for
 * TLS stops here: carrying on in plaintext would expose the disk to the network.
 */
export function startTlsRefused(replyType: number, data: Uint8Array): FerryError {
  if ((replyType & NBD_REP_FLAG_ERROR) === 0) {
    return nbdProtocolError(`unexpected reply type ${replyType} to NBD_OPT_STARTTLS`);
  }
  const errName = NBD_REP_ERR_NAMES[replyType] ?? `error 0x${replyType.toString(16)}`;
  const message = data.length > 0 ? `: ${lenient.decode(data)}` : "";
  return new FerryError(
    "FAILED_PRECONDITION",
    `the NBD server refused TLS (NBD_OPT_STARTTLS answered ${errName}): it does not offer TLS, and this client requires it${message}`,
    { details: { option: "NBD_OPT_STARTTLS", reply: errName } },
  );
}
