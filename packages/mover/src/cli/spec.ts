// The `ferry-mover` commands, one table each: what main.ts validates a command line against,
// what --help prints, and what docs/cli.md is generated from. Loaded before any command
// runs: no imports but the table types.
import {
  type CliSpec,
  type CommandSpec,
  GC_OPTIONS,
  JSON_OPTION,
  type OptionSpec,
} from "@ferry/common/cli";

const JSON_OUT = JSON_OPTION;
const REPO: OptionSpec = {
  name: "repo",
  value: "DIR|S3-URL",
  help: "the repository: a directory, or s3://BUCKET/PREFIX?… (docs/operations.md)",
};
const PASSPHRASE: OptionSpec = {
  name: "passphrase-file",
  value: "FILE",
  default: "$FERRY_PASSPHRASE_FILE",
  help: "passphrase of an encrypted repository (first line of FILE)",
};
const LIBVIRT: OptionSpec = {
  name: "libvirt",
  value: "URI",
  help: "libvirt connection URI (qemu:///system)",
};
const POINT: OptionSpec = { name: "restore-point", value: "ID", help: "the restore point" };
const DISK: OptionSpec = {
  name: "disk",
  value: "ID|N",
  help: "which disk, by id or position (required when it has more than one)",
};
const OVERWRITE: OptionSpec = {
  name: "overwrite",
  help: "replace an existing file nobody holds (never one a VM or process has open or locked, never a symlink)",
};
const PARALLEL: OptionSpec = {
  name: "parallel",
  value: "N",
  default: "16",
  help: "chunks read at once",
};
const GUEST_DIR: OptionSpec = {
  name: "guest-dir",
  value: "DIR",
  default: ".cache/guest",
  help: "the micro guest (kernel, initramfs) that mounts the disks",
};

const commands: CommandSpec[] = [
  {
    name: "",
    usage: "--config FILE",
    summary: "run the mover agent: the gRPC service the coordinator sends jobs to",
    options: [{ name: "config", value: "FILE", help: "mover.json (docs/operations.md)" }],
    example: "--config /etc/ferry/mover.json",
  },
  {
    name: "init",
    usage: "--repo DIR",
    summary: "create a repository; with a passphrase it is encrypted",
    details: "Encrypted: chunks sealed with AES-256-GCM, named by keyed BLAKE3.",
    options: [REPO, PASSPHRASE],
    example: "init --repo /srv/ferry --passphrase-file /etc/ferry/passphrase",
  },
  {
    name: "key add",
    usage: "--repo DIR --passphrase-file FILE --new-passphrase-file FILE",
    summary: "let one more passphrase open an encrypted repository",
    options: [
      REPO,
      PASSPHRASE,
      { name: "new-passphrase-file", value: "FILE", help: "the passphrase to add" },
    ],
    example: "key add --repo /srv/ferry --passphrase-file old --new-passphrase-file new",
  },
  {
    name: "backup",
    usage: "--source URI|FILE --repo DIR",
    summary: "back up one disk; prints the restore point's id",
    details:
      "The source is nbd://host:port/export, nbd+unix:///export?socket=PATH or a raw image.\nAn incremental (--dirty-bitmap with --since) reads only what the export's dirty bitmap\nmarks (e.g. qemu-nbd -B NAME).",
    options: [
      { name: "source", value: "URI|FILE", help: "the disk to read" },
      REPO,
      {
        name: "vm-id",
        value: "ID",
        default: "--since's VM, else made from the name",
        help: "whose restore point it is",
      },
      {
        name: "name",
        value: "NAME",
        default: "the file's or export's name",
        help: "the VM's name, as recorded",
      },
      {
        name: "disk-id",
        value: "ID",
        default: "disk0",
        help: "the disk's id in the restore point",
      },
      {
        name: "dirty-bitmap",
        value: "NAME",
        help: "the export's dirty bitmap, for an incremental",
      },
      { name: "since", value: "ID", help: "the restore point the bitmap counts from" },
      PASSPHRASE,
    ],
    example:
      "backup --source 'nbd+unix:///disk?socket=/run/nbd.sock' --repo /srv/ferry --vm-id web-1",
  },
  {
    name: "restore",
    usage: "--repo DIR --restore-point ID --to FILE",
    summary: "write a restore point's disk to a new sparse image",
    options: [
      REPO,
      POINT,
      DISK,
      { name: "to", value: "FILE", help: "the image to write" },
      {
        name: "format",
        value: "raw|qcow2",
        default: "qcow2 when FILE ends in .qcow2, else raw",
        help: "image format",
      },
      PARALLEL,
      OVERWRITE,
      PASSPHRASE,
    ],
    example:
      "restore --repo /srv/ferry --restore-point web-1/20261204T010000000Z-1a2b3c4d --to web-1.qcow2",
  },
  {
    name: "export",
    usage: "--repo DIR --restore-point ID (--socket PATH | --listen HOST:PORT)",
    summary: "serve a restore point's disk over NBD until stopped (instant recovery)",
    details:
      "Writes go to a scratch overlay, never to the repository. With TLS only certificates of\nthe CA with role mover get in (the host whose QEMU boots from it).",
    options: [
      REPO,
      POINT,
      DISK,
      { name: "socket", value: "PATH", help: "serve on this unix socket" },
      { name: "listen", value: "HOST:PORT", help: "serve on this TCP address" },
      { name: "writable", help: "accept writes (into the overlay)" },
      {
        name: "overlay-dir",
        value: "DIR",
        default: "the system's temporary directory",
        help: "where the overlay goes",
      },
      {
        name: "tls-ca",
        value: "FILE",
        help: "CA certificate: clients must have one of its certificates",
      },
      { name: "tls-cert", value: "FILE", help: "this server's certificate" },
      { name: "tls-key", value: "FILE", help: "its private key" },
      PASSPHRASE,
    ],
    example:
      "export --repo /srv/ferry --restore-point web-1/20261204T010000000Z-1a2b3c4d --socket /run/rp.sock",
  },
  {
    name: "move-disk",
    usage: "--qmp SOCKET --node NAME --to FILE",
    summary:
      "copy a running VM's disk (one booted from an export) to a new image and switch it over",
    options: [
      { name: "qmp", value: "SOCKET", help: "the VM's QMP socket" },
      { name: "node", value: "NAME", help: "the block node to move" },
      { name: "to", value: "FILE", help: "the new qcow2 image" },
      OVERWRITE,
    ],
    example: "move-disk --qmp /run/vm.qmp --node disk0 --to /var/lib/vms/web-1.qcow2",
  },
  {
    name: "restore-domain",
    usage: "--libvirt URI --repo DIR --restore-point ID --name NAME --dir DIR",
    summary: "restore a libvirt domain's backup as a new domain beside the original",
    details:
      "Defined from the domain XML saved with the restore point: its disks are the restored images in DIR, with a new name, UUID and MAC addresses. An existing domain or image is never replaced.",
    options: [
      LIBVIRT,
      REPO,
      POINT,
      { name: "name", value: "NAME", help: "the new domain's name" },
      { name: "dir", value: "DIR", help: "where the disks go, as <disk id>.qcow2" },
      { name: "start", help: "start the domain once defined" },
      PASSPHRASE,
    ],
    example:
      "restore-domain --libvirt qemu:///system --repo /srv/ferry --restore-point 4c1d…/20261204T010000000Z-1a2b3c4d --name web-1-restored --dir /var/lib/libvirt/images/web-1-restored",
  },
  {
    name: "recover-domain",
    usage: "--libvirt URI --repo DIR --restore-point ID --name NAME --socket PATH",
    summary: "instant recovery: boot a libvirt domain whose disks are a restore point's export",
    details:
      "Serve the restore point first (export --writable --socket PATH) and keep it up until move-domain has moved the disks. The domain is transient until then.",
    options: [
      LIBVIRT,
      REPO,
      POINT,
      { name: "name", value: "NAME", help: "the new domain's name" },
      { name: "socket", value: "PATH", help: "the export's unix socket" },
      PASSPHRASE,
    ],
    example:
      "recover-domain --libvirt qemu:///system --repo /srv/ferry --restore-point 4c1d…/20261204T010000000Z-1a2b3c4d --name web-1 --socket /run/rp.sock",
  },
  {
    name: "move-domain",
    usage: "--libvirt URI --domain NAME --dir DIR",
    summary: "move a recovered domain's disks off the export to local images while it runs",
    details:
      "blockcopy with pivot, disk by disk; then the domain is defined on the new images and the export can stop.",
    options: [
      LIBVIRT,
      { name: "domain", value: "NAME", help: "the running domain" },
      { name: "dir", value: "DIR", help: "where the images go, as <disk>.qcow2" },
    ],
    example:
      "move-domain --libvirt qemu:///system --domain web-1 --dir /var/lib/libvirt/images/web-1",
  },
  {
    name: "rollback",
    usage: "--repo DIR --restore-point ID --target FILE --overwrite",
    summary: "bring a stopped VM's disk image back to a restore point, writing only what differs",
    details: "--overwrite confirms it rewrites the image; one a running VM holds is refused.",
    options: [
      REPO,
      POINT,
      DISK,
      {
        name: "target",
        value: "FILE",
        help: "the image to roll back (raw, or qcow2 through qemu-nbd)",
      },
      { name: "format", value: "raw|qcow2", default: "from the file name", help: "image format" },
      PARALLEL,
      OVERWRITE,
      JSON_OUT,
      PASSPHRASE,
    ],
    example:
      "rollback --repo /srv/ferry --restore-point web-1/20261204T010000000Z-1a2b3c4d --target web-1.raw --overwrite",
  },
  {
    name: "files ls",
    usage: "--repo DIR --restore-point ID [PATH]",
    summary: "list a restore point's files without restoring its disks (ext4, vfat)",
    details: "Paths are /<disk id>[-part<N>]/<path>; / lists the filesystems.",
    options: [REPO, POINT, GUEST_DIR, JSON_OUT, PASSPHRASE],
    example:
      "files ls --repo /srv/ferry --restore-point web-1/20261204T010000000Z-1a2b3c4d /disk0-part1/etc",
  },
  {
    name: "files get",
    usage: "--repo DIR --restore-point ID --to DIR PATH...",
    summary: "extract files or folders of a restore point into DIR",
    details:
      "DIR must be new or empty unless --overwrite; no path leaves DIR, symlinks are not made.",
    options: [
      REPO,
      POINT,
      { name: "to", value: "DIR", help: "where the files go" },
      { name: "overwrite", help: "write into a DIR that has files, replacing same-named ones" },
      GUEST_DIR,
      JSON_OUT,
      PASSPHRASE,
    ],
    example:
      "files get --repo /srv/ferry --restore-point web-1/20261204T010000000Z-1a2b3c4d --to /tmp/got /disk0-part1/etc/hosts",
  },
  {
    name: "test-restore",
    usage: "--repo DIR --restore-point ID",
    summary: "boot the restore point, check its guest comes up and mounts its disks; record it",
    options: [REPO, POINT, GUEST_DIR, JSON_OUT, PASSPHRASE],
    example: "test-restore --repo /srv/ferry --restore-point web-1/20261204T010000000Z-1a2b3c4d",
  },
  {
    name: "restore-points",
    usage: "--repo DIR",
    summary: "list a repository's restore points",
    options: [REPO, { name: "vm-id", value: "ID", help: "only this VM's" }, JSON_OUT, PASSPHRASE],
    example: "restore-points --repo /srv/ferry --vm-id web-1",
  },
  {
    name: "verify",
    usage: "--repo DIR",
    summary: "re-read and re-hash every chunk; exit 1 when anything is missing or corrupt",
    options: [REPO, { ...POINT, help: "only this restore point" }, JSON_OUT, PASSPHRASE],
    example: "verify --repo /srv/ferry",
  },
  {
    name: "gc",
    usage: "--repo DIR",
    summary: "remove chunks no restore point references",
    options: [REPO, ...GC_OPTIONS, JSON_OUT, PASSPHRASE],
    example: "gc --repo /srv/ferry --dry-run",
  },
];

/** The mover's CLI: the agent, and standalone backup, restore and repository commands. */
export const MOVER_CLI: CliSpec = {
  program: "ferry-mover",
  summary:
    "Ferry's data mover: the agent a coordinator drives, and backup, restore and repository\ncommands that work without one.",
  commands,
  globalOptions: [],
  notes:
    "A restore never replaces an existing file unless given --overwrite, and never one that a\nrunning VM or another process holds open or locked, nor a symlink.\n\nEvery command with --repo takes --passphrase-file (or $FERRY_PASSPHRASE_FILE) for an\nencrypted repository; listing and gc work without it. A backup into a new repository with\na passphrase creates it encrypted.",
};
