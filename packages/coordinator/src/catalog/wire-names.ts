import { QuiesceMode, Transport } from "@ferry/common";
import type { QuiesceModeName, TransportName } from "./records.js";

// The catalog's names for quiesce modes and transports <-> the wire's enums, in one place
// for the API, the job service and stored task specs.

/** A quiesce mode name as the wire's enum. */
export const QUIESCE_TO_WIRE: Readonly<Record<QuiesceModeName, QuiesceMode>> = {
  required: QuiesceMode.REQUIRED,
  preferred: QuiesceMode.PREFERRED,
  off: QuiesceMode.OFF,
};

/** A transport name as the wire's enum ("any" = unspecified). */
export const TRANSPORT_TO_WIRE: Readonly<Record<TransportName, Transport>> = {
  hotadd: Transport.HOTADD,
  nbd: Transport.NBD,
  any: Transport.UNSPECIFIED,
};

/** The wire's quiesce mode as a name; undefined when unset (callers pick the default). */
export function quiesceName(q: QuiesceMode): QuiesceModeName | undefined {
  return q === QuiesceMode.REQUIRED
    ? "required"
    : q === QuiesceMode.OFF
      ? "off"
      : q === QuiesceMode.PREFERRED
        ? "preferred"
        : undefined;
}

/** The wire's transport as a name (unset = any). */
export function transportName(t: Transport): TransportName {
  return t === Transport.HOTADD ? "hotadd" : t === Transport.NBD ? "nbd" : "any";
}
