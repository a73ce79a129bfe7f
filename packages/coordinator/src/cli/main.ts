#!/usr/bin/env node
// Only argument parsing is loaded up front: the commands (gRPC, the coordinator) load once a
// command line names one, so --help and a usage error answer at once.
import { isFerryError, parseArgs, toFerryError } from "@ferry/common/cli";

const USAGE = `usage: ferry <command> [options]

commands:
  coordinator [--config FILE]   run the coordinator (gRPC API for movers and operators)
  movers                        list registered movers
  vms [--tag TAG]               list VMs the movers report
  policies [list]               list backup policies
  policies create --name NAME (--vm GLOB,... | --tag TAG,...) --repo DIR
        [--schedule CRON] [--window HH:MM-HH:MM] [--tz ZONE] [--keep-last N]
        [--quiesce required|preferred|off] [--transport hotadd|nbd|any]
        [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N]
        [--full-every N] [--full-every-days N] [--verify-schedule CRON]
        [--test-restore]        boot each new restore point and check its guest comes up
  policies delete NAME|ID
  backup (--policy NAME | --vm NAME,...) [--repo DIR] [--quiesce MODE] [--transport T] [--full] [--wait]
                                start a backup job now; prints its id (or watches it)
  jobs [list] | jobs show ID | jobs watch ID
                                jobs, one job's tasks, or a live progress view
  restore-points [--vm ID]      restore points in the catalog
  restore RESTORE-POINT --to DIR [--disk ID,...] [--overwrite] [--wait]
                                write a restore point's disks as qcow2 files on a mover
                                (<disk id>.qcow2 in DIR; an existing one is replaced only
                                with --overwrite, never while a VM or process holds it)
  files ls RESTORE-POINT [PATH]  list a restore point's files (/ lists its filesystems;
                                paths are /<disk id>[-part<N>]/<path>), read by a mover
  files get RESTORE-POINT PATH... --to DIR [--overwrite]
                                extract files or folders into DIR on that mover's host
                                (a new or empty DIR, unless --overwrite)
  catalog rescan --repo DIR     rebuild the catalog's restore points from a repository
  prune --policy NAME [--vm ID,...] [--dry-run]
                                apply the policy's retention now (or list what would go)
  gc [--repo DIR] [--dry-run] [--grace-minutes N]
                                remove chunks no restore point references
  verify [--repo DIR] [RESTORE-POINT ...]
                                re-read and re-hash every chunk; exit 1 when anything is bad
  plan [--policy NAME] [--per-host N] [--per-datastore N] [--total N] [--tasks N]
                                plan the window: tasks, load per datastore, lower bound
  simulate [--policy NAME] [--per-host 1,2,4] [--per-datastore 1,2] [--total 8,16] [--no-io-control]
                                what-if: simulated window end and latency per grid of limits
  token new --name NAME --role viewer|operator|admin
                                a new operator API token, and the entry for the coordinator
  pki init --dir DIR            create a certificate authority for mutual TLS
  pki issue --dir DIR --name NAME [--host 127.0.0.1,localhost] [--role operator|mover|coordinator]
                                issue NAME.crt and NAME.key; the role says what it may call:
                                coordinator (movers), mover (registration), operator (the API)

options:
  --server HOST:PORT   coordinator address (default $FERRY_SERVER or 127.0.0.1:7100)
  --tls-ca FILE --tls-cert FILE --tls-key FILE
                       mutual TLS with a coordinator that requires it
                       (default $FERRY_TLS_CA, $FERRY_TLS_CERT, $FERRY_TLS_KEY)
  --token TOKEN        operator API token (default $FERRY_TOKEN)
  --json               machine-readable output
`;

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv, {
    boolean: [
      "json",
      "help",
      "wait",
      "full",
      "dry-run",
      "no-io-control",
      "test-restore",
      "overwrite",
    ],
    valued: [
      "server",
      "config",
      "tag",
      "vm",
      "policy",
      "repo",
      "quiesce",
      "transport",
      "name",
      "schedule",
      "window",
      "tz",
      "keep-last",
      "keep-hourly",
      "keep-daily",
      "keep-weekly",
      "keep-monthly",
      "keep-yearly",
      "full-every",
      "full-every-days",
      "verify-schedule",
      "grace-minutes",
      "per-host",
      "per-datastore",
      "total",
      "tasks",
      "to",
      "disk",
      "tls-ca",
      "tls-cert",
      "tls-key",
      "dir",
      "host",
      "token",
      "role",
    ],
  });
  const [command] = args.positionals;
  if (!command || args.flags.has("help")) {
    process.stdout.write(USAGE);
    if (!command && !args.flags.has("help")) process.exitCode = 2;
    return;
  }
  return (await import("./run-command.js")).runCommand(args, command);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const fe = toFerryError(err);
  const hint =
    isFerryError(err) && err.code === "UNAVAILABLE"
      ? " (is the coordinator running, and does it require TLS? see --server and --tls-*)"
      : "";
  process.stderr.write(`ferry: ${fe.message}${hint}\n`);
  process.exitCode = 1;
});
