import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { prng } from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferryMover, ferryMoverFails } from "./lab/ferry-mover-cli.js";
import { ensureGuestImage } from "./lab/guest-image.js";
import { runTool } from "./lab/run-tool.js";

const MiB = 1024 * 1024;
const run = promisify(execFile);

/** Files of the ext4 partition, relative path -> content. */
const EXT4_FILES: Record<string, string | Buffer> = {
  "docs/hello world.txt": "hello from a file name with spaces\n",
  "docs/résumé-日本.txt": "non-ASCII names survive\n",
  "docs/deep/er/notes.md": "# three levels down\n",
};
/** Files of the vfat partition (long names, spaces, non-ASCII). */
const VFAT_FILES: Record<string, string> = {
  "Folder A/Quarterly Report.txt": "vfat file in a folder with a space\n",
  "naïve café.txt": "é and ï in a FAT long name\n",
};

async function seed(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(dir, rel, ".."), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
}

/**
 * A 64 MiB disk with a GPT partition table: partition 1 vfat, partition 2 ext4 (with a
 * large random file and symlinks that point out of the filesystem).
 */
async function makeDisk(work: string, big: Buffer): Promise<string> {
  const tool = (cmd: string, args: string[], pkg: string) =>
    runTool(cmd, args, { debianPackage: pkg });
  const ext = join(work, "ext4-seed");
  await seed(ext, { ...EXT4_FILES, "big.bin": big });
  await symlink("/etc/passwd", join(ext, "escape-link"));
  await symlink("../../..", join(ext, "docs/up"));
  // A Latin-1 name (0xe9 alone is not UTF-8), as old systems wrote them.
  await writeFile(
    Buffer.concat([Buffer.from(join(ext, "docs/caf")), Buffer.from([0xe9])]),
    "old\n",
  );
  await tool("mkfs.ext4", ["-q", "-F", "-d", ext, join(work, "ext4.img"), "40M"], "e2fsprogs");
  const vfat = join(work, "vfat.img");
  await tool("mkfs.vfat", ["-C", vfat, "16384"], "dosfstools");
  const vseed = join(work, "vfat-seed");
  await seed(vseed, VFAT_FILES);
  // mtools reads names in the locale's charset.
  const env = { ...process.env, MTOOLS_SKIP_CHECK: "1", LC_ALL: "C.UTF-8" };
  const mtool = (cmd: string, args: string[]) => run(cmd, args, { env });
  await mtool("mmd", ["-i", vfat, "::/Folder A"]);
  await mtool("mcopy", ["-i", vfat, join(vseed, "Folder A/Quarterly Report.txt"), "::/Folder A/"]);
  await mtool("mcopy", ["-i", vfat, join(vseed, "naïve café.txt"), "::/"]);
  const disk = join(work, "disk.raw");
  await writeFile(disk, "");
  await tool("truncate", ["-s", String(64 * MiB), disk], "coreutils");
  const table = join(work, "table.sfdisk");
  await writeFile(
    table,
    "label: gpt\nstart=2048, size=32768, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\nstart=34816, size=81920, type=0FC63DAF-8483-4772-8E79-3D69C72F47E4\n",
  );
  await tool("sh", ["-c", `sfdisk -q "${disk}" < "${table}"`], "fdisk");
  for (const [img, sector] of [
    [vfat, 2048],
    [join(work, "ext4.img"), 34816],
  ] as const)
    await tool(
      "dd",
      [`if=${img}`, `of=${disk}`, "bs=512", `seek=${sector}`, "conv=notrunc", "status=none"],
      "coreutils",
    );
  return disk;
}

describe("file-level restore from a restore point's ext4 and vfat filesystems", () => {
  let work: string;
  let repo: string;
  let restorePointId: string;
  let big: Buffer;
  const filesArgs = (...args: string[]) => [
    "files",
    ...args,
    "--repo",
    repo,
    "--restore-point",
    restorePointId,
  ];
  const files = (...args: string[]) => ferryMover(...filesArgs(...args));

  beforeAll(async () => {
    await ensureGuestImage();
    work = await mkdtemp(join(tmpdir(), "ferry-files-test-"));
    repo = join(work, "repo");
    const rnd = prng(3);
    big = Buffer.from(new Uint8Array(3 * MiB + 17).map(() => (rnd() * 256) | 0));
    const disk = await makeDisk(work, big);
    const { stdout } = await ferryMover("backup", "--source", disk, "--repo", repo);
    restorePointId = stdout.trim();
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("lists the filesystems, and directories with names with spaces and non-ASCII characters", async () => {
    const top = JSON.parse((await files("ls", "/", "--json")).stdout);
    expect(top.map((e: { name: string }) => e.name)).toEqual(["disk0-part1", "disk0-part2"]);
    const docs = JSON.parse((await files("ls", "/disk0-part2/docs", "--json")).stdout);
    expect(docs.map((e: { name: string; kind: string }) => [e.name, e.kind])).toEqual([
      ["deep", "directory"],
      ["hello world.txt", "file"],
      ["résumé-日本.txt", "file"],
      ["up", "symlink"],
    ]);
    const vfat = JSON.parse((await files("ls", "/disk0-part1", "--json")).stdout);
    expect(vfat.map((e: { name: string }) => e.name)).toEqual(["Folder A", "naïve café.txt"]);
  });

  it("extracts files and folders identical to the originals", async () => {
    const to = join(work, "out");
    const { stdout } = await files(
      "get",
      "--to",
      to,
      "/disk0-part2/docs",
      "/disk0-part2/big.bin",
      "/disk0-part1/Folder A",
      "/disk0-part1/naïve café.txt",
      "--json",
    );
    const stats = JSON.parse(stdout);
    expect(stats.files).toBe(6);
    expect(stats.skipped).toEqual([
      "/disk0-part2/docs/caf\ufffd (name is not UTF-8)",
      "/disk0-part2/docs/up",
    ]);
    for (const [rel, content] of Object.entries({ ...EXT4_FILES, ...VFAT_FILES }))
      expect((await readFile(join(to, rel))).toString()).toBe(content.toString());
    expect((await readFile(join(to, "big.bin"))).equals(big)).toBe(true);
    // The symlink was not recreated: nothing in the output points anywhere.
    expect((await readdir(join(to, "docs"))).sort()).toEqual([
      "deep",
      "hello world.txt",
      "résumé-日本.txt",
    ]);
  });

  it("tests a restore: boots it, records the result, and fails one whose disk holds no filesystem", async () => {
    const passed = JSON.parse(
      (
        await ferryMover(
          "test-restore",
          "--repo",
          repo,
          "--restore-point",
          restorePointId,
          "--json",
        )
      ).stdout,
    );
    expect(passed).toMatchObject({
      ok: true,
      filesystems: ["disk0-part1 vfat", "disk0-part2 ext4"],
    });
    const noise = join(work, "noise.raw");
    await writeFile(noise, big);
    const id = (await ferryMover("backup", "--source", noise, "--repo", repo)).stdout.trim();
    const failed = await ferryMoverFails("test-restore", "--repo", repo, "--restore-point", id);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/FAILED: the guest mounted no filesystem of disk disk0/);
    // Recorded beside the restore point, for the catalog and the CLI.
    const [vm, name] = id.split("/");
    const recorded = JSON.parse(
      await readFile(
        join(repo, "restore-points", vm as string, name as string, "boot-test.json"),
        "utf8",
      ),
    );
    expect(recorded).toMatchObject({ restorePointId: id, ok: false });
  });

  it("refuses paths that climb out, symlinks that lead out or are planted, overwrites only with --overwrite, and leaves nothing on failure", async () => {
    const to = join(work, "out2");
    for (const path of ["/disk0-part2/../../etc", "/disk0-part2/docs/../../x"]) {
      const failed = await ferryMoverFails(...filesArgs("get", "--to", to, path));
      expect(failed.stderr).toMatch(/holds "\.\.": name files from the filesystem's root/);
    }
    for (const path of ["/disk0-part2/escape-link", "/disk0-part2/docs/up/etc"]) {
      const failed = await ferryMoverFails(...filesArgs("ls", path));
      expect(failed.stderr).toMatch(/leads outside its filesystem|does not exist/);
    }
    await mkdir(to, { recursive: true });
    await writeFile(join(to, "big.bin"), "mine");
    const clash = await ferryMoverFails(...filesArgs("get", "--to", to, "/disk0-part2/big.bin"));
    expect(clash.stderr).toContain(`${join(to, "big.bin")} exists: a restore never replaces`);
    expect(clash.stderr).toContain("--overwrite");
    expect((await readFile(join(to, "big.bin"))).toString()).toBe("mine");
    await files("get", "--to", to, "--overwrite", "/disk0-part2/big.bin");
    expect((await readFile(join(to, "big.bin"))).equals(big)).toBe(true);

    // A link planted at a name the extraction writes is never followed, --overwrite or not.
    const victim = join(work, "victim.txt");
    await writeFile(victim, "precious\n");
    await symlink(victim, join(to, "hello world.txt"));
    const planted = await ferryMoverFails(
      ...filesArgs("get", "--to", to, "--overwrite", "/disk0-part2/docs/hello world.txt"),
    );
    expect(planted.stderr).toContain(`${join(to, "hello world.txt")} is a symbolic link`);
    expect(await readFile(victim, "utf8")).toBe("precious\n");

    // A failure after the first path takes back what the extraction made, folder included.
    const fresh = join(work, "out3", "new");
    const failed = await ferryMoverFails(
      ...filesArgs("get", "--to", fresh, "/disk0-part2/docs", "/disk0-part2/escape-link"),
    );
    expect(failed.stderr).toMatch(/leads outside its filesystem/);
    expect(await readdir(work)).not.toContain("out3");
  });
});
