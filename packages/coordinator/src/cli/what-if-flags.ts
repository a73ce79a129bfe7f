// The what-if flags of `ferry plan --estate` and `ferry simulate --estate`, read into a WhatIf.
import { FerryError, type ParsedArgs } from "@ferry/common";
import type { WhatIf } from "../estate-files/what-if.js";
import { windowLength } from "../estate-files/window-length.js";
import { str } from "./cli-io.js";
import { numbers } from "./plan-commands.js";

function positive(args: ParsedArgs, name: string, max: number): number | undefined {
  const v = str(args, name);
  if (v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > max)
    throw new FerryError(
      "INVALID_ARGUMENT",
      `--${name} takes a number above 0 up to ${max}, got "${v}"`,
    );
  return n;
}

function whole(args: ParsedArgs, name: string, max: number): number | undefined {
  const n = positive(args, name, max);
  if (n !== undefined && !Number.isInteger(n))
    throw new FerryError("INVALID_ARGUMENT", `--${name} takes a whole number, got "${n}"`);
  return n;
}

/** `--movers N` (replace) or `--movers +N` (add). */
export function moversFlag(args: ParsedArgs): WhatIf["movers"] {
  const v = str(args, "movers");
  if (v === "") return undefined;
  const m = /^(\+?)(\d+)$/.exec(v);
  const count = Number(m?.[2]);
  if (!m || count < 1 || count > 10_000)
    throw new FerryError("INVALID_ARGUMENT", `--movers takes N or +N (1-10000), got "${v}"`);
  return { count, add: m[1] === "+" };
}

/** Reads the what-if flags (of a limit given as a list, the first value). */
export function whatIfFlags(args: ParsedArgs): WhatIf {
  const MBps = (name: string) => {
    const n = positive(args, name, 1e6);
    return n === undefined ? undefined : n * 1e6;
  };
  const limit = (name: string) => numbers(args, name)[0];
  const limits: NonNullable<WhatIf["limits"]> = {};
  const perHost = limit("per-host");
  const perDatastore = limit("per-datastore");
  const total = limit("total");
  if (perHost) limits.perHost = perHost;
  if (perDatastore) limits.perDatastore = perDatastore;
  if (total) limits.total = total;
  const pct = str(args, "change-rate");
  let changeRate: number | undefined;
  if (pct !== "") {
    const n = Number(pct.replace(/%$/, ""));
    if (!Number.isFinite(n) || n < 0 || n > 100)
      throw new FerryError(
        "INVALID_ARGUMENT",
        `--change-rate takes a percentage 0-100, got "${pct}"`,
      );
    changeRate = n / 100;
  }
  const movers = moversFlag(args);
  const moverSlots = whole(args, "mover-slots", 1000);
  const moverThroughputBps = MBps("mover-throughput");
  const hostThroughputBps = MBps("host-throughput");
  const datastoreThroughputBps = MBps("datastore-throughput");
  const window = str(args, "window");
  return {
    ...(movers ? { movers } : {}),
    ...(moverSlots ? { moverSlots } : {}),
    ...(moverThroughputBps ? { moverThroughputBps } : {}),
    ...(hostThroughputBps ? { hostThroughputBps } : {}),
    ...(datastoreThroughputBps ? { datastoreThroughputBps } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
    ...(window ? { windowS: windowLength(window, "--window") } : {}),
    ...(changeRate === undefined ? {} : { changeRate }),
  };
}
