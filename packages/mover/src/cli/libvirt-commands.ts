// Restores to libvirt from the command line: a full restore as a new domain, and instant
// recovery (boot from an export, then move the disks to local images live).
import { createLogger, type ParsedArgs } from "@ferry/common";
import { bootDomainFromExport, moveDomainToLocal } from "../libvirt/instant-recovery.js";
import { restoreLibvirtDomain } from "../libvirt/restore-domain.js";
import { createVirsh } from "../libvirt/virsh.js";
import { flag } from "./commands.js";
import { openRepositoryFromFlags } from "./repository-flags.js";

const out = (line: string) => process.stdout.write(`${line}\n`);
const virshOf = (args: ParsedArgs) => createVirsh({ uri: flag(args, "libvirt") as string });
// Progress lines go to stderr; stdout carries only the result.
const logger = () => createLogger({ name: "ferry-mover", level: "warn" });

/**
 * `restore-domain --libvirt URI --repo DIR --restore-point ID --name NAME --dir DIR
 * [--start]`: restores the disks into DIR and defines a new domain on them.
 */
export async function restoreDomainCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const virsh = virshOf(args);
  await using repository = await openRepositoryFromFlags(args, signal);
  const restored = await restoreLibvirtDomain({
    virsh,
    repository,
    restorePointId: flag(args, "restore-point") as string,
    name: flag(args, "name") as string,
    imageDir: flag(args, "dir") as string,
    start: args.flags.has("start"),
    logger: logger(),
    signal,
  });
  out(
    `defined domain ${restored.name} (uuid ${restored.uuid}) on ${restored.disks.map((d) => d.path).join(", ")}${args.flags.has("start") ? "; started" : ""}`,
  );
}

/**
 * `recover-domain --libvirt URI --repo DIR --restore-point ID --name NAME --socket PATH`:
 * boots a transient domain whose disks are the restore point's export at PATH (served by
 * `export --writable --socket PATH`).
 */
export async function recoverDomainCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const virsh = virshOf(args);
  await using repository = await openRepositoryFromFlags(args, signal);
  const name = flag(args, "name") as string;
  const uuid = await bootDomainFromExport({
    virsh,
    repository,
    restorePointId: flag(args, "restore-point") as string,
    name,
    socket: flag(args, "socket") as string,
    logger: logger(),
    signal,
  });
  out(`started domain ${name} (uuid ${uuid}) from the export; move it with move-domain`);
}

/**
 * `move-domain --libvirt URI --domain NAME --dir DIR`: copies a recovered domain's disks to
 * DIR while it runs, switches it over and defines it; then the export can stop.
 */
export async function moveDomainCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const domain = flag(args, "domain") as string;
  const started = Date.now();
  const moved = await moveDomainToLocal({
    virsh: virshOf(args),
    domain,
    imageDir: flag(args, "dir") as string,
    logger: logger(),
    signal,
  });
  out(
    `moved domain ${domain} to ${moved.map((m) => m.path).join(", ")} in ${((Date.now() - started) / 1000).toFixed(1)} s; the export can stop`,
  );
}
