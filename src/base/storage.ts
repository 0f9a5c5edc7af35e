import type {Readable} from 'node:stream'
import {ExitCode, S3cError} from './errors.js'
import {keyFilter, type WalkFilter} from './filter.js'

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
 * stand for the ETag. Jobs are JSON, so this is plain data; `openSource` (src/local/storage.ts)
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

/** The object or file is not the version the reader started on (S3: 412 on If-Match; local: size or mtime differ). */
export class SourceChangedError extends S3cError {
  constructor(readonly label: string, readonly local: boolean) {
    super(`${label} changed while it was being read: run the command again`, local ? ExitCode.usage : ExitCode.fatal)
  }
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
