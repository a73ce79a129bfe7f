#!/usr/bin/env node
// Only argument parsing is loaded up front: each command imports what it needs, so --help
// and a usage error answer at once.
import { parseArgs, toFerryError } from "@ferry/common/cli";
import { PASSPHRASE_HINT } from "./cli/passphrase-hint.js";

const USAGE = `usage:
  ferry-mover --config <mover.json>                 run the mover agent (gRPC service)
  ferry-mover init --repo <dir> [--passphrase-file F]
                                                    create a repository; with a passphrase it is
                                                    encrypted (AES-256-GCM, keyed chunk ids)
  ferry-mover key add --repo <dir> --passphrase-file F --new-passphrase-file G
                                                    let one more passphrase open the repository
  ferry-mover backup --source <nbd://host:port/export | nbd+unix:///export?socket=PATH | image.raw>
                     --repo <dir> [--vm-id ID] [--name NAME] [--disk-id ID]
                     [--dirty-bitmap NAME --since RESTORE_POINT]
                                                    back up one disk; prints the restore point id
                                                    (an incremental reads only what the export's
                                                    dirty bitmap marks, e.g. qemu-nbd -B NAME)
  ferry-mover restore --repo <dir> --restore-point <id> [--disk ID|N] --to <file> [--format raw|qcow2]
                     [--parallel N]           chunks read at once (default 16)
                     [--overwrite]            replace an existing file (never one a process
                                              or a running VM holds; never a symlink)
  ferry-mover export --repo <dir> --restore-point <id> [--disk ID|N]
                     (--socket <path> | --listen <host:port>) [--writable] [--overlay-dir <dir>]
                     [--tls-ca <ca.crt> --tls-cert <crt> --tls-key <key>]   (TLS, client certs)
                                                    serve a restore point's disks over NBD until
                                                    stopped (instant recovery); writes go to a
                                                    scratch overlay, never to the repository.
                                                    With TLS only certificates of the CA with
                                                    role mover get in (the host whose QEMU boots
                                                    from it); not coordinator (it never reads
                                                    disks) nor operator
  ferry-mover move-disk --qmp <socket> --node <name> --to <image.qcow2> [--overwrite]
                                                    copy a running VM's disk (one booted from an
                                                    export) to a new image and switch it over
  ferry-mover rollback --repo <dir> --restore-point <id> [--disk ID|N] --target <image>
                     --overwrite [--format raw|qcow2] [--parallel N] [--json]
                                                    bring a stopped VM's disk image back to the
                                                    restore point, writing only the chunks that
                                                    differ (raw, or qcow2 through qemu-nbd);
                                                    --overwrite confirms it rewrites the image
  ferry-mover files ls --repo <dir> --restore-point <id> [PATH] [--json]
  ferry-mover files get --repo <dir> --restore-point <id> --to <dir> [--overwrite] PATH...
                                                    browse and extract files (ext4, vfat) of a
                                                    restore point without restoring its disks;
                                                    paths are /<disk id>[-part<N>]/<path>
  ferry-mover test-restore --repo <dir> --restore-point <id> [--json]
                                                    boot the restore point, check its guest comes
                                                    up and mounts its disks; record the result
  ferry-mover restore-points --repo <dir> [--vm-id ID] [--json]
  ferry-mover verify --repo <dir> [--restore-point <id>] [--json]
                                                    re-read and re-hash every chunk; exit 1 if bad
  ferry-mover gc --repo <dir> [--dry-run] [--grace-minutes N] [--json]
                                                    remove chunks no restore point references

  A restore never replaces an existing file unless given --overwrite, and never one that a
  running VM or another process holds open or locked, nor a symlink.

  Every command with --repo takes --passphrase-file F (or FERRY_PASSPHRASE_FILE) for an
  encrypted repository: restore, verify, export and the rest need it; listing and gc do not.
  A backup into a new repository with a passphrase creates it encrypted.
`;

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv, {
    boolean: ["help", "json", "dry-run", "writable", "overwrite"],
    valued: [
      "config",
      "source",
      "repo",
      "vm-id",
      "name",
      "disk-id",
      "restore-point",
      "disk",
      "to",
      "format",
      "dirty-bitmap",
      "since",
      "grace-minutes",
      "parallel",
      "socket",
      "listen",
      "overlay-dir",
      "target",
      "guest-dir",
      "qmp",
      "node",
      "tls-ca",
      "tls-cert",
      "tls-key",
      "passphrase-file",
      "new-passphrase-file",
    ],
  });
  const [command] = args.positionals;
  if (args.flags.has("help")) return void process.stdout.write(USAGE);
  // Ctrl-C cancels a command cleanly: staged restore points and partial files are removed.
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  switch (command) {
    case "init":
      return (await import("./cli/repository-commands.js")).initCommand(args, controller.signal);
    case "key":
      return (await import("./cli/repository-commands.js")).keyCommand(args, controller.signal);
    case "backup":
      return (await import("./cli/commands.js")).backupCommand(args, controller.signal);
    case "restore":
      return (await import("./cli/commands.js")).restoreCommand(args, controller.signal);
    case "export":
      return (await import("./cli/export-command.js")).exportCommand(args, controller.signal);
    case "files":
      return (await import("./cli/files-command.js")).filesCommand(args, controller.signal);
    case "test-restore":
      return (await import("./cli/test-restore-command.js")).testRestoreCommand(
        args,
        controller.signal,
      );
    case "move-disk":
      return (await import("./cli/move-disk-command.js")).moveDiskCommand(args, controller.signal);
    case "rollback":
      return (await import("./cli/rollback-command.js")).rollbackCommand(args, controller.signal);
    case "restore-points":
      return (await import("./cli/commands.js")).listCommand(args, controller.signal);
    case "verify":
      return (await import("./cli/maintenance-commands.js")).verifyCommand(args, controller.signal);
    case "gc":
      return (await import("./cli/maintenance-commands.js")).gcCommand(args, controller.signal);
    case undefined: {
      const path = args.flags.get("config");
      if (typeof path !== "string") {
        process.stderr.write(USAGE);
        process.exitCode = 2;
        return;
      }
      const { loadMoverConfig } = await import("./config.js");
      const { startMover } = await import("./mover.js");
      const mover = await startMover(await loadMoverConfig(path));
      // The agent outlives any one task's bug: log it loudly instead of exiting.
      process.on("unhandledRejection", (err) => {
        process.stderr.write(
          `ferry-mover: unhandled rejection (a bug; the mover stays up): ${toFerryError(err).message}\n`,
        );
      });
      controller.signal.addEventListener("abort", () => void mover.close());
      return;
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(command)} (see --help)`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const error = toFerryError(err);
  const hint = error.code === "KEY_REQUIRED" ? ` (${PASSPHRASE_HINT})` : "";
  process.stderr.write(`ferry-mover: ${error.message}${hint}\n`);
  process.exitCode = 1;
});
