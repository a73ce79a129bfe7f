import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueCertificate } from "../../tls/pki.js";
import { rejection } from "../rejection.test-helper.js";
import {
  type FakeRequest,
  type FakeS3,
  s3ErrorAnswer,
  startFakeS3,
} from "./fake-s3.test-helper.js";
import type { RepositoryBackend } from "./repository-backend.js";
import { createS3Backend, type S3BackendOptions } from "./s3-backend.js";
import { parseCredentialsFile, resolveS3Credentials } from "./s3-credentials.js";

// The S3 backend's failure handling against a scripted server: retries, error codes naming
// bucket and key, lost answers of create-only puts, aborts, TLS trust, credentials.

const BUCKET = "fake-bucket";
const SECRET = "s3cr3t-never-logged";
const ENV = { AWS_ACCESS_KEY_ID: "AKIDFAKE", AWS_SECRET_ACCESS_KEY: SECRET };
const MiB = 1024 * 1024;

describe("S3 backend against a scripted server", () => {
  let s3: FakeS3;
  let backend: RepositoryBackend;
  const retries: { code: string; attempt: number }[] = [];

  const options = (extra: Partial<S3BackendOptions> = {}): S3BackendOptions => ({
    endpoint: s3.endpoint,
    region: "default",
    bucket: BUCKET,
    prefix: "repo",
    forcePathStyle: true,
    env: ENV,
    retry: { attempts: 3, baseMs: 1, capMs: 5, throttledBaseMs: 2 },
    onRetry: (error, attempt) => retries.push({ code: error.code, attempt }),
    ...extra,
  });

  beforeAll(async () => {
    s3 = await startFakeS3(BUCKET);
    backend = await createS3Backend(options());
  });
  afterEach(() => {
    s3.hook = undefined;
    s3.requests.length = 0;
    retries.length = 0;
  });
  afterAll(async () => {
    await backend?.close();
    await s3?.close();
  });

  it("retries throttling (503 SlowDown) and server errors with backoff, then succeeds", async () => {
    const answers = ["SlowDown", "InternalError"];
    s3.hook = (_req, res) => {
      const code = answers.shift();
      if (code === undefined) return false;
      s3ErrorAnswer(res, code === "SlowDown" ? 503 : 500, code);
      return true;
    };
    await backend.put("retried", [Buffer.from("data")]);
    expect(s3.objects.get("repo/retried")?.toString()).toBe("data");
    expect(s3.requests.map((r) => r.method)).toEqual(["PUT", "PUT", "PUT"]);
    expect(retries).toEqual([
      { code: "RESOURCE_EXHAUSTED", attempt: 1 },
      { code: "UNAVAILABLE", attempt: 2 },
    ]);
  });

  it("a request the server stops answering times out once its socket is idle, and is retried", async () => {
    await using quick = await createS3Backend(options({ requestTimeoutMs: 300 }));
    let stalled = 0;
    // The first answer never comes: the connection stays open and silent.
    s3.hook = () => stalled++ === 0;
    await quick.put("stalled", [Buffer.from("data")]);
    expect(s3.objects.get("repo/stalled")?.toString()).toBe("data");
    expect(retries).toEqual([{ code: "DEADLINE_EXCEEDED", attempt: 1 }]);
  });

  it("gives up after the policy's attempts with UNAVAILABLE naming bucket and key", async () => {
    s3.hook = (_req, res) => {
      s3ErrorAnswer(res, 500, "InternalError");
      return true;
    };
    const err = await rejection(backend.get("always/failing"));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`s3://${BUCKET}/repo/always/failing`);
    expect(s3.requests).toHaveLength(3);
  });

  it("fails at once on 403 with PERMISSION_DENIED naming bucket and key, never the secret", async () => {
    s3.hook = (_req, res) => {
      s3ErrorAnswer(res, 403, "AccessDenied");
      return true;
    };
    const err = await rejection(backend.put("forbidden/key", [Buffer.from("x")]));
    expect(err.code).toBe("PERMISSION_DENIED");
    expect(err.message).toContain(BUCKET);
    expect(err.message).toContain("repo/forbidden/key");
    expect(err.details).toMatchObject({
      bucket: BUCKET,
      key: "repo/forbidden/key",
      httpStatus: 403,
      s3Code: "AccessDenied",
    });
    expect(s3.requests).toHaveLength(1);
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain(SECRET);
  });

  it("fails a listing whose truncated page gives no way on, rather than end it early", async () => {
    await backend.put("listed/a", [Buffer.from("a")]);
    s3.hook = (req, res) => {
      if (req.method !== "GET" || req.query.get("list-type") !== "2") return false;
      const body = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${BUCKET}</Name><Prefix>repo/listed/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>repo/listed/a</Key><Size>1</Size><LastModified>2026-12-04T00:00:00.000Z</LastModified><ETag>"x"</ETag></Contents></ListBucketResult>`;
      res.writeHead(200, { "content-type": "application/xml", "content-length": body.length });
      res.end(body);
      return true;
    };
    const keys: string[] = [];
    const err = await rejection(
      (async () => {
        for await (const e of backend.list("listed/")) keys.push(e.key);
      })(),
    );
    expect(err.code).toBe("PROTOCOL_ERROR");
    expect(err.message).toContain("continuation token");
  });

  it("answers a missing object with NOT_FOUND naming bucket and key", async () => {
    const err = await rejection(backend.get("no/such/object"));
    expect(err.code).toBe("NOT_FOUND");
    expect(err.message).toContain(`s3://${BUCKET}/repo/no/such/object`);
    expect(await backend.stat("no/such/object")).toBeUndefined();
  });

  it("proves once that the server refuses a second create-only PUT, and refuses a server that does not", async () => {
    // A backend of its own: the shared one may have proven it already.
    const fresh = await createS3Backend(options());
    try {
      await fresh.putIfAbsent("proven/first", [Buffer.from("a")]);
      await fresh.putIfAbsent("proven/second", [Buffer.from("b")]);
    } finally {
      await fresh.close();
    }
    // The probe (two PUTs and a DELETE) runs before the first create-only put only.
    expect(s3.requests.map((r) => r.method)).toEqual(["PUT", "PUT", "DELETE", "PUT", "PUT"]);
    expect([...s3.objects.keys()].filter((k) => k.includes("probe"))).toEqual([]);

    const careless = await createS3Backend(options());
    s3.hook = (req, res) => {
      if (req.method !== "PUT") return false;
      // A server that ignores If-None-Match: every PUT overwrites.
      s3.objects.set(req.key, req.body);
      res.writeHead(200, { etag: '"x"', "content-length": 0 });
      res.end();
      return true;
    };
    try {
      const err = await rejection(careless.putIfAbsent("never/written", [Buffer.from("c")]));
      expect(err.code).toBe("CONFIG_INVALID");
      expect(err.message).toContain("If-None-Match");
      expect(s3.objects.has("repo/never/written")).toBe(false);
    } finally {
      await careless.close();
    }
  });

  it("create-only put whose answer was lost: the retry's 412 is recognised as its own write", async () => {
    // Create-only writes proven first, so that only the put under test is scripted.
    await backend.putIfAbsent("lost/before", [Buffer.from("x")]);
    s3.requests.length = 0;
    let dropped = false;
    s3.hook = (req, res) => {
      if (req.method !== "PUT" || dropped) return false;
      // Store the object, then break the connection before answering.
      dropped = true;
      s3.objects.set(req.key, req.body);
      res.socket?.destroy();
      return true;
    };
    await backend.putIfAbsent("lost/answer", [Buffer.from("mine")]);
    expect(retries.map((r) => r.code)).toEqual(["CONNECTION_CLOSED"]);
    expect(s3.requests.map((r) => r.method)).toEqual(["PUT", "PUT", "HEAD"]);
    // Someone else's object under the key stays someone else's.
    const err = await rejection(backend.putIfAbsent("lost/answer", [Buffer.from("other")]));
    expect(err.code).toBe("ALREADY_EXISTS");
  });

  it("an abort during a multipart upload rejects CANCELLED and aborts the upload", async () => {
    const big = await createS3Backend(
      options({ multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB }),
    );
    try {
      // Parts are never answered: the put stays in flight until the abort.
      s3.hook = (req) => req.method === "PUT" && req.query.has("uploadId");
      const controller = new AbortController();
      const firstPart = new Promise<void>((resolve) => {
        const onRequest = (r: FakeRequest) => {
          if (!r.query.has("partNumber")) return;
          s3.events.off("request", onRequest);
          resolve();
        };
        s3.events.on("request", onRequest);
      });
      const put = big.put("multi", [Buffer.alloc(12 * MiB, 7)], controller.signal);
      await firstPart;
      controller.abort();
      expect((await rejection(put)).code).toBe("CANCELLED");
      const aborts = s3.requests.filter(
        (r: FakeRequest) => r.method === "DELETE" && r.query.has("uploadId"),
      );
      expect(aborts).toHaveLength(1);
      expect(s3.objects.has("repo/multi")).toBe(false);
    } finally {
      await big.close();
    }
  });
});

describe("S3 backend over TLS with a private CA", () => {
  let dir: string;
  let s3: FakeS3;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-s3-tls-"));
    const { cert: ca } = await createCa(join(dir, "pki"));
    const issued = await issueCertificate(join(dir, "pki"), "rgw", { hosts: ["127.0.0.1"] });
    s3 = await startFakeS3(BUCKET, {
      key: await readFile(issued.key),
      cert: await readFile(issued.cert),
    });
    await writeFile(join(dir, "ca.pem"), await readFile(ca));
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const tlsOptions = (extra: Partial<S3BackendOptions> = {}): S3BackendOptions => ({
    endpoint: s3.endpoint,
    region: "default",
    bucket: BUCKET,
    forcePathStyle: true,
    env: ENV,
    retry: { attempts: 3, baseMs: 1, capMs: 5, throttledBaseMs: 2 },
    ...extra,
  });

  it("trusts the server whose certificate the given CA signed", async () => {
    await using backend = await createS3Backend(tlsOptions({ caFile: join(dir, "ca.pem") }));
    await backend.put("over-tls", [Buffer.from("secure")]);
    expect((await backend.get("over-tls")).toString()).toBe("secure");
  });

  it("sends uploads over TLS with an unsigned payload (TLS guards the body), plain HTTP ones signed, neither with Expect: 100-continue", async () => {
    await using tls = await createS3Backend(tlsOptions({ caFile: join(dir, "ca.pem") }));
    // 3 MiB: past the SDK's threshold for "Expect: 100-continue", which is not sent.
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    await tls.put("unsigned", [body]);
    await tls.putIfAbsent("unsigned-once", [body]);
    const puts = s3.requests.filter((r) => r.method === "PUT" && /^unsigned(-once)?$/.test(r.key));
    expect(puts.map((r) => r.headers["x-amz-content-sha256"])).toEqual([
      "UNSIGNED-PAYLOAD",
      "UNSIGNED-PAYLOAD",
    ]);
    expect(puts.every((r) => r.headers.expect === undefined)).toBe(true);
    // The rest of the request is still signed.
    expect(
      puts.every((r) =>
        /^AWS4-HMAC-SHA256 .*Signature=[0-9a-f]{64}$/.test(String(r.headers.authorization)),
      ),
    ).toBe(true);
    await using plain = await startFakeS3(BUCKET);
    await using http = await createS3Backend(tlsOptions({ endpoint: plain.endpoint }));
    await http.put("signed", [body]);
    const sha = createHash("sha256").update(body).digest("hex");
    expect(plain.requests.find((r) => r.method === "PUT")?.headers["x-amz-content-sha256"]).toBe(
      sha,
    );
  });

  it("refuses it without the CA, once and with a hint, not retrying", async () => {
    await using backend = await createS3Backend(tlsOptions());
    const before = s3.requests.length;
    const err = await rejection(backend.get("over-tls"));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/certificate is not trusted.*CA/);
    expect(s3.requests.length).toBe(before);
  });
});

describe("S3 credentials", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-s3-creds-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("parses the AWS shared credentials format, comments and profiles", () => {
    const sections = parseCredentialsFile(
      "# comment\n[default]\naws_access_key_id = A\nAWS_SECRET_ACCESS_KEY=B=C\n\n[ other ]\n; x\naws_access_key_id=D\n",
    );
    expect(sections.get("default")?.get("aws_access_key_id")).toBe("A");
    expect(sections.get("default")?.get("aws_secret_access_key")).toBe("B=C");
    expect(sections.get("other")?.get("aws_access_key_id")).toBe("D");
  });

  it("reads a profile of a private file, or the environment", async () => {
    const file = join(dir, "creds");
    await writeFile(
      file,
      `[p]\naws_access_key_id=ID\naws_secret_access_key=${SECRET}\naws_session_token=T\n`,
      {
        mode: 0o600,
      },
    );
    expect(await resolveS3Credentials({ credentialsFile: file, profile: "p" })).toEqual({
      accessKeyId: "ID",
      secretAccessKey: SECRET,
      sessionToken: "T",
    });
    expect(await resolveS3Credentials({ env: ENV })).toEqual({
      accessKeyId: "AKIDFAKE",
      secretAccessKey: SECRET,
    });
  });

  it("fails with CONFIG_INVALID naming what is missing, never a value", async () => {
    const file = join(dir, "partial");
    await writeFile(file, `[default]\naws_secret_access_key=${SECRET}\n`, { mode: 0o600 });
    const partial = await rejection(resolveS3Credentials({ credentialsFile: file }));
    expect(partial.code).toBe("CONFIG_INVALID");
    expect(partial.message).toContain("[default]");
    expect(partial.message).not.toContain(SECRET);
    const none = await rejection(resolveS3Credentials({ env: { AWS_SECRET_ACCESS_KEY: SECRET } }));
    expect(none.code).toBe("CONFIG_INVALID");
    expect(none.message).toContain("AWS_ACCESS_KEY_ID");
    expect(none.message).not.toContain(SECRET);
    expect(
      (await rejection(resolveS3Credentials({ credentialsFile: join(dir, "absent") }))).code,
    ).toBe("CONFIG_INVALID");
  });

  it("refuses bad options before any request", async () => {
    const base = { region: "r", env: ENV } as const;
    expect((await rejection(createS3Backend({ ...base, bucket: "Bad_Bucket" }))).code).toBe(
      "CONFIG_INVALID",
    );
    expect(
      (await rejection(createS3Backend({ ...base, bucket: "b-1", prefix: "../up" }))).code,
    ).toBe("CONFIG_INVALID");
    expect(
      (await rejection(createS3Backend({ ...base, bucket: "b-1", partSizeBytes: MiB }))).code,
    ).toBe("CONFIG_INVALID");
  });
});
