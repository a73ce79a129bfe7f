// One RGW cluster, one bucket and a credentials file for the tests of repositories in S3,
// with the helpers they share: `--repo` URLs, raw access to a repository's objects, images.
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { createS3Backend, type RepositoryBackend } from "@ferry/common";
import { type Rgw, type RgwOptions, startRgw } from "./ceph-rgw.js";

/** A running RGW with one empty bucket, and a scratch directory for the test's files. */
export interface S3RepositoryLab extends AsyncDisposable {
  readonly rgw: Rgw;
  readonly bucket: string;
  /** Scratch directory (images, passphrase files, restores); removed with the lab. */
  readonly dir: string;
  /** An AWS shared-credentials file (mode 0600) with the S3 user's keys. */
  readonly credentialsFile: string;
  /**
   * The `--repo` string of the repository at `prefix` in the bucket; "https" (a lab started
   * with `tls`) names the gateway's TLS endpoint and its CA.
   */
  repoUrl(prefix: string, over?: "http" | "https"): string;
  /** The objects below `prefix`, to look behind the format; the caller closes it. */
  rawBackend(prefix: string): Promise<RepositoryBackend>;
  /** `parts` one after another as a raw image file in `dir`; returns its path. */
  image(name: string, parts: readonly Uint8Array[]): Promise<string>;
  /** A passphrase file (mode 0600) in `dir`; returns its path. */
  passphraseFile(name: string, passphrase: string): Promise<string>;
  /** Stops the cluster and removes `dir`. Idempotent. */
  remove(): Promise<void>;
}

/**
 * Starts RGW (see {@link startRgw}; a missing Ceph fails, it does not skip), creates `bucket`
 * and writes the credentials file.
 */
export async function startS3RepositoryLab(
  bucket: string,
  options: RgwOptions = {},
): Promise<S3RepositoryLab> {
  const dir = await mkdtemp(join(tmpdir(), `${bucket}-`));
  let rgw: Rgw | undefined;
  const remove = async () => {
    await rgw?.remove();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    rgw = await startRgw(options);
    const started = rgw;
    const s3 = new S3Client({
      endpoint: started.endpoint,
      region: started.region,
      forcePathStyle: true,
      credentials: { accessKeyId: started.accessKeyId, secretAccessKey: started.secretAccessKey },
    });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      s3.destroy();
    }
    const credentialsFile = join(dir, "credentials");
    await writeFile(
      credentialsFile,
      `[default]\naws_access_key_id = ${started.accessKeyId}\naws_secret_access_key = ${started.secretAccessKey}\n`,
      { mode: 0o600 },
    );
    return {
      rgw: started,
      bucket,
      dir,
      credentialsFile,
      repoUrl(prefix, over = "http") {
        const { tlsEndpoint, caFile } = started;
        if (over === "https" && (tlsEndpoint === undefined || caFile === undefined))
          throw new Error("an https repository URL needs a lab started with tls");
        const q = new URLSearchParams({
          endpoint: over === "https" ? (tlsEndpoint as string) : started.endpoint,
          region: started.region,
          "credentials-file": credentialsFile,
          ...(over === "https" ? { "ca-file": caFile as string } : {}),
        });
        return `s3://${bucket}/${prefix}?${q}`;
      },
      rawBackend(prefix) {
        return createS3Backend({
          endpoint: started.endpoint,
          region: started.region,
          bucket,
          prefix,
          forcePathStyle: true,
          credentialsFile,
        });
      },
      async image(name, parts) {
        const path = join(dir, name);
        await writeFile(path, Buffer.concat(parts));
        return path;
      },
      async passphraseFile(name, passphrase) {
        const path = join(dir, name);
        await writeFile(path, `${passphrase}\n`, { mode: 0o600 });
        return path;
      },
      remove,
      [Symbol.asyncDispose]: remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** Keys of every object below `prefix` of `backend`, in listing order. */
export async function keysUnder(backend: RepositoryBackend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of backend.list(prefix)) if (e.t === "object") keys.push(e.key);
  return keys;
}

/** A chunk object's name: the hex digest after the last "/" of its key. */
export const chunkHex = (key: string): string => key.slice(key.lastIndexOf("/") + 1);

/** SHA-256 of `b`, as hex. */
export const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
