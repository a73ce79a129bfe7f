import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { ListMultipartUploadsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  createLocalBackend,
  createS3Backend,
  type FerryError,
  isFerryError,
  type ListEntry,
  type ListObjectsOptions,
  type RepositoryBackend,
  type S3BackendOptions,
} from "@ferry/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Rgw } from "./lab/ceph-rgw.js";
import { type S3RepositoryLab, startS3RepositoryLab } from "./lab/s3-repository-lab.js";

// One contract, both implementations (restic's internal/backend/test): the semantics the
// repository format relies on, checked against a local directory and against a real S3
// server, Ceph's RADOS Gateway.

const MiB = 1024 * 1024;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A backend under test and how to remove what it stored. */
interface Fixture {
  backend: RepositoryBackend;
  /** Multipart threshold and part size of the S3 fixture (the local one has none). */
  largeBytes: number;
  remove(): Promise<void>;
}

/** The S3 fixture's RGW and bucket, shared with the S3-only tests below. */
let lab: S3RepositoryLab | undefined;
const BUCKET = "ferry-backend-contract";
let credentialsFile = "";
let scratch = "";

function s3Client(r: Rgw): S3Client {
  return new S3Client({
    endpoint: r.endpoint,
    region: r.region,
    forcePathStyle: true,
    credentials: { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Options of an S3 backend on the test RGW; small multipart sizes keep "large" cheap. */
function s3Options(r: Rgw, extra: Partial<S3BackendOptions> = {}): S3BackendOptions {
  return {
    endpoint: r.endpoint,
    region: r.region,
    bucket: BUCKET,
    forcePathStyle: true,
    credentialsFile,
    multipartThresholdBytes: 8 * MiB,
    partSizeBytes: 5 * MiB,
    ...extra,
  };
}

/** Starts RGW once (a missing Ceph fails the suite: it does not skip) with one bucket. */
async function ensureRgw(): Promise<Rgw> {
  lab ??= await startS3RepositoryLab(BUCKET);
  credentialsFile = lab.credentialsFile;
  scratch = lab.dir;
  return lab.rgw;
}

afterAll(async () => {
  await lab?.remove();
});

const fixtures: { name: string; start(): Promise<Fixture> }[] = [
  {
    name: "local directory",
    async start() {
      const dir = await mkdtemp(join(tmpdir(), "ferry-backend-local-"));
      const backend = createLocalBackend({ root: join(dir, "repo") });
      return {
        backend,
        largeBytes: 8 * MiB,
        remove: async () => {
          await backend.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "S3 (Ceph RGW)",
    async start() {
      const r = await ensureRgw();
      // A prefix of its own: the S3-only tests share the bucket.
      const backend = await createS3Backend(s3Options(r, { prefix: "contract/repo" }));
      return { backend, largeBytes: 8 * MiB, remove: () => backend.close() };
    },
  },
];

/** All entries of a listing. */
async function listAll(
  backend: RepositoryBackend,
  prefix: string,
  options: ListObjectsOptions = {},
): Promise<ListEntry[]> {
  const out: ListEntry[] = [];
  for await (const e of backend.list(prefix, options)) out.push(e);
  return out;
}

/** The error `p` rejects with; fails the test if it resolves. */
async function failure(p: Promise<unknown>): Promise<FerryError> {
  const outcome = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isFerryError(outcome)) throw new Error(`expected a FerryError, got ${String(outcome)}`);
  return outcome;
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

describe.each(fixtures)("RepositoryBackend contract: $name", ({ start }) => {
  let f: Fixture;
  let b: RepositoryBackend;

  beforeAll(async () => {
    f = await start();
    b = f.backend;
  });
  afterAll(async () => {
    await f?.remove();
  });

  it("puts, stats and gets an object; a put replaces it whole", async () => {
    const before = Date.now();
    await b.put("basic/one", [Buffer.from("hello "), Buffer.from("world")]);
    expect((await b.get("basic/one")).toString()).toBe("hello world");
    const info = await b.stat("basic/one");
    expect(info).toMatchObject({ key: "basic/one", sizeBytes: 11 });
    // The store's clock, in whole seconds at worst (an S3 HEAD's Last-Modified).
    expect(info?.modifiedMs).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 2000);
    expect(info?.modifiedMs).toBeLessThanOrEqual(Date.now() + 2000);
    await b.put("basic/one", [Buffer.from("replaced")]);
    expect((await b.get("basic/one")).toString()).toBe("replaced");
    await b.put("basic/empty", []);
    expect((await b.get("basic/empty")).length).toBe(0);
    expect((await b.stat("basic/empty"))?.sizeBytes).toBe(0);
  });

  it("reports a missing object: NOT_FOUND naming the key on get, undefined on stat", async () => {
    const err = await failure(b.get("missing/nothing-here"));
    expect(err.code).toBe("NOT_FOUND");
    expect(err.message).toContain("missing/nothing-here");
    expect(await b.stat("missing/nothing-here")).toBeUndefined();
    // A "directory" (a prefix of other keys) is no object either.
    await b.put("missing/dir/child", [Buffer.from("x")]);
    expect(await b.stat("missing/dir")).toBeUndefined();
    expect((await failure(b.get("missing/dir"))).code).toBe("NOT_FOUND");
  });

  it("reads byte ranges: inside, across the end, at and past the end, empty", async () => {
    const data = randomBytes(6 * MiB + 123);
    await b.put("range/big", [data.subarray(0, MiB), data.subarray(MiB)]);
    const at = 4 * MiB - 5;
    const get = (offsetBytes: number, lengthBytes: number) =>
      b.get("range/big", { range: { offsetBytes, lengthBytes } });
    expect(await get(at, 10)).toEqual(data.subarray(at, at + 10));
    expect(await get(0, 1)).toEqual(data.subarray(0, 1));
    expect(sha256(await get(MiB - 7, 3 * MiB))).toBe(sha256(data.subarray(MiB - 7, 4 * MiB - 7)));
    expect(await get(data.length - 3, 100)).toEqual(data.subarray(data.length - 3));
    expect((await get(data.length, 10)).length).toBe(0);
    expect((await get(data.length + 5, 10)).length).toBe(0);
    expect((await get(10, 0)).length).toBe(0);
    expect(sha256(await b.get("range/big"))).toBe(sha256(data));
    expect((await failure(get(-1, 10))).code).toBe("INVALID_ARGUMENT");
    expect(
      (await failure(b.get("range/absent", { range: { offsetBytes: 0, lengthBytes: 0 } }))).code,
    ).toBe("NOT_FOUND");
  });

  it("refuses an object over the reader's maxBytes before reading it", async () => {
    await b.put("bounded/obj", [randomBytes(4096)]);
    const err = await failure(b.get("bounded/obj", { maxBytes: 4095 }));
    expect(err.code).toBe("CORRUPT_DATA");
    expect(err.message).toContain("bounded/obj");
    expect((await b.get("bounded/obj", { maxBytes: 4096 })).length).toBe(4096);
    const range = { offsetBytes: 100, lengthBytes: 1000 };
    expect((await b.get("bounded/obj", { maxBytes: 1000, range })).length).toBe(1000);
  });

  it("putIfAbsent creates once; again it is ALREADY_EXISTS and changes nothing", async () => {
    await b.putIfAbsent("once/key", [Buffer.from("first")]);
    const err = await failure(b.putIfAbsent("once/key", [Buffer.from("second")]));
    expect(err.code).toBe("ALREADY_EXISTS");
    expect(err.message).toContain("once/key");
    expect((await b.get("once/key")).toString()).toBe("first");
    // After a delete the key is free again.
    await b.delete("once/key");
    await b.putIfAbsent("once/key", [Buffer.from("third")]);
    expect((await b.get("once/key")).toString()).toBe("third");
  });

  it("putIfAbsent races: of many writers of one key exactly one wins, and its bytes stay", async () => {
    const contenders = 8;
    for (let round = 0; round < 5; round++) {
      const key = `race/${round}`;
      const bodies = Array.from({ length: contenders }, (_, i) =>
        Buffer.concat([Buffer.from(`writer ${i} `), randomBytes(64 * 1024)]),
      );
      const outcomes = await Promise.allSettled(bodies.map((body) => b.putIfAbsent(key, [body])));
      const winners = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === "rejected") expect(isFerryError(o.reason, "ALREADY_EXISTS")).toBe(true);
      }
      const stored = await b.get(key);
      expect(sha256(stored)).toBe(sha256(bodies[winners[0] as number] as Buffer));
    }
  });

  it("deletes objects; deleting a missing key succeeds", async () => {
    await b.put("del/a", [Buffer.from("a")]);
    await b.delete("del/a");
    expect(await b.stat("del/a")).toBeUndefined();
    await b.delete("del/a");
    await b.delete("del/never/was");
    expect(await listAll(b, "del/")).toEqual([]);
  });

  it("lists a prefix in byte order past 1000 keys, resumes after a key, and by one level", async () => {
    // Like the chunk store: fan-out groups, then names; 1,050 keys take two S3 pages.
    const keys: string[] = [];
    for (let i = 0; i < 1050; i++) {
      const name = createHash("sha256").update(String(i)).digest("hex").slice(0, 16);
      keys.push(`many/${name.slice(0, 2)}/${name}`);
    }
    await eachLimited(keys, 32, (k) => b.put(k, [Buffer.from(k)]));
    // Around the prefix: a sibling that shares its start, and keys that sort either side.
    await b.put("many-not/x", [Buffer.from("x")]);
    await b.put("manx", [Buffer.from("x")]);
    await b.put("man/y", [Buffer.from("y")]);
    const sorted = [...keys].sort();

    const all = await listAll(b, "many/");
    expect(all.map((e) => e.key)).toEqual(sorted);
    expect(all.every((e) => e.t === "object" && e.sizeBytes === e.key.length)).toBe(true);

    const cut = sorted[700] as string;
    expect((await listAll(b, "many/", { startAfter: cut })).map((e) => e.key)).toEqual(
      sorted.slice(701),
    );

    // A prefix that ends inside a segment.
    const partial = (await listAll(b, "many/a")).map((e) => e.key);
    expect(partial).toEqual(sorted.filter((k) => k.startsWith("many/a")));
    expect(partial.length).toBeGreaterThan(0);

    const groups = await listAll(b, "many/", { delimited: true });
    const expectedGroups = [...new Set(sorted.map((k) => k.slice(0, "many/xx/".length)))].sort();
    expect(groups).toEqual(expectedGroups.map((key) => ({ t: "prefix", key })));
    const top = await listAll(b, "man", { delimited: true });
    expect(top.map((e) => `${e.t} ${e.key}`)).toEqual([
      "prefix man/",
      "object manx",
      "prefix many-not/",
      "prefix many/",
    ]);
  });

  it("lists nothing under a prefix that has no objects", async () => {
    expect(await listAll(b, "nothing-here/")).toEqual([]);
    expect(await listAll(b, "nothing-here/", { delimited: true })).toEqual([]);
  });

  it("stores large objects whole and reads ranges across their pieces", async () => {
    // Over the S3 fixture's multipart threshold: parts of 5 MiB, the last one short.
    const data = randomBytes(3 * f.largeBytes + 12345);
    const pieces = [data.subarray(0, 1000), data.subarray(1000, 7 * MiB), data.subarray(7 * MiB)];
    await b.put("large/obj", pieces);
    expect((await b.stat("large/obj"))?.sizeBytes).toBe(data.length);
    expect(sha256(await b.get("large/obj"))).toBe(sha256(data));
    const across = 5 * MiB - 100;
    expect(await b.get("large/obj", { range: { offsetBytes: across, lengthBytes: 200 } })).toEqual(
      data.subarray(across, across + 200),
    );
    // A large create-only put is one request too.
    await b.putIfAbsent("large/once", [data]);
    expect(sha256(await b.get("large/once"))).toBe(sha256(data));
  });

  it("refuses malformed keys and prefixes with INVALID_ARGUMENT", async () => {
    for (const key of ["", "/a", "a/", "a//b", "../a", "a/../b", "a/./b", "a b", "a\\b", "é"]) {
      expect((await failure(b.get(key))).code, key).toBe("INVALID_ARGUMENT");
      expect((await failure(b.put(key, []))).code, key).toBe("INVALID_ARGUMENT");
    }
    expect((await failure(listAll(b, "../"))).code).toBe("INVALID_ARGUMENT");
  });

  it("fails calls whose signal is aborted with CANCELLED, writing nothing", async () => {
    const aborted = AbortSignal.abort();
    const data = [Buffer.from("never")];
    expect((await failure(b.put("abort/put", data, aborted))).code).toBe("CANCELLED");
    expect((await failure(b.putIfAbsent("abort/create", data, aborted))).code).toBe("CANCELLED");
    expect((await failure(b.get("abort/put", { signal: aborted }))).code).toBe("CANCELLED");
    expect((await failure(b.stat("abort/put", aborted))).code).toBe("CANCELLED");
    expect((await failure(b.delete("abort/put", aborted))).code).toBe("CANCELLED");
    expect((await failure(listAll(b, "abort/", { signal: aborted }))).code).toBe("CANCELLED");
    expect(await listAll(b, "abort/")).toEqual([]);
  });

  it("fails every call after close with FAILED_PRECONDITION", async () => {
    const other = await start();
    await other.backend.close();
    await other.backend.close();
    expect((await failure(other.backend.get("x"))).code).toBe("FAILED_PRECONDITION");
    expect((await failure(other.backend.put("x", []))).code).toBe("FAILED_PRECONDITION");
    await other.remove();
  });
});

describe("S3 backend against Ceph RGW", () => {
  let r: Rgw;
  beforeAll(async () => {
    r = await ensureRgw();
  });

  it("names the bucket and key when the server refuses (403) or has no object (404)", async () => {
    const wrong = join(scratch, "wrong-credentials");
    const secret = "not-the-secret-0123456789";
    await writeFile(
      wrong,
      `[other]\naws_access_key_id=${r.accessKeyId}\naws_secret_access_key=${secret}\n`,
      {
        mode: 0o600,
      },
    );
    const refused = await createS3Backend(
      s3Options(r, { credentialsFile: wrong, profile: "other", prefix: "denied" }),
    );
    try {
      const err = await failure(refused.get("some/key"));
      expect(err.code).toBe("UNAUTHENTICATED");
      expect(err.message).toContain(BUCKET);
      expect(err.message).toContain("denied/some/key");
      expect(err.details).toMatchObject({
        bucket: BUCKET,
        key: "denied/some/key",
        httpStatus: 403,
      });
      // The secret is in no message, no details and no inspection of the backend.
      expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain(secret);
      expect(inspect(refused, { depth: 10 })).not.toContain(secret);
      expect(inspect(refused, { depth: 10 })).not.toContain(r.secretAccessKey);
    } finally {
      await refused.close();
    }

    const missingBucket = await createS3Backend(s3Options(r, { bucket: "no-such-bucket" }));
    try {
      const err = await failure(missingBucket.put("k", [Buffer.from("x")]));
      expect(err.code).toBe("NOT_FOUND");
      expect(err.message).toContain("no-such-bucket");
    } finally {
      await missingBucket.close();
    }

    const backend = await createS3Backend(s3Options(r, { prefix: "named" }));
    try {
      const err = await failure(backend.get("absent/key"));
      expect(err.code).toBe("NOT_FOUND");
      expect(err.message).toContain(`s3://${BUCKET}/named/absent/key`);
    } finally {
      await backend.close();
    }
  });

  it("keeps keys below its prefix and ignores other objects in the bucket", async () => {
    const s3 = s3Client(r);
    try {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "scoped/foreign key", Body: "x" }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "scoped-not/a", Body: "x" }));
    } finally {
      s3.destroy();
    }
    const backend = await createS3Backend(s3Options(r, { prefix: "/scoped/" }));
    try {
      expect(backend.location).toBe(`s3://${BUCKET}/scoped/`);
      await backend.put("mine", [Buffer.from("m")]);
      expect((await listAll(backend, "")).map((e) => e.key)).toEqual(["mine"]);
    } finally {
      await backend.close();
    }
  });

  it("stores a large put as a multipart upload and leaves none pending", async () => {
    const backend = await createS3Backend(s3Options(r, { prefix: "mpu" }));
    const s3 = s3Client(r);
    try {
      const data = randomBytes(20 * MiB);
      await backend.put("done", [data]);
      expect(sha256(await backend.get("done"))).toBe(sha256(data));
      const pending = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "mpu/" }),
      );
      expect(pending.Uploads ?? []).toEqual([]);
    } finally {
      s3.destroy();
      await backend.close();
    }
  });

  it("reads the credentials file only when its owner alone may read it", async () => {
    const open = join(scratch, "open-credentials");
    await writeFile(open, "[default]\naws_access_key_id=a\naws_secret_access_key=b\n", {
      mode: 0o644,
    });
    expect((await stat(open)).mode & 0o777).toBe(0o644);
    expect((await failure(createS3Backend(s3Options(r, { credentialsFile: open })))).code).toBe(
      "PERMISSION_DENIED",
    );
  });
});
