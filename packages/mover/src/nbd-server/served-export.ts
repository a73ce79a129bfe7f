import {
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_DF,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_FUA,
  NBD_FLAG_SEND_WRITE_ZEROES,
} from "../nbd/constants.js";
import { MAX_READ_BYTES } from "../nbd/limits.js";
import type { ExportDevice } from "./export-device.js";

/** An export as the server offers it: a name, its device, and what clients may send. */
export interface ServedExport {
  readonly name: string;
  readonly device: ExportDevice;
  /** Transmission flags for the device (less SEND_DF without structured replies). */
  readonly transmissionFlags: number;
  /** Largest read or write one request may carry, bytes. */
  readonly maxRequestBytes: number;
}

/** Describes `device` for clients: read-only devices allow many connections. */
export function serveExport(name: string, device: ExportDevice): ServedExport {
  // Every read is answered in one piece, so "don't fragment" costs nothing to honour.
  let flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_DF;
  if (device.writable)
    flags |= NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_WRITE_ZEROES;
  else flags |= NBD_FLAG_READ_ONLY | NBD_FLAG_CAN_MULTI_CONN;
  return { name, device, transmissionFlags: flags, maxRequestBytes: MAX_READ_BYTES };
}
