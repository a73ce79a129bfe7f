// A repository backend on an S3 bucket (AWS S3, Ceph RGW, MinIO…) through @aws-sdk/client-s3,
// loaded only when a backend is created. Requests in flight are bounded; each is retried with
// backoff on 5xx, throttling and broken connections; create-only writes are single PUTs with
// If-None-Match: *; large plain writes are multipart.
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Readable } from "node:stream";
import type { GetObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { FerryError } from "../../errors/ferry-error.js";
import { createSemaphore, type Semaphore } from "../../util/semaphore.js";
import { throwIfAborted } from "../../util/signals.js";
import { assertByteRange, tooLarge } from "./byte-range.js";
import { assertObjectKey, assertObjectPrefix, compareKeys } from "./object-keys.js";
import type {
  BackendCapabilities,
  GetObjectOptions,
  ListEntry,
  ListObjectsOptions,
  ObjectInfo,
  RepositoryBackend,
} from "./repository-backend.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetries } from "./retry.js";
import { resolveS3Credentials, type S3CredentialSource } from "./s3-credentials.js";
import { s3Error, s3ErrorCode, s3Status } from "./s3-errors.js";

type Sdk = typeof import("@aws-sdk/client-s3");

const MiB = 1024 * 1024;
/** S3's limit on one PUT request, bytes. */
const MAX_SINGLE_PUT_BYTES = 5 * 1024 * MiB;
/** S3's smallest part of a multipart upload but the last, bytes. */
const MIN_PART_BYTES = 5 * MiB;
/** Parts of one multipart upload in flight at once. */
const PART_PARALLELISM = 4;

/** Options of {@link createS3Backend}. Credentials come from a file or the environment. */
export interface S3BackendOptions extends S3CredentialSource {
  bucket: string;
  /** The region requests are signed for (RGW: its zone group, e.g. "default"). */
  region: string;
  /** The server's URL, `https://rgw.example:7480`; default AWS's endpoint of `region`. */
  endpoint?: string;
  /** Keys go below this prefix ("ferry/site-a"); default the bucket's root. */
  prefix?: string;
  /** `endpoint/bucket/key` rather than `bucket.endpoint/key` (RGW and MinIO want it). */
  forcePathStyle?: boolean;
  /**
   * PEM file of the CA that signed the server's certificate; when given, the only CA trusted
   * (a private RGW's). Default: Node's public roots.
   */
  caFile?: string;
  /** Requests in flight at once, the connection pool's size too (default 64). */
  maxRequestsInFlight?: number;
  /** A request whose socket is idle this long fails (and is retried), ms (default 120 s). */
  requestTimeoutMs?: number;
  /** How failed requests are retried (default {@link DEFAULT_RETRY_POLICY}). */
  retry?: Partial<RetryPolicy>;
  /** Plain puts larger than this go multipart, bytes (default 64 MiB; at least partSizeBytes). */
  multipartThresholdBytes?: number;
  /** Part size of multipart uploads, bytes (default 16 MiB; at least 5 MiB). */
  partSizeBytes?: number;
  /** Told of each retry (for logs); the error names bucket and key, never credentials. */
  onRetry?: (error: FerryError, attempt: number, delayMs: number) => void;
}

/**
 * A backend over `s3://bucket/prefix`. Reads the credentials (and the CA file) now and
 * makes no request until used; CONFIG_INVALID for missing credentials or bad options.
 */
export async function createS3Backend(options: S3BackendOptions): Promise<RepositoryBackend> {
  if (
    typeof options.bucket !== "string" ||
    !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)
  ) {
    throw new FerryError(
      "CONFIG_INVALID",
      `S3 bucket name ${JSON.stringify(options.bucket)} is not valid`,
    );
  }
  const prefix = normalizePrefix(options.prefix ?? "");
  const partSizeBytes = options.partSizeBytes ?? 16 * MiB;
  const thresholdBytes = options.multipartThresholdBytes ?? 64 * MiB;
  if (
    partSizeBytes < MIN_PART_BYTES ||
    thresholdBytes < partSizeBytes ||
    thresholdBytes > MAX_SINGLE_PUT_BYTES
  ) {
    throw new FerryError(
      "CONFIG_INVALID",
      `S3 part size ${partSizeBytes} must be at least ${MIN_PART_BYTES} and at most the multipart threshold ${thresholdBytes} (at most 5 GiB)`,
    );
  }
  const credentials = await resolveS3Credentials(options);
  const ca = options.caFile === undefined ? undefined : await readCa(options.caFile);
  const sdk = await import("@aws-sdk/client-s3");
  const inFlight = Math.max(1, options.maxRequestsInFlight ?? 64);
  const agent = { keepAlive: true, maxSockets: inFlight };
  const client = new sdk.S3Client({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    forcePathStyle: options.forcePathStyle ?? false,
    credentials,
    // Retries are ours (withRetries): one policy, aware of create-only puts and of aborts.
    maxAttempts: 1,
    // Checksums only where S3 requires them: SigV4 (over HTTP) or TLS covers the payload, and
    // RGW 16.2 knows no x-amz-checksum-* headers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // No "Expect: 100-continue" on PUTs of 2 MiB and more: with our own agents the SDK sends
    // the body without waiting anyway, it costs an interim answer per PUT, and RGW's beast
    // frontend mishandled it beside keep-alive when it refused a request early (Ceph
    // tracker 58286; a create-only PUT's 412 is such a refusal).
    expectContinueHeader: false,
    requestHandler: {
      httpAgent: new HttpAgent(agent),
      httpsAgent: new HttpsAgent({ ...agent, ...(ca === undefined ? {} : { ca }) }),
      connectionTimeout: 30_000,
      // Idle time, which throws; the SDK's requestTimeout (the whole request) only logs a
      // warning and waits on, so a request the server never answers would hang a backup.
      socketTimeout: options.requestTimeoutMs ?? 120_000,
    },
  });
  if (overTls(options.endpoint)) signPayloadsUnsigned(client);
  return new S3Backend(sdk, client, {
    bucket: options.bucket,
    prefix,
    inFlight,
    partSizeBytes,
    thresholdBytes,
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    onRetry: options.onRetry,
  });
}

/** Whether requests to `endpoint` go over TLS (no endpoint: AWS's, which is https). */
function overTls(endpoint: string | undefined): boolean {
  return endpoint === undefined || /^https:/i.test(endpoint);
}

/**
 * Uploads over TLS carry `x-amz-content-sha256: UNSIGNED-PAYLOAD` (as AWS's own SDKs do over
 * https): TLS already guards the body, and SigV4's payload hash costs both ends a SHA-256 of
 * every byte. Over plain HTTP the signature is what keeps the body from being altered on the
 * way, so it stays. The signature still covers method, key and headers either way.
 */
function signPayloadsUnsigned(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { method?: string; headers?: Record<string, string> };
      if (request.method === "PUT" && request.headers)
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      return next(args);
    },
    { step: "build", name: "ferryUnsignedPayloadOverTls" },
  );
}

/** "a/b", "/a/b/" -> "a/b/"; "" stays "". */
function normalizePrefix(raw: string): string {
  const trimmed = raw.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "";
  try {
    assertObjectKey(trimmed);
  } catch {
    throw new FerryError(
      "CONFIG_INVALID",
      `S3 prefix ${JSON.stringify(raw)} is not a safe relative path`,
    );
  }
  return `${trimmed}/`;
}

async function readCa(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
    throw new FerryError("CONFIG_INVALID", `cannot read the S3 CA file ${path}: ${code}`);
  }
}

interface S3BackendConfig {
  bucket: string;
  /** "" or ending in "/". */
  prefix: string;
  inFlight: number;
  partSizeBytes: number;
  thresholdBytes: number;
  retry: RetryPolicy;
  onRetry: S3BackendOptions["onRetry"];
}

class S3Backend implements RepositoryBackend {
  readonly location: string;
  readonly capabilities: BackendCapabilities;
  // Private fields stay out of util.inspect and JSON: the client holds the credentials.
  readonly #sdk: Sdk;
  readonly #client: S3Client;
  readonly #slots: Semaphore;
  readonly #config: S3BackendConfig;
  #closed = false;
  #createOnlyProven: Promise<void> | undefined;

  constructor(sdk: Sdk, client: S3Client, config: S3BackendConfig) {
    this.#sdk = sdk;
    this.#client = client;
    this.#config = config;
    this.#slots = createSemaphore(config.inFlight);
    this.location = `s3://${config.bucket}/${config.prefix}`;
    this.capabilities = {
      kind: "s3",
      preferredConcurrency: config.inFlight,
      maxCreateOnlyBytes: MAX_SINGLE_PUT_BYTES,
      touchableModifiedTimes: false,
    };
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    const head = await this.head(this.begin(key, signal), signal);
    return head && { key, sizeBytes: head.sizeBytes, modifiedMs: head.modifiedMs };
  }

  async get(key: string, options: GetObjectOptions = {}): Promise<Buffer> {
    const full = this.begin(key, options.signal);
    const { range, signal, maxBytes } = options;
    if (range) assertByteRange(range);
    if (range?.lengthBytes === 0) {
      // No HTTP range is empty; the object must still exist.
      if (!(await this.head(full, signal))) throw this.notFound(full);
      return Buffer.alloc(0);
    }
    const Range =
      range && `bytes=${range.offsetBytes}-${range.offsetBytes + range.lengthBytes - 1}`;
    return this.send("GET", full, signal, async () => {
      let out: GetObjectCommandOutput;
      try {
        out = await this.#client.send(
          new this.#sdk.GetObjectCommand({
            Bucket: this.#config.bucket,
            Key: full,
            ...(Range ? { Range } : {}),
          }),
          abortable(signal),
        );
      } catch (err) {
        // A range starting at or past the end: S3 answers 416, the contract says "no bytes".
        if (range && (s3Status(err) === 416 || s3ErrorCode(err) === "InvalidRange"))
          return Buffer.alloc(0);
        throw err;
      }
      const body = out.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
      const length = out.ContentLength ?? 0;
      if (maxBytes !== undefined && length > maxBytes) {
        body?.destroy();
        throw tooLarge(this.location, key, length, maxBytes);
      }
      return readBody(body, length, `GET s3://${this.#config.bucket}/${full}`);
    });
  }

  async put(key: string, parts: readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    const full = this.begin(key, signal);
    const total = byteLength(parts);
    if (total > this.#config.thresholdBytes) return this.putMultipart(full, parts, total, signal);
    const body = concat(parts, 0, total);
    await this.send("PUT", full, signal, () =>
      this.#client.send(
        new this.#sdk.PutObjectCommand({
          Bucket: this.#config.bucket,
          Key: full,
          Body: body,
          ContentLength: total,
        }),
        abortable(signal),
      ),
    );
  }

  async putIfAbsent(
    key: string,
    parts: readonly Uint8Array[],
    signal?: AbortSignal,
  ): Promise<void> {
    const full = this.begin(key, signal);
    await this.proveCreateOnly(signal);
    const total = byteLength(parts);
    if (total > MAX_SINGLE_PUT_BYTES) {
      throw new FerryError(
        "INVALID_ARGUMENT",
        `create-only put of ${key}: ${total} bytes is over S3's single PUT limit`,
        { details: { key } },
      );
    }
    const body = concat(parts, 0, total);
    const outcome = await this.send("create-only PUT", full, signal, async (attempt) => {
      try {
        await this.#client.send(
          new this.#sdk.PutObjectCommand({
            Bucket: this.#config.bucket,
            Key: full,
            Body: body,
            ContentLength: total,
            IfNoneMatch: "*",
          }),
          abortable(signal),
        );
        return "created";
      } catch (err) {
        if (s3Status(err) !== 412) throw err;
        return attempt > 1 ? "exists after a retry" : "exists";
      }
    });
    if (outcome === "created") return;
    // An earlier attempt may have landed with its answer lost: then the object is ours, byte
    // for byte, and its ETag (a single PUT's: the MD5 of the bytes) says so.
    if (outcome === "exists after a retry") {
      const head = await this.head(full, signal);
      if (head?.etag === createHash("md5").update(body).digest("hex")) return;
    }
    throw new FerryError("ALREADY_EXISTS", `object ${key} already exists in ${this.location}`, {
      details: { bucket: this.#config.bucket, key: full },
    });
  }

  /**
   * Proves once that the server honours If-None-Match: * on PUT: a server that ignores it
   * turns every create-only put into an overwrite, and two writers would both "win". A probe
   * object is created twice (the second must be refused) and removed.
   */
  private proveCreateOnly(signal?: AbortSignal): Promise<void> {
    const run = async () => {
      const root = this.#config.prefix ? `${this.#config.prefix}/` : "";
      const probe = `${root}ferry-create-only-probe/${randomBytes(8).toString("hex")}`;
      const create = () =>
        this.send("create-only probe PUT", probe, signal, async () => {
          try {
            await this.#client.send(
              new this.#sdk.PutObjectCommand({
                Bucket: this.#config.bucket,
                Key: probe,
                Body: Buffer.from("probe"),
                IfNoneMatch: "*",
              }),
              abortable(signal),
            );
            return true;
          } catch (err) {
            if (s3Status(err) !== 412) throw err;
            return false;
          }
        });
      try {
        await create();
        if (await create())
          throw new FerryError(
            "CONFIG_INVALID",
            `${this.location} ignores If-None-Match: * on PUT: Ferry needs create-only writes to keep concurrent backups from overwriting each other (this S3 server or version does not support conditional writes)`,
            { details: { bucket: this.#config.bucket } },
          );
      } finally {
        await this.send("DELETE", probe, signal, () =>
          this.#client.send(
            new this.#sdk.DeleteObjectCommand({ Bucket: this.#config.bucket, Key: probe }),
            abortable(signal),
          ),
        ).catch(() => undefined);
      }
    };
    this.#createOnlyProven ??= run().catch((err: unknown) => {
      // Only a verdict sticks; a failed request is tried again by the next create-only put.
      if (!(err instanceof FerryError && err.code === "CONFIG_INVALID"))
        this.#createOnlyProven = undefined;
      throw err;
    });
    return this.#createOnlyProven;
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    const full = this.begin(key, signal);
    await this.send("DELETE", full, signal, async () => {
      try {
        await this.#client.send(
          new this.#sdk.DeleteObjectCommand({ Bucket: this.#config.bucket, Key: full }),
          abortable(signal),
        );
      } catch (err) {
        if (s3Status(err) !== 404 || s3ErrorCode(err) === "NoSuchBucket") throw err;
      }
    });
  }

  async *list(prefix: string, options: ListObjectsOptions = {}): AsyncGenerator<ListEntry> {
    this.assertOpen();
    assertObjectPrefix(prefix);
    const { bucket, prefix: root } = this.#config;
    const Prefix = `${root}${prefix}`;
    const first =
      options.startAfter === undefined ? {} : { StartAfter: `${root}${options.startAfter}` };
    let token: string | undefined;
    do {
      const page = await this.send("LIST", Prefix, options.signal, () =>
        this.#client.send(
          new this.#sdk.ListObjectsV2Command({
            Bucket: bucket,
            Prefix,
            ...(options.delimited ? { Delimiter: "/" } : {}),
            ...(token === undefined ? first : { ContinuationToken: token }),
          }),
          abortable(options.signal),
        ),
      );
      const entries: ListEntry[] = [];
      for (const o of page.Contents ?? []) {
        const key = o.Key?.slice(root.length);
        // Objects no key can name (not written by Ferry) are not the repository's.
        if (key === undefined || !isKey(key)) continue;
        entries.push({
          t: "object",
          key,
          sizeBytes: o.Size ?? 0,
          modifiedMs: o.LastModified?.getTime() ?? 0,
        });
      }
      for (const p of page.CommonPrefixes ?? []) {
        const key = p.Prefix?.slice(root.length);
        if (key?.endsWith("/") && isKey(key.slice(0, -1))) entries.push({ t: "prefix", key });
      }
      entries.sort((a, b) => compareKeys(a.key, b.key));
      for (const entry of entries) {
        throwIfAborted(options.signal, "listing objects");
        yield entry;
      }
      // A truncated page without a way on would end the listing early, silently: objects
      // (restore points, chunks) would look absent.
      if (page.IsTruncated && !page.NextContinuationToken)
        throw new FerryError(
          "PROTOCOL_ERROR",
          `listing ${this.location} under ${prefix}: a truncated page without a continuation token`,
          { details: { bucket: this.#config.bucket, prefix } },
        );
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Size, time and bare ETag of the object at full key `full`; undefined when missing. */
  private head(
    full: string,
    signal: AbortSignal | undefined,
  ): Promise<{ sizeBytes: number; modifiedMs: number; etag: string } | undefined> {
    return this.send("HEAD", full, signal, async () => {
      try {
        const out = await this.#client.send(
          new this.#sdk.HeadObjectCommand({ Bucket: this.#config.bucket, Key: full }),
          abortable(signal),
        );
        return {
          sizeBytes: out.ContentLength ?? 0,
          modifiedMs: out.LastModified?.getTime() ?? 0,
          etag: (out.ETag ?? "").replaceAll('"', ""),
        };
      } catch (err) {
        if (s3Status(err) === 404 && s3ErrorCode(err) !== "NoSuchBucket") return undefined;
        throw err;
      }
    });
  }

  /** A plain put in parts of `partSizeBytes`, a few in flight; aborted on any failure. */
  private async putMultipart(
    full: string,
    parts: readonly Uint8Array[],
    total: number,
    signal?: AbortSignal,
  ) {
    const { bucket, partSizeBytes } = this.#config;
    const created = await this.send("multipart upload", full, signal, () =>
      this.#client.send(
        new this.#sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: full }),
        abortable(signal),
      ),
    );
    const UploadId = created.UploadId;
    if (!UploadId)
      throw s3Error(new Error("no UploadId in the answer"), {
        operation: "multipart upload",
        bucket,
        key: full,
      });
    try {
      const count = Math.ceil(total / partSizeBytes);
      const etags: string[] = [];
      let next = 0;
      let failed = false;
      const worker = async () => {
        while (!failed && next < count) {
          const i = next++;
          const start = i * partSizeBytes;
          const end = Math.min(total, start + partSizeBytes);
          const Body = concat(parts, start, end);
          const out = await this.send(`PUT part ${i + 1}`, full, signal, () =>
            this.#client.send(
              new this.#sdk.UploadPartCommand({
                Bucket: bucket,
                Key: full,
                UploadId,
                PartNumber: i + 1,
                Body,
                ContentLength: end - start,
              }),
              abortable(signal),
            ),
          ).catch((err: unknown) => {
            failed = true;
            throw err;
          });
          etags[i] = out.ETag ?? "";
        }
      };
      await settleAll(Array.from({ length: Math.min(PART_PARALLELISM, count) }, worker));
      await this.send("complete multipart upload", full, signal, () =>
        this.#client.send(
          new this.#sdk.CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: full,
            UploadId,
            MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          }),
          abortable(signal),
        ),
      );
    } catch (err) {
      // Not under `signal`: an aborted upload must still release the parts stored so far.
      await this.send("abort multipart upload", full, undefined, () =>
        this.#client.send(
          new this.#sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: full, UploadId }),
        ),
      ).catch(() => {});
      throw err;
    }
  }

  /** One request, retried as the policy says, within the in-flight bound; errors mapped. */
  private send<T>(
    operation: string,
    full: string,
    signal: AbortSignal | undefined,
    fn: (attempt: number) => Promise<T>,
  ): Promise<T> {
    const ctx = { operation, bucket: this.#config.bucket, key: full };
    return withRetries(
      `${operation} s3://${ctx.bucket}/${full}`,
      this.#config.retry,
      signal,
      (attempt) =>
        this.#slots.run(async () => {
          throwIfAborted(signal, `${operation} s3://${ctx.bucket}/${full}`);
          try {
            return await fn(attempt);
          } catch (err) {
            throw s3Error(err, ctx);
          }
        }),
      this.#config.onRetry,
    );
  }

  private begin(key: string, signal: AbortSignal | undefined): string {
    this.assertOpen();
    assertObjectKey(key);
    throwIfAborted(signal, `S3 request for ${key}`);
    return `${this.#config.prefix}${key}`;
  }

  private assertOpen(): void {
    if (this.#closed)
      throw new FerryError("FAILED_PRECONDITION", `backend ${this.location} is closed`);
  }

  private notFound(full: string): FerryError {
    return new FerryError("NOT_FOUND", `s3://${this.#config.bucket}/${full}: no such object`, {
      details: { bucket: this.#config.bucket, key: full },
    });
  }
}

function abortable(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}

function isKey(key: string): boolean {
  try {
    assertObjectKey(key);
    return true;
  } catch {
    return false;
  }
}

function byteLength(parts: readonly Uint8Array[]): number {
  return parts.reduce((n, p) => n + p.length, 0);
}

/** Bytes [start, end) of the concatenation of `parts`: a view when one part holds them all. */
function concat(parts: readonly Uint8Array[], start: number, end: number): Buffer {
  let offset = 0;
  for (const p of parts) {
    if (start >= offset && end <= offset + p.length) {
      return Buffer.from(p.buffer, p.byteOffset + start - offset, end - start);
    }
    offset += p.length;
  }
  const out = Buffer.allocUnsafe(end - start);
  let at = 0;
  offset = 0;
  for (const p of parts) {
    const from = Math.max(start, offset);
    const to = Math.min(end, offset + p.length);
    if (from < to) {
      out.set(p.subarray(from - offset, to - offset), at);
      at += to - from;
    }
    offset += p.length;
  }
  return out;
}

/** A response body of `length` bytes into one buffer; a short or long body is retryable. */
async function readBody(
  body: AsyncIterable<Uint8Array> | undefined,
  length: number,
  what: string,
): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  if (body) {
    for await (const piece of body) {
      if (at + piece.length > length) {
        (body as Readable).destroy?.();
        at = -1;
        break;
      }
      out.set(piece, at);
      at += piece.length;
    }
  }
  if (at !== length) {
    throw new FerryError("UNAVAILABLE", `${what}: the body was not the ${length} bytes announced`, {
      retryable: true,
    });
  }
  return out;
}

/** Awaits every promise; then rethrows the first rejection, if any. */
async function settleAll(promises: readonly Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
