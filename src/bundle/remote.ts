import {createHash} from 'node:crypto'
import {readFile, unlink} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {ExitCode, S3cError, statusOf} from '../core/errors.js'
import {withRetry, type RetryPolicy} from '../core/retry.js'
import {fatalToUserError} from '../core/transfer.js'
import type {S3Handle} from '../s3/client.js'
import {isS3Url, joinKey, parseS3Url} from '../s3/url.js'
import {writeFileSafely} from '../local/safe-path.js'
import {
  FIRST_READ, INDEX_SUFFIX, IndexFormatError, RECORD_SIZE, findInTable, nameHash, parseCollisions, parseHeader, parseList, tableWindow,
  type IndexHeader, type IndexedMember, type LookupRecord,
} from './index-format.js'

/** A tar in S3 and its index object. */
export interface TarRef {
  bucket: string
  tarKey: string
  indexKey: string
  /** How the user named it, for messages. */
  label: string
}

export const BUNDLE_TAR = 'bundle.tar'

/** The tar a BUNDLE argument names: a bundle id under the prefix, or an s3://bucket/key.tar URL. */
export function resolveTarRef(arg: string, loc: {bucket?: string; prefix?: string}): TarRef {
  if (isS3Url(arg)) {
    const {bucket, prefix: key} = parseS3Url(arg)
    if (!key || key.endsWith('/')) throw new S3cError(`"${arg}" names no object: give s3://bucket/path/archive.tar or a bundle id`, ExitCode.usage)
    const tarKey = key.endsWith(INDEX_SUFFIX) ? key.slice(0, -INDEX_SUFFIX.length) : key
    return {bucket, tarKey, indexKey: tarKey + INDEX_SUFFIX, label: `s3://${bucket}/${tarKey}`}
  }
  const bucket = loc.bucket || process.env.S3C_BUCKET
  if (!bucket) throw new S3cError(`no bucket for bundle "${arg}": pass --bucket NAME, set S3C_BUCKET, or give s3://bucket/key.tar`, ExitCode.usage)
  if (!arg || arg.includes('/') || arg === '.' || arg === '..') throw new S3cError(`"${arg}" is not a bundle id: ids are single path segments (or give an s3:// URL)`, ExitCode.usage)
  const tarKey = joinKey(loc.prefix ?? '', `${arg}/${BUNDLE_TAR}`)
  return {bucket, tarKey, indexKey: tarKey + INDEX_SUFFIX, label: `bundle "${arg}" (s3://${bucket}/${tarKey})`}
}

export function cacheDir(): string {
  if (process.env.S3C_CACHE_DIR) return process.env.S3C_CACHE_DIR
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 's3c', 'index')
}

export interface Lookup {
  record: LookupRecord
  header: IndexHeader
}

/** The front of an index: header, collision names and (when it fits the first read) the whole table. */
interface IndexFront {
  header: IndexHeader
  collisions: Map<number, string>
  /** The table, or undefined when it was too large for the first read. */
  table?: Buffer
  /** The bytes to keep in the local cache. */
  bytes: Buffer
}

/**
 * Reads an index from S3 with as few requests as its format allows, keeping its front in a
 * local cache: a warm lookup costs no request (the member GET carries If-Match of the tar's
 * ETag, so a changed tar is noticed and the cache refreshed).
 */
export class IndexReader {
  /** Ranged GETs sent, for --stats and the tests. */
  gets = 0
  private front?: IndexFront
  private fromCache = false

  constructor(private readonly s3: S3Handle, readonly ref: TarRef, private readonly retry: RetryPolicy, private readonly useCache = true) {}

  private get cachePath(): string {
    const id = createHash('sha256').update(`${this.s3.endpointLabel}\n${this.ref.bucket}\n${this.ref.indexKey}`).digest('hex').slice(0, 40)
    return join(cacheDir(), `${id}${INDEX_SUFFIX}`)
  }

  private async getRange(start: number, endExclusive: number): Promise<Buffer> {
    this.gets++
    try {
      const res = await withRetry(() => this.s3.fast.request('GET', this.ref.bucket, this.ref.indexKey, {range: `bytes=${start}-${endExclusive - 1}`}), this.retry)
      return res.body
    } catch (error) {
      if (statusOf(error) === 404 || (error as Error).name === 'NoSuchKey')
        throw new S3cError(`${this.ref.label} has no index (s3://${this.ref.bucket}/${this.ref.indexKey} not found): check the name, or index a tar with s3c index`, ExitCode.usage)
      if (statusOf(error) === 416) throw new S3cError(`the index of ${this.ref.label} is empty or corrupt: rebuild it with s3c index`, ExitCode.usage)
      throw fatalToUserError(error, {bucket: this.ref.bucket, endpoint: this.s3.endpointLabel})
    }
  }

  private parseFront(buf: Buffer): IndexFront {
    try {
      const header = parseHeader(buf)
      const cEnd = header.collisionsOffset + header.collisionsLength
      if (buf.length < cEnd) throw new IndexFormatError('collision section beyond the first read')
      const collisions = parseCollisions(buf.subarray(header.collisionsOffset, cEnd))
      const tableEnd = header.tableOffset + header.count * RECORD_SIZE
      const table = buf.length >= tableEnd ? buf.subarray(header.tableOffset, tableEnd) : undefined
      return {header, collisions, table, bytes: buf.subarray(0, table ? tableEnd : cEnd)}
    } catch (error) {
      if (error instanceof IndexFormatError) throw new S3cError(`the index of ${this.ref.label} is not usable (${error.message}): rebuild it with s3c index`, ExitCode.usage)
      throw error
    }
  }

  private async loadFront(): Promise<IndexFront> {
    if (this.front) return this.front
    if (this.useCache) {
      const cached = await readFile(this.cachePath).catch(() => undefined)
      if (cached) {
        try {
          this.front = this.parseFront(cached)
          this.fromCache = true
          return this.front
        } catch {
          await unlink(this.cachePath).catch(() => undefined)
        }
      }
    }
    this.front = this.parseFront(await this.getRange(0, FIRST_READ))
    this.fromCache = false
    if (this.useCache) await this.saveCache(this.front.bytes)
    return this.front
  }

  private async saveCache(bytes: Buffer): Promise<void> {
    try {
      await writeFileSafely(cacheDir(), this.cachePath, bytes)
    } catch {
      // a cache that cannot be written only costs requests
    }
  }

  /** True when the front came from the local cache (a warm lookup). */
  get warm(): boolean {
    return this.fromCache
  }

  /** Forget the cached front (the tar changed): the next lookup reads the index again. */
  async invalidate(): Promise<void> {
    this.front = undefined
    await unlink(this.cachePath).catch(() => undefined)
  }

  async header(): Promise<IndexHeader> {
    return (await this.loadFront()).header
  }

  /** The member's record, or undefined when the tar has no such member. */
  async lookup(name: string): Promise<Lookup | undefined> {
    const front = await this.loadFront()
    const {header} = front
    if (front.table) {
      const r = findInTable(front.table, 0, header.count, name, front.collisions)
      return r === undefined || r === 'outside' ? undefined : {record: r, header}
    }
    const {first, end} = tableWindow(nameHash(name), header.count)
    let r = findInTable(await this.getRange(header.tableOffset + first * RECORD_SIZE, header.tableOffset + end * RECORD_SIZE), first, header.count, name, front.collisions)
    if (r === 'outside') {
      // Far from where uniform hashes put it (practically never): read the whole table.
      r = findInTable(await this.getRange(header.tableOffset, header.listOffset), 0, header.count, name, front.collisions)
    }
    return r === undefined || r === 'outside' ? undefined : {record: r, header}
  }

  /** Every member, in archive order (reads the member list; the tar itself is not read). */
  async members(): Promise<IndexedMember[]> {
    const {header} = await this.loadFront()
    if (header.listLength === 0) return []
    const gz = await this.getRange(header.listOffset, header.listOffset + header.listLength)
    try {
      return parseList(gz)
    } catch (error) {
      throw new S3cError(`the index of ${this.ref.label} is not usable (${(error as Error).message}): rebuild it with s3c index`, ExitCode.usage)
    }
  }
}
