import { FerryError } from "@ferry/common/core";

/** Where an offline backup reads from. */
export type SourceSpec =
  | { t: "nbd"; host: string; port: number; exportName: string }
  | { t: "nbd-unix"; path: string; exportName: string }
  | { t: "file"; path: string };

/**
 * Parses `nbd://host[:port]/export`, `nbd+unix:///export?socket=/path` (the
 * NBD URI spec, as nbdinfo takes them) or a plain file path.
 */
export function parseSourceSpec(text: string): SourceSpec {
  if (!/^[a-z+]+:\/\//.test(text)) return { t: "file", path: text };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new FerryError("INVALID_ARGUMENT", `cannot parse the source URI ${JSON.stringify(text)}`);
  }
  const exportName = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (url.protocol === "nbd:") {
    if (!url.hostname)
      throw new FerryError("INVALID_ARGUMENT", `${text}: an nbd:// URI needs a host`);
    return {
      t: "nbd",
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port ? Number(url.port) : 10809,
      exportName,
    };
  }
  if (url.protocol === "nbd+unix:") {
    const path = url.searchParams.get("socket");
    if (!path)
      throw new FerryError("INVALID_ARGUMENT", `${text}: an nbd+unix:// URI needs ?socket=/path`);
    return { t: "nbd-unix", path, exportName };
  }
  throw new FerryError(
    "INVALID_ARGUMENT",
    `${text}: unsupported scheme ${url.protocol} (use nbd://, nbd+unix:// or a file path)`,
  );
}
