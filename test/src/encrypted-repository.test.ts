// Encryption at rest, end to end: a mover backs up a running VM into an encrypted
// repository; it restores with the passphrase, and every command refuses without it.
import { randomBytes } from "node:crypto";
import { access, chmod, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Consistency, createClient, MoverService, QuiesceMode, Transport } from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkFilePaths } from "./lab/chunk-files.js";
import { ferryMover, ferryMoverFails } from "./lab/ferry-mover-cli.js";
import { checkWorkload, openExt4Image } from "./lab/guest-files.js";
import { type LabVm, vmRef } from "./lab/lab-vm.js";
import { ferryLeftovers, NO_LEFTOVERS } from "./lab/leftovers.js";
import { type MoverFixture, startMoverFixture } from "./lab/mover-fixture.js";

const PASSPHRASE = "a long passphrase only the backup admins know";
const MARKER = "FERRY-PLAINTEXT-MARKER-";

async function passphraseFile(path: string, text: string): Promise<string> {
  await writeFile(path, `${text}\n`, { mode: 0o600 });
  return path;
}

describe("an encrypted repository", () => {
  let fx: MoverFixture;
  let key: string;

  beforeAll(async () => {
    // The mover reads the passphrase at start, before the fixture's scratch dir exists.
    key = await passphraseFile(
      join(tmpdir(), `ferry-pass-${randomBytes(4).toString("hex")}`),
      PASSPHRASE,
    );
    fx = await startMoverFixture({ vms: 1, disksPerVm: 1 }, { repositoryPassphraseFile: key });
  });

  afterAll(async () => {
    await fx?.dispose();
    await rm(key, { force: true });
  });

  /** `ferry-mover restore` arguments for restore point `id` of `repo` into raw `to`. */
  const restoreArgs = (repo: string, id: string, to: string, ...more: string[]) => [
    "restore",
    "--repo",
    repo,
    "--restore-point",
    id,
    "--to",
    to,
    "--format",
    "raw",
    ...more,
  ];

  it("holds a running VM's backup that restores with the passphrase and is refused without it", async () => {
    const vm = fx.lab.vms[0] as LabVm;
    using client = createClient(MoverService, fx.mover.address);
    const res = await client.runBackup({
      taskId: "enc-1",
      jobId: "enc-job-1",
      vm: vmRef(vm),
      transport: Transport.HOTADD,
      quiesce: QuiesceMode.REQUIRED,
      repository: fx.repo,
    });
    const id = res.restorePoint?.id ?? "";
    expect(res.restorePoint?.consistency).toBe(Consistency.APPLICATION);
    const config = JSON.parse(await readFile(join(fx.repo, "repository.json"), "utf8"));
    expect(config).toMatchObject({ version: 3, encryption: { cipher: "aes-256-gcm" } });
    // The key is sealed at full cost here (only unit tests weaken the KDF).
    for (const file of await readdir(join(fx.repo, "keys"))) {
      const key = JSON.parse(await readFile(join(fx.repo, "keys", file), "utf8"));
      expect(key.kdf).toMatchObject({ name: "argon2id", t: 3, m: 64 * 1024, p: 4 });
    }
    expect(await ferryLeftovers(vm.spareQmpSocket, fx.lab.datastoreDir)).toEqual(NO_LEFTOVERS);

    // Without the passphrase: listed, but neither restored nor verified, and nothing left.
    const target = join(fx.work, "restored.raw");
    const refused = await ferryMoverFails(...restoreArgs(fx.repo, id, target));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`repository ${fx.repo} is encrypted`);
    expect(refused.stderr).toContain("--passphrase-file");
    await expect(access(target)).rejects.toThrow();
    expect((await ferryMover("restore-points", "--repo", fx.repo)).stdout).toContain(id);
    const unverified = await ferryMoverFails("verify", "--repo", fx.repo);
    expect(unverified.stderr).toContain("is encrypted");

    const wrong = await passphraseFile(join(fx.work, "wrong"), "not the passphrase");
    const denied = await ferryMoverFails(
      ...restoreArgs(fx.repo, id, target, "--passphrase-file", wrong),
    );
    expect(denied.stderr).toContain("wrong passphrase");
    expect(denied.stderr).not.toContain("not the passphrase");

    // With it: a consistent filesystem, and verify finds every chunk sound.
    await ferryMover(...restoreArgs(fx.repo, id, target, "--passphrase-file", key));
    {
      await using disk = await openExt4Image(target, { format: "raw" });
      expect(disk.fsckExitCode).toBe(0);
      const check = await checkWorkload(disk);
      expect(check.verified).toBeGreaterThan(0);
      expect(check.mismatched).toEqual([]);
    }
    const verified = await ferryMover("verify", "--repo", fx.repo, "--passphrase-file", key);
    expect(verified.stdout).toMatch(/verified 1 restore point\(s\), \d+ chunk\(s\).*all sound/);
  });

  it("stores a disk's data only sealed, and takes a second passphrase", async () => {
    const repo = join(fx.work, "cli-repo");
    const image = join(fx.work, "marked.raw");
    // Text that compresses: in a plain repository its LZ4 literals would be readable.
    await writeFile(image, Buffer.from(`${MARKER}payroll `.repeat((4 * 1024 * 1024) / 32)));
    const init = await ferryMover("init", "--repo", repo, "--passphrase-file", key);
    expect(init.stdout).toContain("encrypted (AES-256-GCM)");
    const id = (
      await ferryMover("backup", "--source", image, "--repo", repo, "--passphrase-file", key)
    ).stdout.trim();
    const files = await chunkFilePaths(repo);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect((await readFile(file)).includes(Buffer.from(MARKER.slice(0, 12)))).toBe(false);
    }

    const second = await passphraseFile(join(fx.work, "second"), "the second passphrase");
    await ferryMover(
      "key",
      "add",
      "--repo",
      repo,
      "--passphrase-file",
      key,
      "--new-passphrase-file",
      second,
    );
    const out = join(fx.work, "marked-restored.raw");
    await ferryMover(...restoreArgs(repo, id, out, "--passphrase-file", second));
    expect((await readFile(out)).equals(await readFile(image))).toBe(true);

    // A passphrase file others can read is refused, not used.
    await chmod(second, 0o644);
    const loose = await ferryMoverFails("verify", "--repo", repo, "--passphrase-file", second);
    expect(loose.stderr).toContain("readable by others");
  });
});
