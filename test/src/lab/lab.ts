import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InventoryFile } from "@ferry/mover";
import { makeDataDisk } from "./data-disk.js";
import { ensureGuestImage } from "./guest-image.js";
import { type LabVm, startLabVm } from "./lab-vm.js";

/** Options of {@link startLab}. */
export interface LabOptions {
  /** Number of VMs (default 1). */
  vms?: number;
  /** Data disks per VM, 1 or 2 (default 1). */
  disksPerVm?: 1 | 2;
  /** Per-VM disk counts, overriding disksPerVm (e.g. [2, 1, 1]). */
  disksOfVm?: readonly (1 | 2)[];
  /**
   * Spread VMs over this many datastores (subdirectories ds-0, ds-1, ... of the
   * datastore dir), round robin; default 1 (all in the datastore dir itself).
   */
  datastores?: number;
  /** Size of each data disk in MiB (default 64). */
  diskMiB?: number;
  /** Lab directory; default a new one under the system temp dir (removed on stop). */
  dir?: string;
  /** VM name prefix (default "lab-vm"). */
  namePrefix?: string;
  workload?: boolean;
  accel?: "tcg" | "kvm";
  /**
   * Make each disk slot once and give every VM a copy, as VMs cloned from one
   * template (default false: each VM gets its own freshly made filesystems).
   */
  fromTemplate?: boolean;
  /** Extra files for every data disk, relative path -> content (e.g. a large random file). */
  extraFiles?: Record<string, string | Uint8Array>;
  /** Extra files for the data disks of VM number `vm` only (0-based): VMs with their own data. */
  filesOfVm?: (vm: number) => Record<string, string | Uint8Array>;
  signal?: AbortSignal;
}

/** Files every lab data disk starts with (names a restore must keep exactly). */
export const SEED_FILES: Record<string, string> = {
  "README.txt": "Ferry lab data disk\n",
  "docs/hello world.txt": "hello from a file name with spaces\n",
  "docs/résumé-日本.txt": "non-ASCII names survive\n",
};

/** A set of running lab VMs on one datastore directory. */
export interface Lab extends AsyncDisposable {
  readonly dir: string;
  /** The datastore directory holding every VM's disks. */
  readonly datastoreDir: string;
  /** Datastores as a mover configuration lists them. */
  readonly datastores: { id: string; path: string }[];
  readonly vms: LabVm[];
  /** Writes a mover inventory file listing the lab's VMs; returns its path. */
  writeInventory(path?: string, vmNames?: readonly string[]): Promise<string>;
  /** Stops every VM (cleanly first); disks stay for inspection. Idempotent. */
  stop(): Promise<void>;
  /** Stops, then removes the lab dir if the lab created it. Idempotent. */
  dispose(): Promise<void>;
}

/** Builds the guest if needed, makes disks and boots the VMs in parallel. */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const guest = await ensureGuestImage(options.signal);
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "ferry-lab-")));
  const datastoreDir = join(dir, "datastore");
  await mkdir(datastoreDir, { recursive: true });
  const spread = options.datastores ?? 1;
  const datastores =
    spread <= 1
      ? [{ id: "ds-0", path: datastoreDir }]
      : Array.from({ length: spread }, (_, i) => ({
          id: `ds-${i}`,
          path: join(datastoreDir, `ds-${i}`),
        }));
  for (const ds of datastores) await mkdir(ds.path, { recursive: true });
  const disksOf = (vm: number) => options.disksOfVm?.[vm] ?? options.disksPerVm ?? 1;
  const count = options.vms ?? 1;
  const prefix = options.namePrefix ?? "lab-vm";
  const sig = options.signal ? { signal: options.signal } : {};
  const files = { ...SEED_FILES, ...options.extraFiles };
  const makeDisk = (path: string, d: number, vm?: number) =>
    makeDataDisk({
      path,
      sizeMiB: options.diskMiB ?? 64,
      label: `data${d}`,
      files:
        vm === undefined || !options.filesOfVm ? files : { ...files, ...options.filesOfVm(vm) },
      ...sig,
    });
  const templates: string[] = [];
  if (options.fromTemplate) {
    for (
      let d = 0;
      d < Math.max(...Array.from({ length: options.vms ?? 1 }, (_, i) => disksOf(i)));
      d++
    )
      templates.push(await makeDisk(join(dir, `template-disk${d}.qcow2`), d));
  }
  const started = await Promise.allSettled(
    Array.from({ length: count }, async (_, i) => {
      const name = `${prefix}-${i + 1}`;
      const disks: string[] = [];
      for (let d = 0; d < disksOf(i); d++) {
        const path = join(
          (datastores[i % datastores.length] as { path: string }).path,
          `${name}-disk${d}.qcow2`,
        );
        const template = templates[d];
        if (template) await copyFile(template, path);
        else await makeDisk(path, d, i);
        disks.push(path);
      }
      return startLabVm({
        name,
        dir: join(dir, name),
        guest,
        disks,
        ...(options.workload === undefined ? {} : { workload: options.workload }),
        ...(options.accel ? { accel: options.accel } : {}),
        ...sig,
      });
    }),
  );
  const vms = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stop = async () => {
    await Promise.all(vms.map((vm) => vm.stop()));
  };
  const dispose = async () => {
    await stop();
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await dispose();
    throw (failed as PromiseRejectedResult).reason;
  }
  return {
    dir,
    datastoreDir,
    datastores,
    vms,
    async writeInventory(path = join(dir, "inventory.json"), vmNames?: readonly string[]) {
      const file: InventoryFile = {
        vms: vms
          .filter((vm) => !vmNames || vmNames.includes(vm.name))
          .map((vm) => ({
            id: vm.name,
            name: vm.name,
            qmpSocket: vm.qmpSocket,
            guestAgentSocket: vm.guestAgentSocket,
            tags: ["lab"],
          })),
      };
      await writeFile(path, `${JSON.stringify(file, null, 2)}\n`);
      return path;
    },
    stop,
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
