import { randomBytes } from "node:crypto";
import { open, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { digestToHex } from "./digest.js";
import type { Repository } from "./repository.js";
import { commitChunks, TEST_CHUNK, tempRepository } from "./repository-fixtures.test-helper.js";
import { readVerifyState, verifyRestorePoints } from "./verify.js";

const CHUNK = TEST_CHUNK;

let dir: string;
let repo: Repository;
let dispose: () => Promise<void>;

const chunkDigestOf = (data: Uint8Array) => repo.chunks.digestOf(data);
const backup = (vmId: string, parts: Buffer[]) => commitChunks(repo, vmId, parts);

function chunkPath(data: Buffer): string {
  const hex = digestToHex(chunkDigestOf(data));
  return join(dir, "chunks", hex.slice(0, 4), hex);
}

/** Flips one payload byte in place: header and size stay plausible. */
async function flipByte(path: string): Promise<void> {
  const fh = await open(path, "r+");
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 100);
    b[0] = (b[0] as number) ^ 0xff;
    await fh.write(b, 0, 1, 100);
  } finally {
    await fh.close();
  }
}

// The same behaviour in the clear and encrypted (sealed chunks, keyed digests).
describe.each([
  { kind: "plain", passphrase: undefined },
  { kind: "encrypted", passphrase: "correct horse battery staple" },
])("verify ($kind)", ({ passphrase }) => {
  beforeEach(async () => {
    ({ dir, repo, dispose } = await tempRepository(
      "ferry-verify-",
      passphrase ? { passphrase } : {},
    ));
  });

  afterEach(() => dispose());

  it("passes a sound repository and records the state beside each manifest", async () => {
    const a = await backup("vm-a", [randomBytes(CHUNK), Buffer.alloc(CHUNK)]);
    const report = await verifyRestorePoints(repo);
    expect(report).toMatchObject({ chunksChecked: 1, badChunks: [] });
    expect(await readVerifyState(repo, a)).toMatchObject({
      ok: true,
      chunksChecked: 1,
      corrupt: [],
      missing: [],
    });
  });

  it("names a corrupt chunk and every restore point it breaks, quarantines it, and the next backup rewrites it", async () => {
    const shared = randomBytes(CHUNK);
    const a = await backup("vm-a", [shared, randomBytes(CHUNK)]);
    const b = await backup("vm-b", [shared]);
    const c = await backup("vm-c", [randomBytes(CHUNK)]);
    await flipByte(chunkPath(shared));
    const hex = digestToHex(chunkDigestOf(shared));

    // Verifying only `a` still names `b` as affected.
    const report = await verifyRestorePoints(repo, { restorePointIds: [a] });
    expect(report.badChunks).toEqual([
      expect.objectContaining({ digest: hex, state: "corrupt", restorePoints: [a, b] }),
    ]);
    expect(report.badChunks[0]?.reason).toContain(hex);
    expect(await readVerifyState(repo, a)).toMatchObject({ ok: false, corrupt: [hex] });
    expect(await readVerifyState(repo, c)).toBeUndefined();

    // Quarantined: the chunk is gone from the store, kept aside as .bad.
    expect(await repo.chunks.has(chunkDigestOf(shared))).toBe(false);
    expect(await readdir(join(dir, "chunks", hex.slice(0, 4)))).toContain(`${hex}.bad`);
    const put = await repo.chunks.put(chunkDigestOf(shared), shared);
    expect(put.written).toBe(true);
    const again = await verifyRestorePoints(repo);
    expect(again.badChunks).toEqual([]);
    expect(again.restorePoints.map((s) => s.ok)).toEqual([true, true, true]);
  });

  it("reports a missing chunk as missing", async () => {
    const lost = randomBytes(CHUNK);
    const a = await backup("vm", [lost]);
    await rm(chunkPath(lost));
    const report = await verifyRestorePoints(repo);
    expect(report.badChunks).toEqual([
      { digest: digestToHex(chunkDigestOf(lost)), state: "missing", restorePoints: [a] },
    ]);
    expect(await readVerifyState(repo, a)).toMatchObject({
      ok: false,
      missing: [digestToHex(chunkDigestOf(lost))],
    });
  });
});
