import { FerryError, type ParsedArgs, type TlsFiles } from "@ferry/common";
import { openRestorePointDisk } from "../export/restore-point-export.js";
import type { ExportDevice } from "../nbd-server/export-device.js";
import { type NbdListen, startNbdServer } from "../nbd-server/nbd-server.js";
import { pickDisks } from "../restore/pick-disk.js";
import { flag } from "./commands.js";
import { openRepositoryFromFlags } from "./repository-flags.js";

/**
 * `export --repo <dir> --restore-point <id> [--disk ID|N] (--socket <path> | --listen
 * <host:port>) [--writable] [--overlay-dir <dir>]`: serves the restore point's disks over
 * NBD (each under its disk id; the first is also the default export) until stopped.
 * Prints one NBD URI a line once clients can connect. With `--tls-*` only clients with a
 * certificate of that CA with role mover get in (NBD_CLIENT_ROLES).
 */
export async function exportCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const listen = listenFlag(args);
  await using repository = await openRepositoryFromFlags(args, signal);
  const restorePointId = flag(args, "restore-point") as string;
  const diskIds = await pickDisks(repository, restorePointId, flag(args, "disk", false), signal);
  const overlayDir = flag(args, "overlay-dir", false);
  const devices: { name: string; device: ExportDevice }[] = [];
  try {
    for (const diskId of diskIds)
      devices.push({
        name: diskId,
        device: await openRestorePointDisk({
          repository,
          restorePointId,
          diskId,
          writable: args.flags.has("writable"),
          ...(overlayDir === undefined ? {} : { overlayDir }),
          signal,
        }),
      });
    const tls = tlsFlags(args);
    await using server = await startNbdServer({
      exports: devices,
      listen,
      ...(tls ? { tls } : {}),
    });
    if ("host" in listen && !LOOPBACK.has(listen.host) && !tls)
      process.stderr.write(
        `warning: without --tls-ca/--tls-cert/--tls-key anyone who reaches ${listen.host}:${listen.port} can read${args.flags.has("writable") ? " and write" : ""} this restore point\n`,
      );
    for (const { name } of devices)
      process.stdout.write(`${nbdUri(server.address, name, tls !== undefined)}\n`);
    process.stderr.write(
      `serving restore point ${restorePointId} (${args.flags.has("writable") ? "writes go to a scratch overlay" : "read-only"}); Ctrl-C stops\n`,
    );
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    for (const { device } of devices) await device.close();
  }
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

function listenFlag(args: ParsedArgs): NbdListen {
  const socket = flag(args, "socket", false);
  const tcp = flag(args, "listen", false);
  if ((socket === undefined) === (tcp === undefined))
    throw new FerryError(
      "INVALID_ARGUMENT",
      "give exactly one of --socket <path> and --listen <host:port>",
    );
  if (socket !== undefined) return { path: socket };
  const m = /^(.*):(\d+)$/.exec(tcp as string);
  if (!m) throw new FerryError("INVALID_ARGUMENT", `--listen must be host:port, not ${tcp}`);
  const port = Number(m[2]);
  if (port > 65535) throw new FerryError("INVALID_ARGUMENT", `--listen port ${port} is over 65535`);
  return { host: (m[1] as string).replace(/^\[(.*)\]$/, "$1"), port };
}

/** The URI an NBD client (qemu-img, nbdcopy, nbdinfo) takes for an export; nbds: with TLS. */
export function nbdUri(address: NbdListen, exportName: string, tls = false): string {
  const name = encodeURIComponent(exportName);
  const scheme = tls ? "nbds" : "nbd";
  if ("path" in address) return `${scheme}+unix:///${name}?socket=${address.path}`;
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `${scheme}://${host}:${address.port}/${name}`;
}

/** --tls-ca/--tls-cert/--tls-key: all three or none. */
function tlsFlags(args: ParsedArgs): TlsFiles | undefined {
  const ca = flag(args, "tls-ca", false);
  const cert = flag(args, "tls-cert", false);
  const key = flag(args, "tls-key", false);
  if (ca === undefined && cert === undefined && key === undefined) return undefined;
  if (ca === undefined || cert === undefined || key === undefined)
    throw new FerryError("INVALID_ARGUMENT", "TLS needs all of --tls-ca, --tls-cert and --tls-key");
  return { ca, cert, key };
}
