import {Readable} from 'node:stream'
import type {ObjectCannedACL, ServerSideEncryption, StorageClass, BucketLocationConstraint, ServiceInputTypes, ServiceOutputTypes} from '@aws-sdk/client-s3'
import type {Command} from '@smithy/types'
import {ExitCode, FatalError, S3cError, fatalToUserError, isThrottling, statusOf} from '../base/errors.js'
import {probePolicy, withRetry, type RetryPolicy} from '../base/retry.js'
import {SourceChangedError, checkObjectSettings, isPinnableEtag, type BucketInfo, type CompletedPart, type CopyOptions, type CopySource, type CreateOptions, type ListOptions, type ListPage, type MultipartTarget, type MultipartUpload, type ObjectAt, type ObjectBody, type ObjectVersion, type RangeSource, type S3SourceRef, type S3Store, type SourceStat, type StorageEntry, type StreamWriteOptions} from '../base/storage.js'
import {createS3, type S3Handle, type SdkModule} from './client.js'
import type {S3Config} from './config.js'
import {encodeKey, sha256Hex, throwIfErrorBody, type FastResponse, type Headers} from './fast.js'
import type {BodySink} from './http1.js'
import {presignGetUrl} from './presign.js'
import type {ListV2Page} from './listing-xml.js'
import {DEFAULT_LIST_CONCURRENCY, listInOrder, type ListingStats, type PageAnswer, type PageRequest} from './list.js'
import {bodyChecker, verifyBody, verifyStream, type BodyExpect} from './verify.js'
import {uploadStream} from './upload-stream.js'

export type {Headers}
export type {BucketInfo, CompletedPart, CopyOptions, CopySource, CreateOptions, MultipartTarget, MultipartUpload, ObjectBody, ObjectVersion}

const EMPTY_BODY = Buffer.alloc(0)
export {sha256Hex}

/**
 * A key as a listing asked with encoding-type=url gives it: form-encoded ('+' is a space). A
 * server that ignores the request answers raw keys and says no encoding; those stay as they are.
 */
export function decodeListedKey(key: string, encoding: string | undefined): string {
  // (most keys hold neither '%' nor '+': then there is nothing to decode, and no copy is made)
  return encoding === 'url' && (key.includes('%') || key.includes('+')) ? decodeURIComponent(key.replace(/\+/g, ' ')) : key
}

/** The SDK fields of the settings every new object may get (encryption, ACL, stored headers). */
function objectSettings(o: CreateOptions) {
  checkObjectSettings(o)
  return {
    ServerSideEncryption: o.sse as ServerSideEncryption | undefined, SSEKMSKeyId: o.sseKmsKeyId, ACL: o.acl as ObjectCannedACL | undefined,
    CacheControl: o.cacheControl, ContentEncoding: o.contentEncoding, ContentDisposition: o.contentDisposition, ContentLanguage: o.contentLanguage,
  }
}

/**
 * The same settings as request headers, for the fast path's PUT and CopyObject: what the SDK
 * sends for objectSettings(), plus the content type, metadata and storage class. The one
 * mapping for upload, pipe and copy.
 */
export function objectHeaders(o: CreateOptions): Headers {
  checkObjectSettings(o)
  const h: Headers = {}
  if (o.contentType) h['content-type'] = o.contentType
  for (const [k, v] of Object.entries(o.metadata ?? {})) h[`x-amz-meta-${k.toLowerCase()}`] = v
  if (o.storageClass) h['x-amz-storage-class'] = o.storageClass
  if (o.sse) h['x-amz-server-side-encryption'] = o.sse
  if (o.sseKmsKeyId) h['x-amz-server-side-encryption-aws-kms-key-id'] = o.sseKmsKeyId
  if (o.acl) h['x-amz-acl'] = o.acl
  if (o.cacheControl) h['cache-control'] = o.cacheControl
  if (o.contentEncoding) h['content-encoding'] = o.contentEncoding
  if (o.contentDisposition) h['content-disposition'] = o.contentDisposition
  if (o.contentLanguage) h['content-language'] = o.contentLanguage
  return h
}

const targetOf = (t: MultipartTarget) => ({Bucket: t.bucket, Key: t.key, UploadId: t.uploadId})

/** How long a bucket check's first page may stand for the first page of the listing that follows it. */
const PROBE_FRESH_MS = 5_000

/**
 * A ListObjectsV2 answer as the listing uses it: keys decoded, times parsed. Every page of every
 * listing (the bucket check's, `list`'s, the ordered parallel listing's: src/s3/list.ts) comes
 * through here, so here a listing that would never end, or would end early, is refused: a
 * truncated page without a token, or a token this listing already followed (`followed`) given
 * again. One line naming the answer, exit 3; not retried (the server answers the same again).
 */
/**
 * The same rule for the listings that page by markers (ListObjectVersions, ListMultipartUploads):
 * a truncated page must say where to go on, and never to a place this listing was already.
 * Returns the markers as one text (`seen` keeps them), or undefined at the end.
 */
export function nextMarkers(where: string, truncated: boolean | undefined, markers: (string | undefined)[], seen: Set<string>): string | undefined {
  if (!truncated) return undefined
  if (markers.every(m => !m)) throw new S3cError(`${where} answered IsTruncated=true without a next marker: the server's listing cannot be followed to its end`, ExitCode.fatal)
  const at = JSON.stringify(markers)
  if (seen.has(at)) throw new S3cError(`${where} answered next markers it was sent before (${at.slice(0, 80)}): the server's listing would never end`, ExitCode.fatal)
  seen.add(at)
  return at
}

function toPageAnswer(page: ListV2Page, bucket: string, prefix: string, followed?: ReadonlySet<string>): PageAnswer {
  const where = `ListObjectsV2 of s3://${bucket}/${prefix}`
  if (page.isTruncated && !page.nextContinuationToken)
    throw new S3cError(`${where} answered IsTruncated=true without a NextContinuationToken: the server's listing cannot be followed to its end`, ExitCode.fatal)
  const next = page.nextContinuationToken
  if (page.isTruncated && next && followed?.has(next))
    throw new S3cError(`${where} answered a NextContinuationToken it was sent before (${JSON.stringify(next.slice(0, 60))}): the server's listing would never end`, ExitCode.fatal)
  return {
    entries: page.contents.map(o => ({
      key: decodeListedKey(o.key, page.encodingType), size: o.size, lastModifiedMs: o.lastModified ? Date.parse(o.lastModified) : 0, etag: o.etag,
      storageClass: o.storageClass ?? 'STANDARD',
    })),
    prefixes: page.commonPrefixes.map(p => decodeListedKey(p, page.encodingType)),
    next: page.isTruncated ? page.nextContinuationToken : undefined,
  }
}

/** Bytes of a streamed range per write to its file: per byte, 64 KiB writes cost the kernel about twice what 256 KiB ones do. */
const RANGE_WRITE_BATCH = 256 * 1024
/** Batch buffers whose write is done, for the next (a large download reuses a few instead of allocating a gigabyte). */
const spareBatches: Buffer[] = []
const batchBuffer = (): Buffer => spareBatches.pop() ?? Buffer.allocUnsafeSlow(RANGE_WRITE_BATCH)
const spareBatch = (b: Buffer): void => { if (spareBatches.length < 64) spareBatches.push(b) }

/** A streamed range's write failed: ends its retries (S3cError with "files failed" is not retried), unwrapped by getRangeInto. */
class WriteFailed extends S3cError {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original), ExitCode.filesFailed)
  }
}

/**
 * Every S3 request of s3c. Small GET, PUT and HEAD go on the fast path (src/s3/fast.ts), listings,
 * multipart and copies on the SDK client: chosen here, never by callers. Every request is retried
 * by one policy (src/base/retry.ts, built from --max-retry) and, where it is safe, stops when the
 * run's signal fires. Requests that clean up (abort, delete) and CreateMultipartUpload ignore the
 * signal: an upload S3 creates after Ctrl-C would have an id nobody learns, never aborted, and
 * cleaning up is what a stopped run must still do.
 *
 * The methods take the bucket: a run may read from several (a tar create manifest) and write to
 * another. It implements S3Store (src/base/storage.ts), the core ObjectStore every backend has plus
 * what S3 alone does; nothing above src/storage/ names this class (src/storage/open.ts opens it).
 */
export class S3Storage implements S3Store {
  /** First pages read by checkBucket, by bucket and prefix, each used once by the listing that follows (a few at most, fresh ones only). */
  private readonly probes = new Map<string, {page: PageAnswer; at: number}>()
  /**
   * The tokens each listing in progress has followed, by the token it is to send next: a token
   * that comes back within one listing is a loop (toPageAnswer). A listing given up leaves its
   * entry, so the oldest go beyond a bound.
   */
  private readonly followed = new Map<string, Set<string>>()
  /** Told when the server says to slow down (503 SlowDown, 429): the run's adaptive limit listens. Shared by every view made with `with` (a lent view has its own). */
  private readonly throttleListeners: (() => void)[]

  /**
   * `listConcurrency`: listing requests in flight at most (the run's --thread-count). `lent`: a
   * view for a call on a connection its caller keeps (the library's connect()): close() leaves it open.
   */
  constructor(private readonly handle: S3Handle, readonly retry: RetryPolicy, readonly signal?: AbortSignal,
    readonly listConcurrency = DEFAULT_LIST_CONCURRENCY, listeners: (() => void)[] = [], private readonly lent = false) {
    this.throttleListeners = listeners
  }

  /** Calls `fn` each time a request is answered "slow down" (before it is retried). */
  onThrottle(fn: () => void): void {
    this.throttleListeners.push(fn)
  }

  /** One connection (the one client factory, src/s3/client.ts) with this retry policy. */
  static async open(config: S3Config, retry: RetryPolicy, signal?: AbortSignal, listConcurrency?: number): Promise<S3Storage> {
    return new S3Storage(await createS3(config), retry, signal, listConcurrency)
  }

  /** The same connection with another retry policy (a worker's job carries its run's --max-retry), signal or listing concurrency. */
  with(opts: {retry?: RetryPolicy; signal?: AbortSignal; listConcurrency?: number; lent?: boolean}): S3Storage {
    // A lent view's slow-downs go to its own listeners: one call's adaptive limit, not every call's on the connection.
    return new S3Storage(this.handle, opts.retry ?? this.retry, opts.signal ?? this.signal, opts.listConcurrency ?? this.listConcurrency,
      opts.lent ? [] : this.throttleListeners, opts.lent || this.lent)
  }

  /** The same connection without the signal: for the cleanup after a stop, which must still be sent. */
  withoutSignal(): S3Storage {
    return new S3Storage(this.handle, this.retry, undefined, this.listConcurrency, this.throttleListeners, this.lent)
  }

  /** Where requests go, for messages (never contains secrets). */
  get endpointLabel(): string {
    return this.handle.endpointLabel
  }

  /** Closes the connection (every view made with `with` shares it). */
  async close(): Promise<void> {
    if (this.lent) return
    await this.handle.close()
  }

  /** One SDK command, built from the SDK's module (loaded with the first one: src/s3/client.ts) and sent. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async send<I extends ServiceInputTypes, O extends ServiceOutputTypes>(make: (m: SdkModule) => Command<ServiceInputTypes, I, ServiceOutputTypes, O, any>,
    options?: {abortSignal?: AbortSignal}): Promise<O> {
    const {client, m} = await this.handle.sdk()
    return client.send(make(m), options)
  }

  private retried<T>(fn: () => Promise<T>, abortable = true): Promise<T> {
    const listeners = this.throttleListeners
    const attempt = listeners.length === 0 ? fn : () => fn().catch((error: unknown) => {
      if (isThrottling(error)) for (const l of listeners) l()
      throw error
    })
    return withRetry(attempt, this.retry, abortable ? this.signal : undefined, this.handle.contact)
  }

  // ---------------------------------------------------------------- buckets

  /**
   * Checks that the bucket answers before any work starts, with few retries so a dead endpoint
   * fails fast (one line, exit 3). Tells whether anything is under the prefix.
   */
  async checkBucket(bucket: string, prefix: string): Promise<{empty: boolean}> {
    try {
      // Abortable like every read: a stop (Ctrl-C, SIGTERM) while the server holds this answer ends it at once.
      const page = await withRetry(() => this.handle.fast.listObjectsV2(bucket, {prefix: prefix || undefined}, this.signal), probePolicy(this.retry), this.signal, this.handle.contact)
      // A whole first page: the listing that usually follows starts from it instead of asking again.
      this.probes.set(`${bucket}\0${prefix}`, {page: toPageAnswer(page, bucket, prefix), at: performance.now()})
      if (this.probes.size > 4) this.probes.delete(this.probes.keys().next().value!)
      return {empty: (page.keyCount ?? page.contents.length) === 0}
    } catch (error) {
      if (this.signal?.aborted) throw this.signal.reason
      throw fatalToUserError(error, {bucket, endpoint: this.endpointLabel})
    }
  }

  // ---------------------------------------------------------------- reads

  /** The object's headers (HEAD), or undefined when it does not exist. */
  async head(bucket: string, key: string): Promise<Headers | undefined> {
    try {
      return (await this.retried(() => this.handle.fast.request('HEAD', bucket, key))).headers
    } catch (error) {
      if (statusOf(error) === 404) return undefined
      throw error
    }
  }

  /** The object as a listing would give it (a HEAD), or undefined when it does not exist. */
  async stat(bucket: string, key: string): Promise<StorageEntry | undefined> {
    const h = await this.head(bucket, key)
    if (!h) return undefined
    const modified = h['last-modified'] ? Date.parse(h['last-modified']) : 0
    return {key, size: Number(h['content-length'] ?? 0), lastModifiedMs: Number.isNaN(modified) ? 0 : modified, etag: h.etag,
      storageClass: h['x-amz-storage-class'] ?? 'STANDARD'}
  }

  /**
   * Every GET read whole goes through here: its body verified (src/s3/verify.ts: the lengths,
   * `expect`'s listed size, a whole object's digest), inside the caller's retry, so a body
   * refused is fetched again.
   */
  private async getWhole(bucket: string, key: string, headers: Headers, expect?: BodyExpect): Promise<FastResponse & {sha256?: string}> {
    const r = await this.handle.fast.request('GET', bucket, key, headers)
    return {...r, sha256: verifyBody(`s3://${bucket}/${key}`, r, expect)}
  }

  /** Every streamed GET goes through here: the stream errors at its end when its body fails the same checks (src/s3/verify.ts). */
  private async getStream(bucket: string, key: string, headers: Headers, expect?: BodyExpect): Promise<{headers: Headers; body: Readable}> {
    const r = await this.handle.fast.stream(bucket, key, headers, this.signal)
    return {headers: r.headers, body: verifyStream(`s3://${bucket}/${key}`, r.status, r.headers, r.body, expect)}
  }

  /** A small object, whole and verified; `expect.size` is its listed size. A body refused is fetched again, then fails. */
  async get(bucket: string, key: string, expect?: BodyExpect): Promise<ObjectBody> {
    return this.retried(() => this.getWhole(bucket, key, {}, expect))
  }

  /**
   * The one ranged GET: exactly `length` bytes (a short body is retried, as a dropped connection
   * is), fewer only when `partial`; If-Match the ETag when one is given (a 412 then means the
   * object was replaced: SourceChangedError).
   */
  async getRange(ref: S3SourceRef, offset: number, length: number, opts: {partial?: boolean} = {}): Promise<FastResponse> {
    const headers: Headers = {range: `bytes=${offset}-${offset + length - 1}`}
    if (ref.etag) headers['if-match'] = ref.etag
    try {
      return await this.retried(async () => {
        const r = await this.getWhole(ref.bucket, ref.key, headers, {rangeStart: offset})
        if (!opts.partial && r.body.length !== length) throw Object.assign(new Error(`short read of s3://${ref.bucket}/${ref.key}: ${r.body.length} of ${length} bytes`), {name: 'IncompleteBody'})
        return r
      })
    } catch (error) {
      if (statusOf(error instanceof FatalError ? error.original : error) === 412) throw new SourceChangedError(`s3://${ref.bucket}/${ref.key}`, false)
      throw error
    }
  }

  /**
   * The streamed ranged GET (S3Store.getRangeInto), on the fast path's sockets. The body's pieces
   * are copied into writes of RANGE_WRITE_BATCH bytes, at most two in flight; beyond that the
   * socket waits. `write` must not keep its buffers past its promise (they are reused). Each
   * attempt asks for the bytes from the first one not yet received, pinned to the ref's ETag or
   * else to the first answer's (a resumed range never mixes two versions); the retry policy
   * decides how often. Every answer passes the checks of any GET (src/s3/verify.ts), and more
   * bytes than asked are refused. A failed write ends the request and is the error, never
   * retried: the bytes it held are gone, and a resumed range would leave a hole.
   */
  async getRangeInto(ref: S3SourceRef, offset: number, length: number, write: (buffers: Buffer[], at: number) => Promise<void>): Promise<{headers: Headers}> {
    const label = `s3://${ref.bucket}/${ref.key}`
    let received = 0
    let first: Headers | undefined
    let etag = ref.etag
    // Pieces are copied into a batch buffer (they may lie in the socket's read buffer), written when full.
    let batch: Buffer | undefined
    let batchBytes = 0
    const writing = new Set<Promise<void>>()
    let writeError: unknown
    /** The attempt whose body is coming: a write's end lets its socket go on, or ends it. */
    let attempt: {stop: AbortController; sink: BodySink} | undefined
    const hand = () => {
      if (!batch || batchBytes === 0) return
      const [buffer, bytes] = [batch, batchBytes]
      const p: Promise<void> = write([buffer.subarray(0, bytes)], received - bytes).catch(error => { writeError ??= error }).finally(() => {
        writing.delete(p)
        spareBatch(buffer)
        if (writeError) attempt?.stop.abort(writeError)
        else attempt?.sink.more?.()
      })
      writing.add(p)
      batch = undefined
      batchBytes = 0
    }
    const settle = async () => {
      hand()
      while (writing.size > 0) await Promise.all(writing)
      if (writeError) throw writeError
    }
    try {
      await this.retried(async () => {
        if (writeError) throw new WriteFailed(writeError)
        if (received === length && first) return
        const from = offset + received
        const headers: Headers = {range: `bytes=${from}-${offset + length - 1}`}
        if (etag) headers['if-match'] = etag
        const stop = new AbortController()
        let check: ReturnType<typeof bodyChecker> | undefined
        const sink: BodySink = {
          head: (status, h) => {
            check = bodyChecker(label, status, h, {rangeStart: from})
            if (!first) {
              first = h
              if (!etag && isPinnableEtag(h.etag)) etag = h.etag
            }
          },
          write: chunk => {
            if (received + chunk.length > length) {
              stop.abort(Object.assign(new Error(`${label}: the server sent more than the ${length} bytes asked for at ${offset}`), {name: 'IncompleteBody'}))
              return false
            }
            check!.update(chunk)
            for (let at = 0; at < chunk.length;) {
              batch ??= batchBuffer()
              const n = chunk.copy(batch, batchBytes, at)
              at += n
              batchBytes += n
              received += n
              if (batchBytes === batch.length) hand()
            }
            return writing.size < 2
          },
        }
        attempt = {stop, sink}
        try {
          await this.handle.fast.getInto(ref.bucket, ref.key, headers, sink, this.signal ? AbortSignal.any([this.signal, stop.signal]) : stop.signal)
          check!.end()
          if (received !== length) throw Object.assign(new Error(`short read of ${label}: ${received} of ${length} bytes`), {name: 'IncompleteBody'})
        } catch (error) {
          throw writeError ? new WriteFailed(writeError) : error
        } finally {
          attempt = undefined
          // What came is written before anything else happens (a retry asks for the bytes after it).
          await settle().catch(() => undefined)
        }
        if (writeError) throw new WriteFailed(writeError)
      })
    } catch (error) {
      if (error instanceof WriteFailed) throw error.original
      if (statusOf(error instanceof FatalError ? error.original : error) === 412) throw new SourceChangedError(label, false)
      throw error
    }
    return {headers: first!}
  }

  /** A range as a stream (a large member), If-Match the ETag when one is given; the reader checks the length. */
  async streamRange(ref: S3SourceRef, offset: number, length: number): Promise<Readable> {
    if (length === 0) return Readable.from([])
    const headers: Headers = {range: `bytes=${offset}-${offset + length - 1}`}
    if (ref.etag) headers['if-match'] = ref.etag
    try {
      return (await this.retried(() => this.getStream(ref.bucket, ref.key, headers, {rangeStart: offset}))).body
    } catch (error) {
      if (statusOf(error instanceof FatalError ? error.original : error) === 412) throw new SourceChangedError(`s3://${ref.bucket}/${ref.key}`, false)
      throw error
    }
  }

  /**
   * An object as a range source. With its ETag (and size) known, nothing is sent until the first
   * read; without, stat() asks with a HEAD (once) and pins the version it finds, and so does the
   * first read: later reads carry If-Match, and a source rewritten between two reads fails with
   * SourceChangedError instead of mixing two versions.
   */
  source(ref: S3SourceRef & {size?: number}): RangeSource {
    const label = `s3://${ref.bucket}/${ref.key}`
    let known: SourceStat | undefined = ref.size !== undefined ? {size: ref.size, etag: ref.etag ?? ''} : undefined
    let pinned: S3SourceRef = {bucket: ref.bucket, key: ref.key, etag: ref.etag}
    const src: RangeSource = {
      label, local: false, reads: 0, bytesRead: 0,
      stat: async () => {
        if (known) return known
        let head: Headers | undefined
        try {
          head = await this.head(ref.bucket, ref.key)
        } catch (error) {
          throw fatalToUserError(error, {bucket: ref.bucket, endpoint: this.endpointLabel})
        }
        if (!head) {
          // A HEAD's 404 has no body to tell a missing bucket (exit 3) from a missing key (exit 2): one listing does.
          await this.checkBucket(ref.bucket, '')
          throw new S3cError(`${label} does not exist: check the bucket and key`, ExitCode.usage, 'NotFound')
        }
        known = {size: Number(head['content-length'] ?? 0), etag: ref.etag ?? head.etag ?? ''}
        pinned = {...pinned, etag: known.etag || undefined}
        return known
      },
      read: async (offset, length, opts) => {
        if (length === 0) return Buffer.alloc(0)
        src.reads++
        const res = await this.getRange(pinned, offset, length, {partial: opts?.partial})
        src.bytesRead += res.body.length
        // Unpinned until now: the version this read got is the one every later read must get.
        if (!pinned.etag && isPinnableEtag(res.headers.etag)) pinned = {...pinned, etag: res.headers.etag}
        return res.body
      },
      stream: async (offset, length) => {
        if (length === 0) return Readable.from([])
        src.reads++
        return this.streamRange(pinned, offset, length)
      },
      ref: async () => ({...pinned}),
      close: async () => undefined,
    }
    return src
  }

  /** An object as a range source, its size and ETag asked for first (a HEAD): for a tar no index describes. */
  async openSource(bucket: string, key: string): Promise<RangeSource> {
    const src = this.source({bucket, key})
    await src.stat()
    return src
  }

  /** The objects under `prefix` (and with a delimiter, the folders one level down), one ListObjectsV2 page at a time. */
  async* list(bucket: string, prefix: string, opts: ListOptions = {}): AsyncGenerator<ListPage> {
    let token: string | undefined
    do {
      const page = await this.listPage(bucket, {prefix, token, delimiter: opts.delimiter, startAfter: token ? undefined : opts.startAfter})
      yield {entries: page.entries, prefixes: page.prefixes}
      token = page.next
    } while (token)
  }

  /** The tokens followed before `token` in its listing, `token` included (none for a listing's first page). */
  private follow(token: string | undefined): Set<string> {
    const chain = (token && this.followed.get(token)) || new Set<string>()
    if (token) {
      this.followed.delete(token)
      chain.add(token)
    }
    return chain
  }

  /** One ListObjectsV2 request; a listing's first page may be the one checkBucket just read. */
  private async listPage(bucket: string, req: PageRequest): Promise<PageAnswer> {
    const {followed, ...answer} = await this.fetchPage(bucket, req)
    if (answer.next) {
      this.followed.set(answer.next, followed ?? new Set())
      if (this.followed.size > 10_000) this.followed.delete(this.followed.keys().next().value!)
    }
    return answer
  }

  private async fetchPage(bucket: string, req: PageRequest): Promise<PageAnswer & {followed?: Set<string>}> {
    if (!req.token && !req.startAfter && !req.delimiter) {
      const probed = this.probes.get(`${bucket}\0${req.prefix}`)
      this.probes.delete(`${bucket}\0${req.prefix}`)
      // Only a page read moments ago stands for the listing's first (a connection may live long: the library, `s3c run`).
      if (probed && performance.now() - probed.at < PROBE_FRESH_MS) return probed.page
    }
    // On the fast path (src/s3/listing-xml.ts): the SDK's deserializer was most of a listing's CPU.
    const followed = this.follow(req.token)
    const page = await this.retried(() => this.handle.fast.listObjectsV2(bucket, {
      prefix: req.prefix || undefined, continuationToken: req.token, delimiter: req.delimiter, startAfter: req.startAfter, maxKeys: req.maxKeys,
    }, this.signal))
    return {...toPageAnswer(page, bucket, req.prefix, followed), followed}
  }

  /** Every object under `prefix`, in key order (the pages of `list`, flattened). */
  async* listObjects(bucket: string, prefix: string): AsyncGenerator<StorageEntry> {
    for await (const entries of this.listObjectPages(bucket, prefix)) yield* entries
  }

  /**
   * listObjects a page (up to 1,000 objects) at a time: a caller can check a page's order before
   * using any of it. Listed in parallel past the first page, up to `listConcurrency` requests at
   * once, in the order and with the content of a sequential listing (src/s3/list.ts).
   * `sequentialPages`: pages read one after another before the first split (default 10: a
   * listing of up to 10,000 keys then costs exactly ⌈N/1000⌉ requests; `ls` splits after one,
   * for time, at a few requests more).
   */
  async* listObjectPages(bucket: string, prefix: string, stats?: ListingStats, opts: {sequentialPages?: number} = {}): AsyncGenerator<StorageEntry[]> {
    yield* listInOrder(req => this.listPage(bucket, req), prefix, {concurrency: this.listConcurrency, stats, sequentialPages: opts.sequentialPages})
  }

  /** A whole object as a stream (a sync state), or undefined when it does not exist. */
  async stream(bucket: string, key: string): Promise<Readable | undefined> {
    try {
      return (await this.retried(() => this.getStream(bucket, key, {}))).body
    } catch (error) {
      if (statusOf(error instanceof FatalError ? error.original : error) === 404) return undefined
      throw error
    }
  }

  /**
   * The incomplete multipart uploads under a prefix, or undefined when the server does not list
   * them: it answers NotImplemented (or 501), or with something that is not a
   * ListMultipartUploadsResult (fauxqs answers with an object listing, which has no Bucket).
   */
  async listMultipartUploads(bucket: string, prefix: string): Promise<MultipartUpload[] | undefined> {
    const out: MultipartUpload[] = []
    const seen = new Set<string>()
    let keyMarker: string | undefined
    let uploadIdMarker: string | undefined
    for (;;) {
      let page
      try {
        page = await this.retried(() => this.send(m => new m.ListMultipartUploadsCommand({
          Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker,
        }), {abortSignal: this.signal}))
      } catch (error) {
        const name = (error as {name?: string}).name
        if (name === 'NotImplemented' || statusOf(error) === 501) return undefined
        throw error
      }
      if (page.Bucket === undefined) return undefined
      for (const u of page.Uploads ?? []) if (u.Key && u.UploadId) out.push({key: u.Key, uploadId: u.UploadId, initiated: u.Initiated})
      if (!nextMarkers(`ListMultipartUploads of s3://${bucket}/${prefix}`, page.IsTruncated, [page.NextKeyMarker, page.NextUploadIdMarker], seen)) return out
      keyMarker = page.NextKeyMarker
      uploadIdMarker = page.NextUploadIdMarker
    }
  }

  // ---------------------------------------------------------------- writes

  /** A small object in one PUT; `sha256` (hex) of the body when the caller has it already. Resolves with the answer's ETag. */
  async put(bucket: string, key: string, body: Buffer, opts: {headers?: Headers; sha256?: string} = {}): Promise<{etag?: string}> {
    const sha256 = opts.sha256 ?? sha256Hex(body)
    const res = await this.retried(() => this.handle.fast.request('PUT', bucket, key, opts.headers ?? {}, body, sha256))
    return {etag: res.headers.etag}
  }

  /**
   * A small object in one PUT, with the settings as headers (objectHeaders); without a content
   * type it is S3's own default, said explicitly (fauxqs refuses an empty body that has none).
   */
  async write(bucket: string, key: string, body: Buffer, settings: CreateOptions = {}): Promise<{etag?: string}> {
    return this.put(bucket, key, body, {headers: objectHeaders({...settings, contentType: settings.contentType ?? 'binary/octet-stream'})})
  }

  /** A stream of unknown length into one object: one PUT, or a multipart upload with parts in flight (src/s3/upload-stream.ts). */
  async writeStream(bucket: string, key: string, body: AsyncIterable<Buffer | string>, opts: StreamWriteOptions = {}): Promise<{bytes: number; parts: number}> {
    return uploadStream(this, this.signal, bucket, key, body, objectHeaders(opts.settings ?? {}), opts)
  }

  /** Starts a multipart upload; never cancelled by the signal (its id must be known to be aborted). */
  async createMultipart(bucket: string, key: string, opts: CreateOptions = {}): Promise<string> {
    const created = await this.retried(() => this.send(m => new m.CreateMultipartUploadCommand({
      Bucket: bucket, Key: key, ContentType: opts.contentType, Metadata: opts.metadata, StorageClass: opts.storageClass as StorageClass | undefined,
      ...objectSettings(opts),
    })), false)
    return created.UploadId!
  }

  async uploadPart(target: MultipartTarget, partNumber: number, body: Buffer): Promise<CompletedPart> {
    const res = await this.retried(() => this.send(m => new m.UploadPartCommand({
      ...targetOf(target), PartNumber: partNumber, Body: body, ContentLength: body.length,
    }), {abortSignal: this.signal}))
    return {PartNumber: partNumber, ETag: res.ETag ?? ''}
  }

  /**
   * A part copied server-side from another object (UploadPartCopy), If-Match its ETag when given.
   * Ceph RGW URL-decodes UploadPartCopy's x-amz-copy-source twice (CopyObject's once), so a key
   * with "%" in it is not found there: after a 404 on such a key it asks once more with every
   * "%" encoded twice (AWS and MinIO never see that form).
   */
  async copyPart(target: MultipartTarget, partNumber: number, src: CopySource): Promise<CompletedPart> {
    const range = src.start !== undefined && src.end !== undefined ? `bytes=${src.start}-${src.end - 1}` : undefined
    const copySource = `${src.bucket}/${encodeKey(src.key)}`
    const send = (from: string) => this.retried(() => this.send(m => new m.UploadPartCopyCommand({
      ...targetOf(target), PartNumber: partNumber, CopySource: from, CopySourceRange: range, CopySourceIfMatch: src.etag,
    }), {abortSignal: this.signal}))
    let res
    try {
      res = await send(copySource)
    } catch (error) {
      if (statusOf(error) !== 404 || !src.key.includes('%')) throw error
      res = await send(copySource.replace(/%25/g, '%2525'))
    }
    return {PartNumber: partNumber, ETag: res.CopyPartResult?.ETag ?? ''}
  }

  /** Completes the upload; the ETag is '' when the server's answer has none the SDK reads (Ceph RGW). */
  async completeMultipart(target: MultipartTarget, parts: CompletedPart[]): Promise<{etag: string}> {
    const res = await this.retried(() => this.send(m => new m.CompleteMultipartUploadCommand({...targetOf(target), MultipartUpload: {Parts: parts}})))
    return {etag: res.ETag ?? ''}
  }

  /** Aborts the upload, also after Ctrl-C; one that is gone already (404) is fine. */
  async abortMultipart(target: MultipartTarget): Promise<void> {
    try {
      await this.retried(() => this.send(m => new m.AbortMultipartUploadCommand(targetOf(target))), false)
    } catch (error) {
      if (statusOf(error) !== 404) throw error
    }
  }

  /**
   * A whole object copied server-side (CopyObject, up to 5 GiB): metadata kept unless
   * `opts.replace` (then the content type and metadata given), If-Match `opts.etag`.
   */
  async copy(from: ObjectAt, to: ObjectAt, opts: CopyOptions = {}): Promise<void> {
    const replace = opts.replace === true
    // Without REPLACE the copy keeps the source's content type, metadata and stored headers: none may be sent.
    const headers: Headers = objectHeaders(replace ? opts : {storageClass: opts.storageClass, sse: opts.sse, sseKmsKeyId: opts.sseKmsKeyId, acl: opts.acl})
    headers['x-amz-copy-source'] = `${from.bucket}/${encodeKey(from.key)}`
    if (opts.etag) headers['x-amz-copy-source-if-match'] = opts.etag
    if (replace) headers['x-amz-metadata-directive'] = 'REPLACE'
    // On the fast path: a copy of many small objects is bound by the client's CPU per request (docs/DESIGN.md).
    await this.retried(async () => {
      const res = await this.handle.fast.request('PUT', to.bucket, to.key, headers, EMPTY_BODY)
      // S3 may fail a copy after answering 200: the error is then the body.
      throwIfErrorBody(res.body)
    })
  }

  /**
   * Deletes keys (or given versions of them), 1,000 a request (DeleteObjects), also after Ctrl-C. Resolves with the keys S3
   * could not delete; rejects when a request fails for good.
   */
  async deleteMany(bucket: string, keys: (string | {key: string; versionId: string})[]): Promise<{key: string; error: string}[]> {
    const batches: (string | {key: string; versionId: string})[][] = []
    for (let i = 0; i < keys.length; i += 1000) batches.push(keys.slice(i, i + 1000))
    const settled = await Promise.allSettled(batches.map(batch => this.retried(() => this.send(m => new m.DeleteObjectsCommand({
      Bucket: bucket, Delete: {Objects: batch.map(k => (typeof k === 'string' ? {Key: k} : {Key: k.key, VersionId: k.versionId})), Quiet: true},
    })), false)))
    const refused = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (refused) throw refused.reason
    return settled.flatMap(s => (s.status === 'fulfilled' ? s.value.Errors ?? [] : []))
      .map(e => ({key: e.Key ?? '', error: `${e.Code ?? 'Error'}: ${e.Message ?? ''}`}))
  }

  // ---------------------------------------------------------------- everyday verbs (ls, cat, mb, rb, presign)

  /** The buckets the credentials own (ListBuckets), by name. */
  async listBuckets(): Promise<BucketInfo[]> {
    const out: BucketInfo[] = []
    const seen = new Set<string>()
    let token: string | undefined
    do {
      const page = await this.retried(() => this.send(m => new m.ListBucketsCommand({ContinuationToken: token}), {abortSignal: this.signal}))
      for (const b of page.Buckets ?? []) if (b.Name) out.push({name: b.Name, created: b.CreationDate})
      // The page guard of the marker listings: a token that comes back would page forever.
      token = nextMarkers(`ListBuckets at ${this.endpointLabel}`, !!page.ContinuationToken, [page.ContinuationToken], seen) ? page.ContinuationToken : undefined
    } while (token)
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /** True when the bucket exists (HeadBucket: 404 is no, 403 and the rest are errors). */
  async bucketExists(bucket: string): Promise<boolean> {
    try {
      await withRetry(() => this.send(m => new m.HeadBucketCommand({Bucket: bucket}), {abortSignal: this.signal}), probePolicy(this.retry), this.signal, this.handle.contact)
      return true
    } catch (error) {
      const original = error instanceof FatalError ? error.original : error
      if (statusOf(original) === 404 || (original as Error)?.name === 'NoSuchBucket' || (original as Error)?.name === 'NotFound') return false
      throw error
    }
  }

  /** CreateBucket; `locationConstraint` only for AWS outside us-east-1. */
  async createBucket(bucket: string, locationConstraint?: string): Promise<void> {
    await this.retried(() => this.send(m => new m.CreateBucketCommand({
      Bucket: bucket, ...(locationConstraint ? {CreateBucketConfiguration: {LocationConstraint: locationConstraint as BucketLocationConstraint}} : {}),
    })), false)
  }

  /** DeleteBucket (the bucket must be empty). */
  async deleteBucket(bucket: string): Promise<void> {
    await this.retried(() => this.send(m => new m.DeleteBucketCommand({Bucket: bucket})), false)
  }

  /**
   * A GET of the whole object or of one range (`range`: the Range header's value), its body as
   * a stream once the answer's headers have come; retried until then.
   */
  async streamObject(bucket: string, key: string, range?: string): Promise<{headers: Headers; body: Readable}> {
    // A suffix range (bytes=-N) does not say where its bytes start: only its length is checked.
    const start = range ? /^bytes=(\d+)-/.exec(range)?.[1] : undefined
    return this.retried(() => this.getStream(bucket, key, range ? {range} : {}, start === undefined ? {} : {rangeStart: Number(start)}))
  }

  /** Every version and delete marker under `prefix` (ListObjectVersions), in key order, newest first per key. */
  async* listVersions(bucket: string, prefix: string): AsyncGenerator<ObjectVersion[]> {
    const seen = new Set<string>()
    let keyMarker: string | undefined
    let versionIdMarker: string | undefined
    for (;;) {
      const page = await this.retried(() => this.send(m => new m.ListObjectVersionsCommand({
        Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker, EncodingType: 'url',
      }), {abortSignal: this.signal}))
      const decode = (k: string) => decodeListedKey(k, page.EncodingType)
      const versions: ObjectVersion[] = [
        ...(page.Versions ?? []).map(v => ({key: decode(v.Key!), versionId: v.VersionId ?? 'null', isLatest: v.IsLatest ?? false, deleteMarker: false,
          size: v.Size ?? 0, lastModifiedMs: v.LastModified?.getTime() ?? 0, etag: v.ETag, storageClass: v.StorageClass ?? 'STANDARD'})),
        ...(page.DeleteMarkers ?? []).map(v => ({key: decode(v.Key!), versionId: v.VersionId ?? 'null', isLatest: v.IsLatest ?? false, deleteMarker: true,
          size: 0, lastModifiedMs: v.LastModified?.getTime() ?? 0})),
      ].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : b.lastModifiedMs - a.lastModifiedMs))
      yield versions
      if (!nextMarkers(`ListObjectVersions of s3://${bucket}/${prefix}`, page.IsTruncated, [page.NextKeyMarker, page.NextVersionIdMarker], seen)) return
      keyMarker = page.NextKeyMarker
      versionIdMarker = page.NextVersionIdMarker
    }
  }

  /** A presigned GET URL (SigV4 query signing), valid for `expiresInSeconds` (at most 7 days, S3's limit). */
  presignGet(bucket: string, key: string, expiresInSeconds: number): Promise<string> {
    return presignGetUrl(this.handle.fast, bucket, key, expiresInSeconds)
  }
}
