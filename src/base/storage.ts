import type {Readable} from 'node:stream'
import {ExitCode, S3cError} from './errors.js'
import {keyFilter, type WalkFilter} from './filter.js'
import type {RetryPolicy} from './retry.js'

/*
 * The storage interfaces: what verbs need from where bytes live, whether an S3 prefix
 * (src/s3/) or a local folder (src/local/), in the spirit of s5cmd's `storage.Storage` and
 * rclone's `fs.Fs`. A Tree is rooted (a prefix, a folder); names are '/'-separated under that
 * root and listings come in S3's byte order, so a local walk and a listing are two streams in
 * the same order. A RangeSource reads one version of an object or file at any offset.
 */

/** An object or a file, as a listing or a stat gives it. */
/** What a new object may be given: cp's flags, the library's write options, a multipart create. */
export interface ObjectSettings {
  contentType?: string
  metadata?: Record<string, string>
  storageClass?: string
  /** Server-side encryption ('AES256', 'aws:kms') and the KMS key for aws:kms. */
  sse?: string
  sseKmsKeyId?: string
  /** A canned ACL (private, public-read, bucket-owner-full-control, …). */
  acl?: string
}

export interface StorageEntry {
  /** The key (S3) or the '/'-separated path under the root (local, in s3c's spelling of names: src/local/fs-path.ts). */
  key: string
  size: number
  lastModifiedMs: number
  /** S3: the ETag as the server gives it (quotes included). */
  etag?: string
  /** Local: the modification time in nanoseconds, as a decimal string (full precision: src/base/times.ts). */
  mtimeNs?: string
  /** Local: the inode and the change time (ns, decimal), by which the sync state tells a file replaced in place. */
  ino?: string
  ctimeNs?: string
  /** S3: the storage class a listing names (STANDARD when the server says none). */
  storageClass?: string
}

export interface ListOptions {
  /** '/': one level only, the "folders" below come as `prefixes`; absent: everything under the prefix. */
  delimiter?: '/'
  /** Only keys that sort after this one (S3's StartAfter): a listing resumed, or merged with another. */
  startAfter?: string
}

/** One page of a listing: up to 1,000 entries (S3's page), in key order. */
export interface ListPage {
  entries: StorageEntry[]
  /** With a delimiter: the keys of the folders one level down, each ending with '/'. */
  prefixes: string[]
}

/**
 * Where a job reads an object's (or a tar's) bytes, pinned to one version: an S3 object with
 * If-Match of its ETag, or a local file (a local tar), whose size and modification time (µs)
 * stand for the ETag. Jobs are JSON, so this is plain data; `openSourceRef` (src/storage/open.ts)
 * opens it.
 */
export type SourceRef = S3SourceRef | LocalSourceRef
export interface S3SourceRef {
  bucket: string
  key: string
  etag?: string
}
export interface LocalSourceRef {
  /** Absolute: workers need the path, as for upload. */
  path: string
  size: number
  mtimeUs: number
}

export function isLocalSource(ref: SourceRef): ref is LocalSourceRef {
  return (ref as LocalSourceRef).path !== undefined
}

/** How messages and job ids name a source. */
export function sourceName(ref: SourceRef): string {
  return isLocalSource(ref) ? ref.path : `s3://${ref.bucket}/${ref.key}`
}

/** What a source is: its size, and what tells its versions apart (the ETag in S3, the mtime on disk). */
export interface SourceStat {
  size: number
  /** The ETag S3 gave (quotes included); '' for a local file. */
  etag: string
  /** A local file's modification time in microseconds. */
  mtimeUs?: number
}

/**
 * Random access to the bytes of one version of an object or file, counting what it costs.
 * `read` returns exactly the bytes asked for (fewer only with `partial`, at the end) or throws;
 * a source that is no longer the version it was opened on throws SourceChangedError.
 */
export interface RangeSource {
  readonly label: string
  readonly local: boolean
  stat(): Promise<SourceStat>
  read(offset: number, length: number, opts?: {partial?: boolean}): Promise<Buffer>
  /** The bytes [offset, offset + length) as a stream (large members); the reader checks the length. */
  stream(offset: number, length: number): Promise<Readable>
  /** The source as job data, pinned to the version being read. */
  ref(): Promise<SourceRef>
  reads: number
  bytesRead: number
  close(): Promise<void>
}

/**
 * An ETag from an answer that may go back out as If-Match (and into the index cache): printable
 * ASCII, bounded. Anything else is not pinned to (the reads then go without If-Match, as before).
 */
export function isPinnableEtag(etag: unknown): etag is string {
  return typeof etag === 'string' && etag.length > 0 && etag.length <= 256 && /^[\x21-\x7e]+$/.test(etag)
}

/** The object or file is not the version the reader started on (S3: 412 on If-Match; local: size or mtime differ). */
export class SourceChangedError extends S3cError {
  constructor(readonly label: string, readonly local: boolean) {
    super(`${label} changed while it was being read: run the command again`, local ? ExitCode.usage : ExitCode.fatal)
  }
}

/** What S3's parallel listing did (src/s3/list.ts): tests and benchmarks count it. */
export interface ListingStats {
  /** Ranges listed besides the first (key ranges and folders). */
  ranges: number
  /** Delimiter pages asked to find where to split. */
  delimiterPages: number
  /** One-key requests asking where a key range ends, after its full first page. */
  endChecks: number
  /** Set when a page came out of byte order after the split: the rest was listed sequentially. */
  fellBack: boolean
}

/** An object's answer headers, lower-case names (S3's HEAD and GET). */
export type Headers = Record<string, string>

/** A multipart upload in progress. */
export interface MultipartTarget {
  bucket: string
  key: string
  uploadId: string
}

/** What CompleteMultipartUpload needs of each part. */
export interface CompletedPart {
  PartNumber: number
  ETag: string
}

/** An S3 object (or a range of it) that is copied server-side. */
export interface CopySource {
  bucket: string
  key: string
  etag?: string
  /** Byte range [start, end) of the object; the whole object when absent. */
  start?: number
  end?: number
}

/** A bucket as ListBuckets gives it. */
export interface BucketInfo {
  name: string
  created?: Date
}

/** One version of an object, or a delete marker (ListObjectVersions). */
export interface ObjectVersion extends StorageEntry {
  versionId: string
  isLatest: boolean
  deleteMarker: boolean
}

export interface MultipartUpload {
  key: string
  uploadId: string
  initiated?: Date
}

/** A whole small object: its bytes and the answer's headers (lower-case names). */
export interface ObjectBody {
  body: Buffer
  headers: Headers
  /** The stored SHA-256 (hex) the body was checked against, when it had one (src/s3/verify.ts). */
  sha256?: string
}

/** What a multipart upload is created with. */
export interface CreateOptions extends ObjectSettings {
  /** The other headers an object keeps (a copy made in parts carries its source's). */
  cacheControl?: string
  contentEncoding?: string
  contentDisposition?: string
  contentLanguage?: string
}

/**
 * What a server-side copy (CopyObject) is made with. Without `replace` the copy keeps the
 * source's metadata and content type (MetadataDirective COPY); with it, it gets these.
 */
export interface CopyOptions extends CreateOptions {
  replace?: boolean
  /** Copy only this version of the source (If-Match its ETag). */
  etag?: string
}


/** An object (or file) by where it is: the bucket (or the local store's folder) and the key under it. */
export interface ObjectAt {
  bucket: string
  key: string
}

/** What a streamed write is given besides its body. */
export interface StreamWriteOptions {
  settings?: CreateOptions
  /** The first parts' size (S3: ≥ 5 MiB; doubles every 1,000 parts). Backends that write in one piece ignore it. */
  partSize?: number
  /** Parts in flight at once (S3). */
  concurrency?: number
  /** Bytes read from the body so far (progress). */
  onBytes?: (n: number) => void
}

/**
 * The one storage interface: what every backend does, addressed like S3 — a root (an S3
 * bucket; for the local store, a folder) holding '/'-separated keys, listed in S3's byte order
 * (UTF-8, `compareKeys`). Implementations: S3Storage (src/s3/storage.ts), the local store
 * (src/local/store.ts), the in-memory one of the unit tests (test/unit/memory-tree.ts); all
 * pass the same contract (test/harness/storage-contract.ts). Got from src/storage/open.ts,
 * never constructed by a verb, a command or the library.
 */
export interface ObjectStore {
  /** The objects under `prefix` (and with a delimiter, the folders one level down), a page at a time, from `startAfter` on. */
  list(root: string, prefix: string, opts?: ListOptions): AsyncIterable<ListPage>
  /** Every object under `prefix`, recursively, in key order (S3: listed in parallel, in the order of a sequential listing). */
  listObjects(root: string, prefix: string): AsyncIterable<StorageEntry>
  /** The object at `key`, or undefined when there is none (S3: HEAD; local: lstat, and only a regular file is an object). */
  stat(root: string, key: string): Promise<StorageEntry | undefined>
  /** The object as a range source pinned to the version there now (read a range, or stream one); a missing key is S3cError, exit 2. */
  openSource(root: string, key: string): Promise<RangeSource>
  /** A small object in one piece, replacing any at `key` at once (S3: one PUT; local: a temporary name, then rename). */
  write(root: string, key: string, body: Buffer, settings?: CreateOptions): Promise<{etag?: string}>
  /**
   * A body of unknown length into one object, replaced at once when the body ends without error
   * and not at all otherwise (S3: one PUT when it fits the first part, else a multipart upload
   * aborted on failure). Resolves with the bytes written and the parts sent (0: one piece).
   */
  writeStream(root: string, key: string, body: AsyncIterable<Buffer | string>, opts?: StreamWriteOptions): Promise<{bytes: number; parts: number}>
  /** A server-side copy (S3: CopyObject, metadata kept unless `replace`; local: copyFile) — where the backend has one. */
  copy?(from: ObjectAt, to: ObjectAt, opts?: CopyOptions): Promise<void>
  /** Removes keys (a missing key is no failure). Resolves with the keys that could not be removed. */
  deleteMany(root: string, keys: string[]): Promise<{key: string; error: string}[]>
  /** Lets go of connections or handles (every view of an S3 connection shares them). */
  close(): Promise<void>
}

/**
 * What S3 has beyond the core and the S3 verbs need: buckets, objects with their headers (the
 * fast path's answers as they come), versions, presigned URLs, incomplete uploads, and the
 * multipart primitives the transfer handlers (upload, copy, tar) drive themselves. S3Storage
 * (src/s3/storage.ts) is the implementation; `openS3`/`withS3` (src/storage/open.ts) give it.
 */
export interface S3Store extends ObjectStore {
  /** Where requests go, for messages (never contains secrets). */
  readonly endpointLabel: string
  /**
   * The same connection with another retry policy, signal or listing concurrency; `lent`: for one
   * call on a connection its caller keeps open (the library's connect()): its close() leaves the
   * connection open, and its slow-downs go to its own onThrottle listeners.
   */
  with(opts: {retry?: RetryPolicy; signal?: AbortSignal; listConcurrency?: number; lent?: boolean}): S3Store
  /** The same connection without the signal: for the cleanup after a stop, which must still be sent. */
  withoutSignal(): S3Store
  /** As every store's, and object versions by id too (rb --force of a versioned bucket). */
  deleteMany(bucket: string, keys: (string | {key: string; versionId: string})[]): Promise<{key: string; error: string}[]>
  /** Calls `fn` each time a request is answered "slow down" (503 SlowDown, 429), before it is retried: the run's adaptive limit. */
  onThrottle(fn: () => void): void

  // buckets
  /** Checks the bucket answers before any work starts (few retries); tells whether anything is under the prefix. */
  checkBucket(bucket: string, prefix: string): Promise<{empty: boolean}>
  listBuckets(): Promise<BucketInfo[]>
  bucketExists(bucket: string): Promise<boolean>
  createBucket(bucket: string, locationConstraint?: string): Promise<void>
  deleteBucket(bucket: string): Promise<void>

  // objects with their headers
  /** The object's headers (HEAD), or undefined when it does not exist. */
  head(bucket: string, key: string): Promise<Headers | undefined>
  /** A small object, whole and verified; `expect.size` is its listed size. */
  get(bucket: string, key: string, expect?: {size?: number}): Promise<ObjectBody>
  /** Exactly `length` bytes at `offset` (fewer only when `partial`), If-Match the ref's ETag. */
  getRange(ref: S3SourceRef, offset: number, length: number, opts?: {partial?: boolean}): Promise<{headers: Headers; body: Buffer}>
  /**
   * Exactly `length` bytes at `offset`, handed to `write` as they come (`at`: the first byte's
   * place in the range; writes may overlap in time, never in bytes; the buffers are reused once its
   * promise settles) and never held whole: a large range of a file. A body cut short is asked again from the first byte not yet received.
   * Resolves with the first answer's headers once every write is done.
   */
  getRangeInto(ref: S3SourceRef, offset: number, length: number, write: (buffers: Buffer[], at: number) => Promise<void>): Promise<{headers: Headers}>
  /** The whole object, or one range (`range`: the Range header's value), as a stream once its headers have come. */
  streamObject(bucket: string, key: string, range?: string): Promise<{headers: Headers; body: Readable}>
  /** A whole object as a stream, or undefined when it does not exist. */
  stream(bucket: string, key: string): Promise<Readable | undefined>
  /** An object as a range source; with its ETag and size known nothing is sent until the first read. */
  source(ref: S3SourceRef & {size?: number}): RangeSource
  /** A small object in one PUT with these headers; `sha256` (hex) of the body when the caller has it. */
  put(bucket: string, key: string, body: Buffer, opts?: {headers?: Headers; sha256?: string}): Promise<{etag?: string}>
  copy(from: ObjectAt, to: ObjectAt, opts?: CopyOptions): Promise<void>

  // listings S3 alone has
  /** listObjects a page at a time (a caller checks a page's order before using it); `stats` counts the parallel listing's requests. */
  listObjectPages(bucket: string, prefix: string, stats?: ListingStats, opts?: {sequentialPages?: number}): AsyncIterable<StorageEntry[]>
  listVersions(bucket: string, prefix: string): AsyncIterable<ObjectVersion[]>
  /** The incomplete multipart uploads under a prefix, or undefined when the server does not list them. */
  listMultipartUploads(bucket: string, prefix: string): Promise<MultipartUpload[] | undefined>
  presignGet(bucket: string, key: string, expiresInSeconds: number): Promise<string>

  // multipart, driven part by part by the transfer handlers
  createMultipart(bucket: string, key: string, opts?: CreateOptions): Promise<string>
  uploadPart(target: MultipartTarget, partNumber: number, body: Buffer): Promise<CompletedPart>
  copyPart(target: MultipartTarget, partNumber: number, src: CopySource): Promise<CompletedPart>
  completeMultipart(target: MultipartTarget, parts: CompletedPart[]): Promise<{etag: string}>
  abortMultipart(target: MultipartTarget): Promise<void>
}

/**
 * A name under a tree's base (an S3 prefix, a local folder), as a listing or a walk gives it:
 * a file to transfer (`entry`), or a name the tree holds that is no such file (`other`: a link
 * not followed, a special file, a folder or file that could not be read).
 */
export interface TreeName {
  /** The name relative to the base, '/'-separated (S3's key order applies to it). */
  rel: string
  entry?: StorageEntry
  other?: {reason: string; failed: boolean; folder: boolean}
}

/**
 * A tree of files: what sync's two sides, cp's and download's sources, and sync --delete's
 * destination are, whatever holds them. Implementations: src/s3/tree.ts (a prefix),
 * src/local/tree.ts (a folder), and an in-memory one in the unit tests.
 */
export interface Tree {
  /** `s3://bucket/prefix/` or the folder, for messages. */
  readonly label: string
  /**
   * Every name under the base, relative to it, in key order (a server that lists out of byte
   * order gives another order: consumers merge loosely and confirm). S3 folder markers (keys
   * ending with '/') are not names. `filter` only lets a walk leave out folders an exclude covers
   * whole; callers select names themselves.
   */
  names(filter?: WalkFilter): AsyncIterable<TreeName>
  /** Whether nothing is at `rel` now (a HEAD, an lstat): confirms what an out-of-order listing seemed to lack. */
  absent(rel: string): Promise<boolean>
  /** The key or path of `rel`, as messages, jobs and removals name it. */
  locate(rel: string): string
}

/**
 * The files of a tree that the filter selects, in key order. A selected name that holds data but
 * is no file to transfer (an S3 key ending with '/') goes to `passed`, so the run can count it
 * skipped with its reason instead of losing sight of it.
 */
export async function* treeFiles(tree: Tree, filter: WalkFilter = {}, passed?: (rel: string, entry: StorageEntry, reason: string) => void): AsyncGenerator<{rel: string; entry: StorageEntry}> {
  const selected = keyFilter(filter)
  for await (const n of tree.names(filter)) {
    if (!n.entry || !selected(n.rel)) continue
    if (!n.other) yield {rel: n.rel, entry: n.entry}
    else passed?.(n.rel, n.entry, n.other.reason)
  }
}

/**
 * Settings a new object gets travel as HTTP headers, which carry visible ASCII only: a value
 * outside it (`--metadata owner=Zoë`, a content type with a non-ASCII name) would be refused by
 * the server as a bad signature, or mangled. Refused here, in one line naming the header, by
 * every way settings come in (cp/pipe flags, the library's options) and again where they become
 * headers (src/s3/storage.ts).
 */
export function checkObjectSettings(o: ObjectSettings & {cacheControl?: string; contentEncoding?: string; contentDisposition?: string; contentLanguage?: string}): void {
  const visible = /^[\t\x20-\x7e]*$/
  const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
  for (const [k, v] of Object.entries(o.metadata ?? {})) {
    if (!token.test(k)) throw new S3cError(`metadata key "${k}" cannot be a header name (x-amz-meta-${k}): use letters, digits and - _ .`, ExitCode.usage)
    if (!visible.test(v)) throw new S3cError(`metadata "${k}" holds characters that are not ASCII (x-amz-meta-${k.toLowerCase()}): S3 takes ASCII there; encode the value (e.g. percent-encoding)`, ExitCode.usage)
  }
  const headers: [string, string | undefined][] = [['content-type', o.contentType], ['cache-control', o.cacheControl], ['content-encoding', o.contentEncoding],
    ['content-disposition', o.contentDisposition], ['content-language', o.contentLanguage], ['x-amz-storage-class', o.storageClass], ['x-amz-acl', o.acl],
    ['x-amz-server-side-encryption-aws-kms-key-id', o.sseKmsKeyId]]
  for (const [name, v] of headers) {
    if (v !== undefined && !visible.test(v)) throw new S3cError(`${name} "${v}" holds characters that are not ASCII: HTTP headers carry ASCII; encode the value`, ExitCode.usage)
  }
}
