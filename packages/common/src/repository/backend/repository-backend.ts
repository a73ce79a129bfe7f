// The storage below the repository format: named objects, written whole, read whole or by
// range, listed by prefix. Two implementations: a local directory (local-backend.ts) and an
// S3 bucket (s3-backend.ts). docs/repository-format.md says how the format maps onto them.
//
// Errors are FerryErrors, classified by code, each naming the object (details.key):
//   NOT_FOUND          get of a missing object (stat answers undefined instead)
//   ALREADY_EXISTS     putIfAbsent of a key that exists
//   PERMISSION_DENIED  the store refuses access (EACCES, S3 403); UNAUTHENTICATED: bad keys
//   NO_SPACE           the store is full (ENOSPC, a quota)
//   CORRUPT_DATA       an object is larger than the reader's `maxBytes`
//   UNAVAILABLE, RESOURCE_EXHAUSTED, CONNECTION_CLOSED  retryable: the store is down,
//                      throttling or the connection broke (the S3 backend retries them itself)
//   CANCELLED, DEADLINE_EXCEEDED  the call's signal aborted
//   INVALID_ARGUMENT   a malformed key or range

/** A stored object, as a listing or `stat` reports it. */
export interface ObjectInfo {
  /** The key, relative to the backend's root: `chunks/1a2b/1a2b…`. */
  readonly key: string;
  readonly sizeBytes: number;
  /**
   * When the object was last written, ms since the epoch, by the store's clock (local: the
   * file's mtime; S3: Last-Modified, the server's time).
   */
  readonly modifiedMs: number;
}

/** One entry of a listing: an object, or (delimited listings only) a group of keys below. */
export type ListEntry =
  | ({ readonly t: "object" } & ObjectInfo)
  /** Every key starting with `key` (which ends with "/"), as one entry. */
  | { readonly t: "prefix"; readonly key: string };

/** Bytes `[offsetBytes, offsetBytes + lengthBytes)` of an object. */
export interface ByteRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

/** Options of {@link RepositoryBackend.get}. */
export interface GetObjectOptions {
  /**
   * Only these bytes. A range reaching past the end yields the bytes up to the end (none
   * when it starts at or after the end).
   */
  range?: ByteRange;
  /**
   * Refuse (CORRUPT_DATA) an object, or range, longer than this before allocating for it: a
   * damaged or planted object must not make a reader allocate gigabytes.
   */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** Options of {@link RepositoryBackend.list}. */
export interface ListObjectsOptions {
  /** Only keys after this one (byte order); resumes an interrupted listing. */
  startAfter?: string;
  /**
   * One level only: keys below `prefix` that contain a further "/" come as one
   * `{ t: "prefix" }` entry each (S3's delimiter "/"; a local subdirectory). A local backend
   * may yield a prefix with no object below it (an empty directory).
   */
  delimited?: boolean;
  signal?: AbortSignal;
}

/** What differs between implementations, for callers that adapt to it. */
export interface BackendCapabilities {
  readonly kind: "local" | "s3";
  /** Requests worth keeping in flight at once (a local disk's queue; S3's connections). */
  readonly preferredConcurrency: number;
  /**
   * Largest object `putIfAbsent` takes, bytes. On S3 create-only is one PUT request (RGW 16.2
   * ignores If-None-Match on a multipart completion), so at most 5 GiB there.
   */
  readonly maxCreateOnlyBytes: number;
  /**
   * True when an object's modification time can be refreshed without rewriting it (a local
   * file's mtime): garbage collection may then read it as "last used". False on S3, where it
   * is only ever the time of the write.
   */
  readonly touchableModifiedTimes: boolean;
}

/**
 * A repository's object storage. Keys are "/"-separated relative paths of safe segments (see
 * {@link assertObjectKey}); objects are written whole and atomically (a reader sees the old
 * object or the whole new one, never part of one) and are durable when a put returns.
 * Every method takes an AbortSignal; an aborted call rejects with CANCELLED (or
 * DEADLINE_EXCEEDED) and leaves no partial object visible. Close it when done.
 */
export interface RepositoryBackend extends AsyncDisposable {
  /** Where the objects live, for messages: an absolute path or `s3://bucket/prefix`. */
  readonly location: string;
  readonly capabilities: BackendCapabilities;
  /** The object's size and time, or undefined when it does not exist. */
  stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>;
  /** The object's bytes (or a range of them); NOT_FOUND when it does not exist. */
  get(key: string, options?: GetObjectOptions): Promise<Buffer>;
  /** Writes the object, replacing any existing one atomically. */
  put(key: string, parts: readonly Uint8Array[], signal?: AbortSignal): Promise<void>;
  /**
   * Writes the object only if no object has the key, atomically: of concurrent callers for
   * one key (in any processes or hosts) exactly one succeeds, the others reject with
   * ALREADY_EXISTS and change nothing. INVALID_ARGUMENT over `maxCreateOnlyBytes`.
   */
  putIfAbsent(key: string, parts: readonly Uint8Array[], signal?: AbortSignal): Promise<void>;
  /** Removes the object; a missing one is fine (the outcome is the same). */
  delete(key: string, signal?: AbortSignal): Promise<void>;
  /**
   * Objects whose key starts with `prefix` (any string, "" for all), in byte order of their
   * keys (UTF-8), page by page as the caller iterates. An object written or removed during
   * the listing may or may not appear.
   */
  list(prefix: string, options?: ListObjectsOptions): AsyncIterable<ListEntry>;
  /** Releases connections; idempotent. Later calls fail with FAILED_PRECONDITION. */
  close(): Promise<void>;
}
