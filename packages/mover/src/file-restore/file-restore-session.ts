import { chmod, lstat, mkdir, mkdtemp, open, readdir, rm, rmdir, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { FerryError, type Repository } from "@ferry/common";
import { openRestorePointDisk } from "../export/restore-point-export.js";
import { connectGuestAgent, type GuestAgent } from "../hypervisor/guest-agent-client.js";
import type { ExportDevice } from "../nbd-server/export-device.js";
import { type NbdServer, startNbdServer } from "../nbd-server/nbd-server.js";
import {
  checkTarget,
  commitTarget,
  existsError,
  OVERWRITE_FLAG,
} from "../restore/restore-target.js";
import { removeEmptyDirs } from "../util/remove-empty-dirs.js";
import {
  type EntryKind,
  type GuestEntry,
  guestExec,
  guestList,
  guestReadFile,
  guestRealpath,
  guestStat,
} from "./guest-fs.js";
import { type HelperGuest, type HelperVm, startHelperVm } from "./helper-vm.js";
import { hostPathFor, splitRestorePath } from "./restore-paths.js";

const GUEST_ROOT = "/mnt/restore";

/** A filesystem found in a restore point. */
export interface RestoredFilesystem {
  /** Its top-level name in restore paths: the disk id, or "<disk id>-part<N>". */
  name: string;
  diskId: string;
  type: string;
}

/** An entry of a listing, named by its restore path. */
export interface FileEntry {
  name: string;
  /** "/<filesystem>/<path>" */
  path: string;
  kind: EntryKind;
  sizeBytes: number;
  /** Seconds since the epoch. */
  mtime: number;
}

/** What an extraction wrote. */
export interface ExtractStats {
  files: number;
  directories: number;
  bytes: number;
  /** Restore paths of symlinks and special files, which are never recreated. */
  skipped: string[];
}

/** Options of {@link FileRestoreSession.extract}. */
export interface ExtractOptions {
  fresh?: boolean;
  /** Replace existing files that no process holds. */
  overwrite?: boolean;
  signal?: AbortSignal;
}

/** Options of {@link openFileRestore}. */
export interface FileRestoreOptions {
  repository: Repository;
  restorePointId: string;
  guest: HelperGuest;
  signal?: AbortSignal;
}

/** Browsing a restore point's filesystems; close to stop its helper VM and export. */
export interface FileRestoreSession extends AsyncDisposable {
  readonly filesystems: readonly RestoredFilesystem[];
  /** A directory's entries ("/" lists the filesystems); a file lists as itself. */
  list(path: string, signal?: AbortSignal): Promise<FileEntry[]>;
  /**
   * Copies files or folders into `targetDir` (created if missing), each under its own name.
   * Nothing lands outside `targetDir`, no symlink found there is followed, and an existing
   * file is replaced only with `overwrite` (and never while a process holds it). With
   * `fresh`, `targetDir` must not exist yet or be empty (unless `overwrite`), and a new one
   * is private (0700): for a mover that runs as root on a remote request. A failure removes
   * the files and folders this extraction created; files it replaced stay replaced.
   */
  extract(
    paths: readonly string[],
    targetDir: string,
    options?: ExtractOptions,
  ): Promise<ExtractStats>;
  close(): Promise<void>;
}

/**
 * Opens a restore point for file-level restore, as Proxmox does: its disks are served
 * over NBD (writes such as a journal replay land in a scratch overlay) to a micro guest
 * that mounts every filesystem read-only, and files are read through the guest agent.
 * Nothing is written to the repository and no disk is written out whole.
 */
export async function openFileRestore(o: FileRestoreOptions): Promise<FileRestoreSession> {
  const point = await o.repository.openRestorePoint(o.restorePointId, o.signal);
  const dir = await mkdtemp(join(tmpdir(), "ferry-files-"));
  const devices: { name: string; device: ExportDevice }[] = [];
  let server: NbdServer | undefined;
  let vm: HelperVm | undefined;
  let agent: GuestAgent | undefined;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await agent?.close();
      await vm?.stop();
      await server?.close();
      for (const d of devices) await d.device.close();
      await rm(dir, { recursive: true, force: true });
    })();
    return closing;
  };
  try {
    for (const disk of point.manifest.disks)
      devices.push({
        name: disk.id,
        device: await openRestorePointDisk({
          repository: o.repository,
          restorePointId: o.restorePointId,
          diskId: disk.id,
          writable: true,
          overlayDir: dir,
          ...(o.signal ? { signal: o.signal } : {}),
        }),
      });
    const socket = join(dir, "nbd.sock");
    server = await startNbdServer({ exports: devices, listen: { path: socket } });
    vm = await startHelperVm({
      guest: o.guest,
      disks: devices.map((d) => ({ socket, exportName: d.name })),
      dir,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    agent = await connectGuestAgent({ path: vm.guestAgentSocket, commandTimeoutMs: 30_000 });
    const filesystems = await mountedFilesystems(
      agent,
      devices.map((d) => d.name),
    );
    return new Session(agent, filesystems, close);
  } catch (err) {
    await close();
    throw err;
  }
}

/** "vda ext4" lines from the guest, named after the restore point's disks. */
async function mountedFilesystems(
  agent: GuestAgent,
  diskIds: readonly string[],
): Promise<(RestoredFilesystem & { device: string })[]> {
  const text = (await guestExec(agent, ["cat", "/run/ferry-mounts"])).toString("utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [device = "", type = ""] = line.split(" ");
      const m = /^vd([a-z])(\d*)$/.exec(device);
      const diskId = m ? diskIds[(m[1] as string).charCodeAt(0) - 97] : undefined;
      if (!m || diskId === undefined)
        throw new FerryError(
          "PROTOCOL_ERROR",
          `the file-restore VM mounted an unknown device ${device}`,
        );
      return { name: m[2] ? `${diskId}-part${m[2]}` : diskId, diskId, type, device };
    });
}

class Session implements FileRestoreSession {
  constructor(
    readonly agent: GuestAgent,
    readonly mounted: readonly (RestoredFilesystem & { device: string })[],
    readonly close: () => Promise<void>,
  ) {}

  get filesystems(): readonly RestoredFilesystem[] {
    return this.mounted.map(({ name, diskId, type }) => ({ name, diskId, type }));
  }

  /** The guest path of a restore path, checked to stay inside its filesystem. */
  async #resolve(path: string): Promise<{ fs: string; guestPath: string; segments: string[] }> {
    const segments = splitRestorePath(path);
    const [fsName, ...rest] = segments;
    const fs = this.mounted.find((f) => f.name === fsName);
    if (!fs)
      throw new FerryError(
        "NOT_FOUND",
        `no filesystem ${JSON.stringify(fsName)} in this restore point (found: ${this.mounted.map((f) => f.name).join(", ") || "none"})`,
      );
    const root = `${GUEST_ROOT}/${fs.device}`;
    const wanted = [root, ...rest].join("/");
    const real = await guestRealpath(this.agent, wanted).catch(() => {
      throw new FerryError("NOT_FOUND", `${path} does not exist in the restore point`);
    });
    if (real !== root && !real.startsWith(`${root}/`))
      throw new FerryError("INVALID_ARGUMENT", `${path} leads outside its filesystem (a symlink)`);
    return { fs: fs.name, guestPath: wanted, segments };
  }

  #entry(fs: string, guestRoot: string, e: GuestEntry): FileEntry {
    const rel = e.path.slice(guestRoot.length);
    const name = e.path.slice(e.path.lastIndexOf("/") + 1);
    return { name, path: `/${fs}${rel}`, kind: e.kind, sizeBytes: e.sizeBytes, mtime: e.mtime };
  }

  async list(path: string): Promise<FileEntry[]> {
    if (splitRestorePath(path).length === 0)
      return this.mounted.map((f) => ({
        name: f.name,
        path: `/${f.name}`,
        kind: "directory" as const,
        sizeBytes: 0,
        mtime: 0,
      }));
    const { fs, guestPath } = await this.#resolve(path);
    const root = `${GUEST_ROOT}/${this.mounted.find((f) => f.name === fs)?.device}`;
    const self = await guestStat(this.agent, guestPath);
    // Names that are not UTF-8 cannot be named back to the guest: they are left out.
    const entries =
      self.kind === "directory" ? (await guestList(this.agent, guestPath)).entries : [self];
    return entries
      .map((e) => this.#entry(fs, root, e))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async extract(
    paths: readonly string[],
    targetDir: string,
    options: ExtractOptions = {},
  ): Promise<ExtractStats> {
    const { signal } = options;
    const overwrite = options.overwrite === true;
    const stats: ExtractStats = { files: 0, directories: 0, bytes: 0, skipped: [] };
    const names = paths.map((p) => splitRestorePath(p).at(-1));
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined)
      throw new FerryError(
        "INVALID_ARGUMENT",
        `two of the paths are named ${JSON.stringify(twice)}: extract them one at a time`,
      );
    // What this extraction made, to take back on failure (directories deepest last).
    const made: { files: string[]; dirs: string[] } = { files: [], dirs: [] };
    let madeTop: string | undefined;
    try {
      madeTop = await prepareTarget(targetDir, options.fresh === true, overwrite);
      for (const path of paths)
        await this.#extractPath(path, targetDir, { stats, made, overwrite, signal });
      return stats;
    } catch (err) {
      for (const f of made.files) await rm(f, { force: true });
      for (const d of made.dirs.reverse()) await rmdir(d).catch(() => undefined);
      if (madeTop !== undefined) await removeEmptyDirs(madeTop, targetDir);
      throw err;
    }
  }

  /** Extracts one restore path into `targetDir`, recording what it creates in `o.made`. */
  async #extractPath(
    path: string,
    targetDir: string,
    o: {
      stats: ExtractStats;
      made: { files: string[]; dirs: string[] };
      overwrite: boolean;
      signal?: AbortSignal | undefined;
    },
  ): Promise<void> {
    const { stats, made, overwrite, signal } = o;
    const { fs, guestPath, segments } = await this.#resolve(path);
    if (segments.length < 2)
      throw new FerryError(
        "INVALID_ARGUMENT",
        `name a file or folder inside ${path}, not a whole filesystem root`,
      );
    const top = await guestStat(this.agent, guestPath);
    const parent = guestPath.slice(0, guestPath.lastIndexOf("/"));
    const below =
      top.kind === "directory"
        ? await guestList(this.agent, guestPath, true)
        : { entries: [], undecodable: [] };
    for (const name of below.undecodable)
      stats.skipped.push(`${restorePathOf(fs, name)} (name is not UTF-8)`);
    const entries = [top, ...below.entries];
    // Parents before children: sorted paths put a directory before its contents.
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const created: [string, number][] = [];
    for (const e of entries) {
      if (signal?.aborted) throw signal.reason;
      const rel = e.path.slice(parent.length + 1).split("/");
      const host = hostPathFor(targetDir, rel);
      const restorePath = restorePathOf(fs, e.path);
      if (e.kind === "directory") {
        if (await mkdirNoFollow(host)) {
          created.push([host, e.mtime]);
          made.dirs.push(host);
        }
        stats.directories++;
      } else if (e.kind === "file") {
        stats.bytes += await this.#copyFile(e, host, { overwrite, made, signal });
        stats.files++;
      } else stats.skipped.push(restorePath);
    }
    // Times of the directories made here, last (writing their files changed them); the
    // times of directories that were there before are not ours to change.
    for (const [host, mtime] of created.reverse()) await utimes(host, mtime, mtime);
  }

  /**
   * Copies a file to `host`: a new file, or with `overwrite` a staged copy renamed over an
   * existing regular file that no process holds.
   */
  async #copyFile(
    e: GuestEntry,
    host: string,
    o: { overwrite: boolean; made: { files: string[] }; signal?: AbortSignal | undefined },
  ): Promise<number> {
    const replace =
      (await checkTarget(host, {
        overwrite: o.overwrite,
        ...(o.signal ? { signal: o.signal } : {}),
      })) === "replace";
    const into = replace ? `${host}.partial-${process.pid}` : host;
    // "wx": never overwrite, never follow a symlink planted at the destination.
    const out = await open(into, "wx", 0o600).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "EEXIST") throw existsError(into);
      throw new FerryError("FAILED_PRECONDITION", `cannot create ${into}: ${err.message}`);
    });
    try {
      let at = 0;
      const n = await guestReadFile(
        this.agent,
        e.path,
        async (piece) => {
          await out.write(piece, 0, piece.length, at);
          at += piece.length;
        },
        o.signal,
      );
      await out.close();
      await chmod(into, e.mode & 0o777);
      await utimes(into, e.mtime, e.mtime);
      if (replace) await commitTarget(into, host, { overwrite: true });
      else o.made.files.push(host);
      return n;
    } catch (err) {
      await out.close().catch(() => undefined);
      await rm(into, { force: true });
      throw err;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** "/<filesystem>/<path>" of a guest path "/mnt/restore/<device>/<path>". */
function restorePathOf(fs: string, guestPath: string): string {
  return `/${fs}${guestPath.slice(`${GUEST_ROOT}/`.length).replace(/^[^/]+/, "")}`;
}

/**
 * Creates a directory (true), or finds one there (false); a symlink or file in its place is
 * refused.
 */
async function mkdirNoFollow(path: string): Promise<boolean> {
  try {
    await mkdir(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const s = await lstat(path);
    if (!s.isDirectory())
      throw new FerryError(
        "ALREADY_EXISTS",
        `${path} exists and is not a directory (nothing is overwritten)`,
      );
    return false;
  }
}

/**
 * Makes the target directory; resolves with the first directory this call created, if any.
 * `fresh`: it must be new or empty (or `overwrite` allows what is there), and a new or
 * empty one becomes private.
 */
async function prepareTarget(
  targetDir: string,
  fresh: boolean,
  overwrite: boolean,
): Promise<string | undefined> {
  if (!fresh) return mkdir(targetDir, { recursive: true });
  const parents = await mkdir(dirname(targetDir), { recursive: true });
  const created = await mkdirNoFollow(targetDir);
  if (!created && (await readdir(targetDir)).length > 0) {
    if (overwrite) return undefined;
    throw new FerryError(
      "FAILED_PRECONDITION",
      `${targetDir} is not empty: files are restored into a new or empty directory (${OVERWRITE_FLAG} allows one that is not, and replaces files no process holds)`,
    );
  }
  await chmod(targetDir, 0o700);
  return parents ?? (created ? targetDir : undefined);
}
