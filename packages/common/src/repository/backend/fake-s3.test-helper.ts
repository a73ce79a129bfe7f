import { createHash } from "node:crypto";
import { EventEmitter, once } from "node:events";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

// A scripted S3 server for the S3 backend's error paths (throttling, 5xx, lost answers,
// aborts): objects in memory, and a hook that may answer a request its own way first.
// Behaviour against a real server is tested against Ceph RGW (test/src).

/** One request as the fake saw it. */
export interface FakeRequest {
  method: string;
  /** Path without the bucket: the object key. */
  key: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/** Answers `req` itself (true), or lets the fake's object store answer (false). */
export type FakeHook = (req: FakeRequest, res: ServerResponse) => boolean | Promise<boolean>;

export interface FakeS3 extends AsyncDisposable {
  readonly endpoint: string;
  readonly requests: FakeRequest[];
  readonly objects: Map<string, Buffer>;
  /** Emits "request" with each FakeRequest as it arrives. */
  readonly events: EventEmitter;
  hook: FakeHook | undefined;
  close(): Promise<void>;
}

/** Sends an S3 error answer. */
export function s3ErrorAnswer(res: ServerResponse, status: number, code: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>scripted</Message><RequestId>fake-1</RequestId></Error>`;
  res.writeHead(status, {
    "content-type": "application/xml",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

/** Starts the fake on 127.0.0.1 (HTTPS with `tls`), bucket in the path. */
export async function startFakeS3(
  bucket: string,
  tls?: { key: Buffer; cert: Buffer },
): Promise<FakeS3> {
  const requests: FakeRequest[] = [];
  const objects = new Map<string, Buffer>();
  const events = new EventEmitter();
  const uploads = new Map<string, Map<number, Buffer>>();
  let uploadIds = 0;
  const fake = { hook: undefined as FakeHook | undefined };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? "/", "http://x");
    const path = decodeURIComponent(url.pathname);
    const prefix = `/${bucket}`;
    const key = path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) : "";
    const r: FakeRequest = {
      method: req.method ?? "",
      key,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    requests.push(r);
    events.emit("request", r);
    if (fake.hook && (await fake.hook(r, res))) return;
    if (!path.startsWith(prefix)) return s3ErrorAnswer(res, 404, "NoSuchBucket");
    const q = r.query;
    if (r.method === "POST" && q.has("uploads")) {
      const id = `upload-${++uploadIds}`;
      uploads.set(id, new Map());
      const body = `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`;
      res.writeHead(200, { "content-type": "application/xml" });
      return res.end(body);
    }
    if (r.method === "PUT" && q.has("uploadId")) {
      uploads.get(q.get("uploadId") ?? "")?.set(Number(q.get("partNumber")), r.body);
      res.writeHead(200, { etag: `"${md5(r.body)}"` });
      return res.end();
    }
    if (r.method === "POST" && q.has("uploadId")) {
      const parts = uploads.get(q.get("uploadId") ?? "") ?? new Map<number, Buffer>();
      objects.set(
        key,
        Buffer.concat([...parts.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])),
      );
      uploads.delete(q.get("uploadId") ?? "");
      res.writeHead(200, { "content-type": "application/xml" });
      return res.end(
        `<CompleteMultipartUploadResult><Key>${key}</Key><ETag>"x-1"</ETag></CompleteMultipartUploadResult>`,
      );
    }
    if (r.method === "DELETE" && q.has("uploadId")) {
      uploads.delete(q.get("uploadId") ?? "");
      res.writeHead(204);
      return res.end();
    }
    const existing = objects.get(key);
    switch (r.method) {
      case "PUT":
        if (r.headers["if-none-match"] === "*" && existing)
          return s3ErrorAnswer(res, 412, "PreconditionFailed");
        objects.set(key, r.body);
        res.writeHead(200, { etag: `"${md5(r.body)}"` });
        return res.end();
      case "GET":
      case "HEAD":
        if (!existing) {
          if (r.method === "HEAD") {
            res.writeHead(404);
            return res.end();
          }
          return s3ErrorAnswer(res, 404, "NoSuchKey");
        }
        res.writeHead(200, {
          etag: `"${md5(existing)}"`,
          "content-length": existing.length,
          "last-modified": new Date().toUTCString(),
        });
        return res.end(r.method === "GET" ? existing : undefined);
      case "DELETE":
        objects.delete(key);
        res.writeHead(204);
        return res.end();
      default:
        return s3ErrorAnswer(res, 501, "NotImplemented");
    }
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => res.destroy());
  };
  const server = tls ? createHttpsServer(tls, listener) : createHttpServer(listener);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return Object.assign(fake, {
    endpoint: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    objects,
    events,
    close,
    [Symbol.asyncDispose]: close,
  });
}
