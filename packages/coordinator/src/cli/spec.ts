// The `ferry` commands, one table each: what main.ts validates a command line against, what
// --help prints, and what docs/cli.md is generated from. Loaded before any command runs: no
// imports but the table types.
import {
  type CliSpec,
  type CommandSpec,
  GC_OPTIONS,
  JSON_OPTION,
  type OptionSpec,
} from "@ferry/common/cli";

const JSON_OUT = JSON_OPTION;

// How a command reaches the coordinator's API.
const CONNECTION: OptionSpec[] = [
  {
    name: "server",
    value: "HOST:PORT[,...]",
    default: "$FERRY_SERVER or 127.0.0.1:7100",
    help: "coordinator address; several: the leader among them is found",
  },
  {
    name: "tls-ca",
    value: "FILE",
    default: "$FERRY_TLS_CA",
    help: "CA certificate, for a coordinator that requires mutual TLS",
  },
  {
    name: "tls-cert",
    value: "FILE",
    default: "$FERRY_TLS_CERT",
    help: "this operator's certificate",
  },
  { name: "tls-key", value: "FILE", default: "$FERRY_TLS_KEY", help: "its private key" },
  { name: "token", value: "TOKEN", default: "$FERRY_TOKEN", help: "operator API token" },
];
// `ferry plan --estate` and `ferry simulate --estate`: an estate file and what to change in it.
const WHAT_IF: OptionSpec[] = [
  {
    name: "estate",
    value: "FILE|DIR",
    help: "plan offline, without a coordinator: an estate .json, or an RVTools export (a directory, or FILE,... of its vInfo, vDisk, vHost and vDatastore CSVs); docs/capacity-planning.md",
  },
  {
    name: "movers",
    value: "N|+N",
    help: "N model movers instead of the estate's (+N: added to them); a model mover reads any host's VMs, mounts every datastore",
  },
  {
    name: "mover-slots",
    value: "N",
    default: "4",
    help: "tasks at once per mover (model movers; given: every mover)",
  },
  {
    name: "mover-throughput",
    value: "MB/S",
    default: "1600",
    help: "what a mover moves at most, all its tasks together",
  },
  {
    name: "host-throughput",
    value: "MB/S",
    default: "the file's, else 1250",
    help: "backup reads a host sustains",
  },
  {
    name: "datastore-throughput",
    value: "MB/S",
    default: "the file's, else 1000",
    help: "reads a datastore sustains (production takes its share)",
  },
  {
    name: "window",
    value: "HH:MM-HH:MM|HOURS",
    default: "the file's",
    help: "the backup window the plan must meet",
  },
  {
    name: "change-rate",
    value: "PCT",
    default: "full backups",
    help: "daily change rate: each VM's backup reads its size x PCT/100 (an incremental)",
  },
  {
    name: "allow-unused-datastores",
    help: "a datastore no VM uses is a note, not an error",
  },
];

// `--svg`: the window drawn as a picture (plan, and simulate with --estate).
const SVG: OptionSpec[] = [
  {
    name: "svg",
    value: "FILE",
    help: "draw the window to FILE: tasks by mover or datastore, each datastore's load and latency under them, the window's end marked",
  },
  {
    name: "svg-rows",
    value: "mover|datastore",
    default: "mover",
    help: "what a row of tasks is in --svg",
  },
];

// Commands that call the API: the connection options, and --json.
const API = { options: [JSON_OUT], optionSets: ["connection"] };

const WAIT: OptionSpec = { name: "wait", help: "watch the job until it ends; exit 1 if it fails" };
const QUIESCE: OptionSpec = {
  name: "quiesce",
  value: "required|preferred|off",
  help: "freeze the guest's filesystems first: required fails a VM without a guest agent",
};
const TRANSPORT: OptionSpec = {
  name: "transport",
  value: "hotadd|nbd|any",
  help: "how movers read disks: hotadd on the VM's host, nbd over the network",
};
const keep = (unit: string): OptionSpec => ({
  name: `keep-${unit}`,
  value: "N",
  help: `keep the newest restore point of each of the last N ${unit === "daily" ? "days" : unit.replace("ly", "s")}`,
});

// Commands that open a catalog database themselves.
const CATALOG_AT = (name: string, help: string): OptionSpec => ({
  name,
  value: "PATH|URL",
  help: `${help}: PATH or sqlite:PATH, or postgres://USER@HOST/DB`,
});
const PASSWORD_FILE = (name: string): OptionSpec => ({
  name,
  value: "FILE",
  default: "$PGPASSWORD or ~/.pgpass",
  help: "PostgreSQL password, first line of FILE (mode 0600); never in the URL",
});

const commands: CommandSpec[] = [
  {
    name: "coordinator",
    usage: "",
    summary: "run the coordinator: inventory, policies, catalog, planner and the gRPC API",
    options: [
      {
        name: "config",
        value: "FILE",
        help: "coordinator.json (docs/operations.md); without it, defaults on 127.0.0.1",
      },
    ],
    example: "coordinator --config /etc/ferry/coordinator.json",
  },
  {
    name: "movers",
    usage: "",
    summary: "list registered movers: state, host, datastores, slots, latency, heartbeat",
    ...API,
    example: "movers",
  },
  {
    name: "vms",
    usage: "",
    summary: "list the VMs the movers report, with disks, datastores and tags",
    options: [{ name: "tag", value: "TAG", help: "only VMs with this tag" }, JSON_OUT],
    optionSets: API.optionSets,
    example: "vms --tag prod",
  },
  {
    name: "policies list",
    implied: true,
    usage: "",
    summary: "list backup policies",
    ...API,
    example: "policies",
  },
  {
    name: "policies create",
    usage: "--name NAME (--vm GLOB,... | --tag TAG,...) --repo DIR",
    summary: "create a backup policy: which VMs, when, where to, and what to keep",
    options: [
      { name: "name", value: "NAME", help: "the policy's name (letters, digits, . _ -)" },
      { name: "vm", value: "GLOB,...", help: "VM names it covers (shell globs)" },
      { name: "tag", value: "TAG,...", help: "VM tags it covers" },
      { name: "repo", value: "DIR", help: "repository the backups go to, on the movers" },
      {
        name: "schedule",
        value: "CRON",
        help: "when backups start (5-field cron); none: only by hand",
      },
      {
        name: "window",
        value: "HH:MM-HH:MM",
        help: "backup window the planner fits the jobs into",
      },
      { name: "tz", value: "ZONE", default: "UTC", help: "time zone of schedule and window" },
      { name: "keep-last", value: "N", default: "7", help: "keep the newest N restore points" },
      keep("hourly"),
      keep("daily"),
      keep("weekly"),
      keep("monthly"),
      keep("yearly"),
      { ...QUIESCE, default: "preferred" },
      { ...TRANSPORT, default: "any" },
      { name: "full-every", value: "N", help: "a full backup after every N incrementals" },
      { name: "full-every-days", value: "N", help: "a full backup when the last is N days old" },
      {
        name: "verify-schedule",
        value: "CRON",
        help: "when to re-read and re-hash the repository",
      },
      { name: "test-restore", help: "boot each new restore point and check its guest comes up" },
      JSON_OUT,
    ],
    optionSets: API.optionSets,
    example:
      "policies create --name nightly --tag prod --repo /srv/ferry --schedule '0 1 * * *' --window 01:00-05:00 --keep-daily 14",
  },
  {
    name: "policies delete",
    usage: "NAME|ID",
    summary: "delete a backup policy (its restore points stay)",
    ...API,
    example: "policies delete nightly",
  },
  {
    name: "backup",
    usage: "(--policy NAME | --vm NAME,...)",
    summary: "start a backup job now; prints its id, or watches it with --wait",
    options: [
      { name: "policy", value: "NAME", help: "back up the VMs of this policy, with its settings" },
      { name: "vm", value: "NAME,...", help: "back up these VMs" },
      { name: "repo", value: "DIR", help: "repository (required with --vm, else the policy's)" },
      QUIESCE,
      TRANSPORT,
      { name: "full", help: "a full backup, even where an incremental could be taken" },
      WAIT,
      JSON_OUT,
    ],
    optionSets: API.optionSets,
    example: "backup --vm web-1,db-1 --repo /srv/ferry --wait",
  },
  {
    name: "jobs list",
    implied: true,
    usage: "",
    summary: "list jobs, newest first",
    ...API,
    example: "jobs",
  },
  {
    name: "jobs show",
    usage: "JOB-ID",
    summary: "one job, its tasks counted by state, and its tasks: VM, mover, attempt, error",
    details:
      "A large job's tasks come a page at a time: the first ones, and the flag that shows the\nnext ones. With --json every task unless --tasks says otherwise.",
    options: [
      {
        name: "tasks",
        value: "N|all",
        default: "50 (all with --json)",
        help: "tasks to list, in the job's order",
      },
      {
        name: "state",
        value: "queued|running|succeeded|failed|cancelled",
        help: "only tasks in this state",
      },
      { name: "page-token", value: "TOKEN", help: "go on where the previous listing stopped" },
      JSON_OUT,
    ],
    optionSets: API.optionSets,
    example: "jobs show 7 --state failed",
  },
  {
    name: "jobs watch",
    usage: "JOB-ID",
    summary: "follow a job until it ends: progress bars on a terminal, a line per change in a pipe",
    ...API,
    example: "jobs watch 7",
  },
  {
    name: "restore-points",
    usage: "",
    summary: "list the restore points in the catalog, with consistency and test-restore result",
    options: [{ name: "vm", value: "ID", help: "only this VM's" }, JSON_OUT],
    optionSets: API.optionSets,
    example: "restore-points --vm web-1",
  },
  {
    name: "report",
    usage: "",
    summary: "every VM's protection against its policies' RPO; exit 1 when any is past it",
    details:
      "The RPO is the longest gap between two firings of the tightest schedule selecting a VM;\na VM is past it when its newest good restore point is older than that plus a grace of\nhalf the RPO, at most an hour. A VM with policies but no restore point counts as past it.",
    options: [JSON_OUT],
    optionSets: API.optionSets,
    example: "report --json",
  },
  {
    name: "restore",
    usage: "RESTORE-POINT --to DIR",
    summary: "write a restore point's disks as <disk id>.qcow2 files in DIR, on a mover",
    details:
      "An existing file is replaced only with --overwrite, and never while a VM or another\nprocess holds it open or locked; a symlink is never followed or replaced.\nWith --domain, a restore point taken through libvirt becomes a new domain (defined, not\nstarted; new UUID and MAC, the saved XML otherwise) on the mover that took it, or on\n--mover ID when that host is gone. --instant boots it at once from that mover's export\nof the restore point and moves its disks into DIR while it runs; the job ends when they\nhave moved.",
    options: [
      { name: "to", value: "DIR", help: "directory on the mover's host" },
      { name: "disk", value: "ID,...", help: "only these disks" },
      { name: "overwrite", help: "replace existing images nobody holds" },
      { name: "domain", value: "NAME", help: "define the disks as a new libvirt domain NAME" },
      { name: "instant", help: "with --domain: boot it from the backup, then move it to DIR" },
      { name: "mover", value: "ID", help: "with --domain: restore on this mover's libvirt" },
      WAIT,
      JSON_OUT,
    ],
    optionSets: API.optionSets,
    example: "restore web-1/20261204T010000000Z-1a2b3c4d --to /var/lib/restores --wait",
  },
  {
    name: "files ls",
    usage: "RESTORE-POINT [PATH]",
    summary: "list a restore point's files, read by a mover (/ lists its filesystems)",
    details: "Paths are /<disk id>[-part<N>]/<path>; ext4 and vfat filesystems are read.",
    ...API,
    example: "files ls web-1/20261204T010000000Z-1a2b3c4d /disk0-part1/etc",
  },
  {
    name: "files get",
    usage: "RESTORE-POINT PATH... --to DIR",
    summary: "extract files or folders into DIR on that mover's host",
    details:
      "DIR must be new or empty unless --overwrite; no path leaves DIR, symlinks are not made.",
    options: [
      { name: "to", value: "DIR", help: "where the files go" },
      { name: "overwrite", help: "write into a DIR that has files, replacing same-named ones" },
      JSON_OUT,
    ],
    optionSets: API.optionSets,
    example: "files get web-1/20261204T010000000Z-1a2b3c4d /disk0-part1/etc/hosts --to /tmp/got",
  },
  {
    name: "catalog rescan",
    usage: "--repo DIR",
    summary: "rebuild the catalog's restore points from what a repository holds",
    options: [{ name: "repo", value: "DIR", help: "the repository" }, JSON_OUT],
    optionSets: API.optionSets,
    example: "catalog rescan --repo /srv/ferry",
  },
  {
    name: "catalog migrate",
    usage: "--catalog PATH|URL",
    summary: "bring a catalog's schema up to this Ferry's and print its version",
    details:
      "Opens the database itself, not through the coordinator. A coordinator migrates its\ncatalog when it starts; this does it ahead, e.g. for a new PostgreSQL database.",
    options: [CATALOG_AT("catalog", "the catalog"), PASSWORD_FILE("password-file"), JSON_OUT],
    example: "catalog migrate --catalog postgres://ferry@db1.example/ferry",
  },
  {
    name: "catalog copy",
    usage: "--from PATH|URL --to PATH|URL",
    summary: "copy a whole catalog into an empty one, e.g. from SQLite to PostgreSQL",
    details:
      "Opens both databases itself: stop the coordinator first. Copies policies, jobs with\ntheir tasks, restore points and movers, and refuses a target that holds any.",
    options: [
      CATALOG_AT("from", "the catalog to copy"),
      CATALOG_AT("to", "the empty catalog to fill (created and migrated if new)"),
      PASSWORD_FILE("from-password-file"),
      PASSWORD_FILE("to-password-file"),
      JSON_OUT,
    ],
    example:
      "catalog copy --from sqlite:/var/lib/ferry/catalog.sqlite --to postgres://ferry@db1.example/ferry",
  },
  {
    name: "prune",
    usage: "--policy NAME",
    summary: "apply a policy's retention now, or list what would go",
    options: [
      { name: "policy", value: "NAME", help: "whose retention rules to apply" },
      { name: "vm", value: "ID,...", help: "only these VMs' restore points" },
      { name: "dry-run", help: "list what would be removed, remove nothing" },
      JSON_OUT,
    ],
    optionSets: API.optionSets,
    example: "prune --policy nightly --dry-run",
  },
  {
    name: "gc",
    usage: "",
    summary: "remove chunks no restore point references",
    options: [
      {
        name: "repo",
        value: "DIR",
        help: "the repository (default: the coordinator's `repository`)",
      },
      ...GC_OPTIONS,
      JSON_OUT,
    ],
    optionSets: API.optionSets,
    example: "gc --repo /srv/ferry --dry-run",
  },
  {
    name: "verify",
    usage: "[RESTORE-POINT ...]",
    summary: "re-read and re-hash every chunk of the restore points; exit 1 when any is bad",
    options: [{ name: "repo", value: "DIR", help: "only this repository's" }, JSON_OUT],
    optionSets: API.optionSets,
    example: "verify --repo /srv/ferry",
  },
  {
    name: "plan",
    usage: "",
    summary: "plan the backup window: tasks, load per datastore, a lower bound for its end",
    details:
      "With --estate, plans here without a coordinator, e.g.\n  ferry plan --estate rvtools-export/ --movers 4 --window 22:00-06:00 --change-rate 5\n  ferry plan --estate estate.json --recommend\n  ferry plan --estate estate.json --svg window.svg",
    options: [
      { name: "policy", value: "NAME", help: "plan this policy's VMs (default: all policies)" },
      {
        name: "per-host",
        value: "N",
        help: "tasks at once per host (default: the configured limit)",
      },
      { name: "per-datastore", value: "N", help: "tasks at once per datastore" },
      { name: "total", value: "N", help: "tasks at once in all" },
      { name: "tasks", value: "N", default: "20", help: "tasks to list" },
      {
        name: "check",
        value: "JOB",
        help: "an ended job beside the plan made before it: each task's predicted and actual start and duration, the error, and the prediction now",
      },
      {
        name: "recommend",
        help: "with --estate: the fewest movers, then lowest limits, whose plan meets the window",
      },
      {
        name: "max-movers",
        value: "N",
        default: "16",
        help: "with --recommend: model movers to try at most",
      },
      ...SVG,
      JSON_OUT,
    ],
    optionSets: ["what-if", ...API.optionSets],
    example: "plan --policy nightly --per-datastore 2",
  },
  {
    name: "simulate",
    usage: "",
    summary: "what-if: the simulated window end and latency for each combination of limits",
    details:
      "With --estate, simulates here without a coordinator, e.g.\n  ferry simulate --estate estate.json --movers +2 --per-datastore 1,2,4",
    options: [
      { name: "policy", value: "NAME", help: "simulate this policy's VMs (default: all)" },
      { name: "per-host", value: "N,...", help: "per-host limits to try" },
      { name: "per-datastore", value: "N,...", help: "per-datastore limits to try" },
      { name: "total", value: "N,...", help: "total limits to try" },
      { name: "no-io-control", help: "without the latency-driven throttle" },
      ...SVG,
      JSON_OUT,
    ],
    optionSets: ["what-if", ...API.optionSets],
    example: "simulate --per-host 1,2,4 --per-datastore 1,2",
  },
  {
    name: "token new",
    usage: "--name NAME --role viewer|operator|admin",
    summary: "a new operator API token, and the entry to add to coordinator.json",
    options: [
      { name: "name", value: "NAME", help: "who or what the token is for" },
      {
        name: "role",
        value: "viewer|operator|admin",
        help: "viewer reads; operator also runs backups and restores; admin also changes policies and repositories",
      },
      JSON_OUT,
    ],
    example: "token new --name ci --role operator",
  },
  {
    name: "pki init",
    usage: "--dir DIR",
    summary: "create a certificate authority for mutual TLS (ca.crt, ca.key in DIR)",
    options: [{ name: "dir", value: "DIR", help: "where the CA goes" }, JSON_OUT],
    example: "pki init --dir /etc/ferry/pki",
  },
  {
    name: "pki issue",
    usage: "--dir DIR --name NAME",
    summary: "issue NAME.crt and NAME.key from the CA in DIR",
    details:
      "The role says what the holder may call: coordinator (movers), mover (registration),\noperator (the API).",
    options: [
      { name: "dir", value: "DIR", help: "the CA's directory" },
      { name: "name", value: "NAME", help: "the certificate's name (and file names)" },
      {
        name: "host",
        value: "HOST,...",
        default: "127.0.0.1,localhost",
        help: "addresses the certificate is valid for",
      },
      {
        name: "role",
        value: "operator|mover|coordinator",
        default: "operator",
        help: "what the holder may call",
      },
      JSON_OUT,
    ],
    example: "pki issue --dir /etc/ferry/pki --name mover-a --role mover --host 10.0.0.5",
  },
];

/** The operator CLI. */
export const FERRY_CLI: CliSpec = {
  program: "ferry",
  summary: "Ferry's operator CLI: runs the coordinator, and drives it through its API.",
  commands,
  globalOptions: [],
  optionSets: { connection: CONNECTION, "what-if": WHAT_IF },
};
