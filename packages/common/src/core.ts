// @ferry/common/core: everything but the wire (protobuf messages, gRPC, NATS, TLS credentials),
// so that a CLI command on the data path starts without loading them.

export { type ParsedArgs, parseArgs } from "./cli/args.js";
export * from "./config/load-config.js";
export * as schema from "./config/schema.js";
export { ERROR_CODES, type ErrorCode, isErrorCode } from "./errors/error-codes.js";
export {
  FerryError,
  type FerryErrorOptions,
  isFerryError,
  toFerryError,
} from "./errors/ferry-error.js";
export { errorFromThread, errorToThread, type ThreadError } from "./errors/thread-errors.js";
export {
  createLogger,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
} from "./logging/logger.js";
export {
  createLocalBackend,
  type LocalBackendOptions,
} from "./repository/backend/local-backend.js";
export { assertObjectKey, assertObjectPrefix } from "./repository/backend/object-keys.js";
export type {
  BackendCapabilities,
  ByteRange,
  GetObjectOptions,
  ListEntry,
  ListObjectsOptions,
  ObjectInfo,
  RepositoryBackend,
} from "./repository/backend/repository-backend.js";
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./repository/backend/retry.js";
export { createS3Backend, type S3BackendOptions } from "./repository/backend/s3-backend.js";
export type { S3CredentialSource } from "./repository/backend/s3-credentials.js";
export { isS3Location, parseS3Location } from "./repository/backend/s3-location.js";
export {
  type BootTestResult,
  readBootTest,
  writeBootTest,
} from "./repository/boot-test.js";
export type {
  ChunkCompression,
  ChunkEncoding,
} from "./repository/chunk-codec.js";
export {
  type ChunkLease,
  type ChunkNamer,
  type ChunkReader,
  type ChunkStore,
  type ChunkStoreOptions,
  type ChunkVerifyResult,
  type ChunkWriter,
  createChunkStore,
  type Durability,
  type PutOptions,
  type PutResult,
  type SweepOptions,
  type SweepResult,
} from "./repository/chunk-store.js";
export { warmChunkWorkers } from "./repository/chunk-work-pool.js";
export {
  blake3Digest,
  chunkDigestOf,
  chunkPathInRepository,
  digestFromHex,
  digestsEqual,
  digestToHex,
  isAllZero,
  isZeroChunkDigest,
} from "./repository/digest.js";
export { createDirectIo, type DirectIo, openDirect } from "./repository/direct-io.js";
export {
  createFixedIndexWriter,
  type FixedIndex,
  type FixedIndexCommitResult,
  type FixedIndexWriter,
  type FixedIndexWriterOptions,
  readFixedIndex,
} from "./repository/fixed-index.js";
export {
  DEFAULT_CHUNK_SIZE_BYTES,
  DIGEST_BYTES,
  MAX_CHUNK_SIZE_BYTES,
  MIN_CHUNK_SIZE_BYTES,
  REPOSITORY_FORMAT_VERSION,
  VM_CONFIG_LIBVIRT_DOMAIN_XML,
  ZERO_CHUNK_DIGEST,
} from "./repository/format.js";
export {
  collectGarbage,
  type GarbageCollectionOptions,
  type GarbageCollectionResult,
} from "./repository/garbage-collection.js";
export {
  type Manifest,
  type ManifestConsistency,
  type ManifestDisk,
  type ManifestMode,
  type ManifestSource,
  type ManifestTransport,
  type ManifestVmConfig,
  parseManifest,
  serializeManifest,
} from "./repository/manifest.js";
export { isRestorePointId, parseRestorePointId } from "./repository/names.js";
export { readPassphraseFile } from "./repository/passphrase-file.js";
export {
  type ListRestorePointsOptions,
  type OpenRepositoryOptions,
  openRepository,
  type Repository,
  type RestorePointReader,
} from "./repository/repository.js";
export type { RepositoryConfig, RepositoryEncryption } from "./repository/repository-config.js";
export type {
  AddDiskOptions,
  BeginRestorePointOptions,
  DiskStats,
  RestorePointCommitFields,
  RestorePointWriter,
} from "./repository/restore-point-writer.js";
export { chunkBufferWithRoom } from "./repository/shared-buffers.js";
export {
  type BadChunkReport,
  readVerifyState,
  restorePointsUsing,
  type VerifyOptions,
  type VerifyOutcome,
  type VerifyReport,
  verifyRestorePoints,
} from "./repository/verify.js";
export {
  checkPeerRole,
  PEER_ROLES,
  type PeerRole,
  parsePeerRole,
} from "./tls/peer-role.js";
export { createCa, type IssueOptions, issueCertificate } from "./tls/pki.js";
export { type BackoffOptions, backoffCeiling, backoffDelay } from "./util/backoff.js";
export { prng } from "./util/prng.js";
export { createSemaphore, type Semaphore } from "./util/semaphore.js";
export {
  abortReason,
  type DeadlineSignal,
  sleep,
  throwIfAborted,
  withDeadline,
} from "./util/signals.js";
export { chunkWorkerNice, niceThisThread } from "./util/thread-priority.js";
