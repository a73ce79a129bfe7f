import { FerryError, isFerryError } from "../errors/ferry-error.js";
import { throwIfAborted } from "../util/signals.js";
import { digestFromHex, digestToHex, isZeroChunkDigest } from "./digest.js";
import { VERIFY_STATE_FILE } from "./format.js";
import type { Repository } from "./repository.js";

/** The outcome of verifying one restore point, also kept beside its manifest. */
export interface VerifyOutcome {
  restorePointId: string;
  /** ISO 8601 UTC. */
  verifiedAt: string;
  ok: boolean;
  chunksChecked: number;
  /** Hex digests of chunks the restore point needs that are missing. */
  missing: string[];
  /** Hex digests of chunks that failed their checks (moved aside: the next backup rewrites them). */
  corrupt: string[];
  /** Why the restore point itself could not be read (a damaged or tampered manifest or index). */
  error?: string;
}

/** A bad chunk and every restore point that needs it. */
export interface BadChunkReport {
  digest: string;
  state: "missing" | "corrupt";
  /** Why it failed (corrupt only). */
  reason?: string;
  restorePoints: string[];
}

/** What a verification run found. */
export interface VerifyReport {
  restorePoints: VerifyOutcome[];
  chunksChecked: number;
  bytesChecked: number;
  badChunks: BadChunkReport[];
}

/** Options of {@link verifyRestorePoints}. */
export interface VerifyOptions {
  /** Restore points to verify; default all. */
  restorePointIds?: readonly string[];
  /** Chunks read at once (default 4). */
  concurrency?: number;
  /** Called after each chunk; must not block. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Re-reads every chunk the chosen restore points reference and checks its header, checksum
 * and BLAKE3 digest, each distinct chunk once. Corrupt chunks are quarantined so the next
 * backup that reads their data writes them again. Every verified restore point gets its
 * state written beside its manifest; bad chunks are reported with every restore point in
 * the repository that needs them.
 */
export async function verifyRestorePoints(
  repo: Repository,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const signal = options.signal;
  const ids =
    options.restorePointIds ??
    (await repo.listRestorePoints(signal ? { signal } : {})).map((m) => m.restorePointId);
  const unique = new Set<string>();
  const digestsOf = new Map<string, Set<string>>();
  // A restore point that cannot be read (damaged, or failing its authentication) fails on
  // its own; the others are still verified.
  const unreadable = new Map<string, string>();
  for (const id of ids) {
    const digests = await indexDigests(repo, id, signal).catch((err: unknown) => {
      if (!isFerryError(err, "CORRUPT_DATA")) throw err;
      unreadable.set(id, err.message);
      return new Set<string>();
    });
    digestsOf.set(id, digests);
    for (const hex of digests) unique.add(hex);
  }
  const all = [...unique];
  const bad = new Map<string, BadChunkReport>();
  let bytesChecked = 0;
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < all.length) {
      throwIfAborted(signal, "verify");
      const hex = all[next++] as string;
      const digest = digestFromHex(hex);
      const result = await repo.chunks.verify(digest, signal);
      if (result.t === "ok") bytesChecked += result.storedBytes;
      else if (result.t === "missing")
        bad.set(hex, { digest: hex, state: "missing", restorePoints: [] });
      else {
        await repo.chunks.quarantine(digest);
        bad.set(hex, {
          digest: hex,
          state: "corrupt",
          reason: result.error.message,
          restorePoints: [],
        });
      }
      options.onProgress?.(++done, all.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  // Name every restore point a bad chunk breaks, not only the ones verified now.
  if (bad.size > 0) {
    const affected = await restorePointsUsing(repo, new Set(bad.keys()), signal);
    for (const [hex, chunk] of bad) chunk.restorePoints = affected.get(hex) ?? [];
  }
  const verifiedAt = new Date().toISOString();
  const states: VerifyOutcome[] = [];
  for (const id of ids) {
    const digests = digestsOf.get(id) ?? new Set<string>();
    const failed = [...digests].filter((hex) => bad.has(hex)).sort();
    const error = unreadable.get(id);
    const state: VerifyOutcome = {
      restorePointId: id,
      verifiedAt,
      ok: failed.length === 0 && error === undefined,
      chunksChecked: digests.size,
      missing: failed.filter((hex) => bad.get(hex)?.state === "missing"),
      corrupt: failed.filter((hex) => bad.get(hex)?.state === "corrupt"),
      ...(error === undefined ? {} : { error }),
    };
    await writeVerifyState(repo, state);
    states.push(state);
  }
  return {
    restorePoints: states,
    chunksChecked: all.length,
    bytesChecked,
    badChunks: [...bad.values()].sort((a, b) => a.digest.localeCompare(b.digest)),
  };
}

/** Every restore point of the repository that references one of `digests` (hex), by digest. */
export async function restorePointsUsing(
  repo: Repository,
  digests: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (const manifest of await repo.listRestorePoints(signal ? { signal } : {})) {
    const id = manifest.restorePointId;
    // An unreadable restore point is reported by verify itself, not here.
    const used = await indexDigests(repo, id, signal).catch((err: unknown) => {
      if (isFerryError(err, "CORRUPT_DATA")) return new Set<string>();
      throw err;
    });
    for (const hex of used) {
      if (!digests.has(hex)) continue;
      const list = found.get(hex) ?? [];
      list.push(id);
      found.set(hex, list);
    }
  }
  return found;
}

/** The last verification state of a restore point; undefined when never verified. */
export async function readVerifyState(
  repo: Repository,
  id: string,
): Promise<VerifyOutcome | undefined> {
  const found = await repo.readSidecar(id, VERIFY_STATE_FILE);
  if (found === undefined) return undefined;
  let value: VerifyOutcome;
  try {
    value = JSON.parse(found.text) as VerifyOutcome;
  } catch (err) {
    throw new FerryError("CORRUPT_DATA", `${found.path} is not valid JSON`, { cause: err });
  }
  if (value?.restorePointId !== id || typeof value.ok !== "boolean")
    throw new FerryError("CORRUPT_DATA", `${found.path} is not a verify state of ${id}`);
  return value;
}

function writeVerifyState(repo: Repository, state: VerifyOutcome): Promise<void> {
  return repo.writeSidecar(
    state.restorePointId,
    VERIFY_STATE_FILE,
    `${JSON.stringify(state, null, 2)}\n`,
  );
}

async function indexDigests(
  repo: Repository,
  id: string,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const reader = await repo.openRestorePoint(id, signal);
  const digests = new Set<string>();
  for (const disk of reader.manifest.disks) {
    const index = await reader.readIndex(disk.id, signal);
    for (let i = 0; i < index.chunkCount; i++) {
      const digest = index.digestAt(i);
      if (!isZeroChunkDigest(digest)) digests.add(digestToHex(digest));
    }
  }
  return digests;
}
