import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runTool } from "./run-tool.js";

/** Options of {@link makeDataDisk}. */
export interface DataDiskOptions {
  /** Target qcow2 path. */
  path: string;
  sizeMiB: number;
  /** Filesystem label. */
  label: string;
  /** Files to pre-fill, relative path -> content. */
  files?: Record<string, string | Uint8Array>;
  signal?: AbortSignal;
}

/** Makes an ext4 filesystem image pre-filled with `files`, as qcow2. */
export async function makeDataDisk(options: DataDiskOptions): Promise<string> {
  const seed = await mkdtemp(join(tmpdir(), "ferry-seed-"));
  const raw = `${options.path}.raw`;
  const sig = options.signal ? { signal: options.signal } : {};
  try {
    for (const [rel, content] of Object.entries(options.files ?? {})) {
      await mkdir(dirname(join(seed, rel)), { recursive: true });
      await writeFile(join(seed, rel), content);
    }
    await mkdir(dirname(options.path), { recursive: true });
    await runTool(
      "mkfs.ext4",
      // No lazy init: the guest kernel would zero inode tables in the background, dirtying blocks.
      [
        "-F",
        "-q",
        "-L",
        options.label,
        "-E",
        "lazy_itable_init=0,lazy_journal_init=0",
        "-d",
        seed,
        raw,
        `${options.sizeMiB}M`,
      ],
      {
        debianPackage: "e2fsprogs",
        ...sig,
      },
    );
    await runTool("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, options.path], {
      debianPackage: "qemu-utils",
      ...sig,
    });
    return options.path;
  } finally {
    await rm(raw, { force: true });
    await rm(seed, { recursive: true, force: true });
  }
}
