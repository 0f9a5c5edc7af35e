import {createHash} from 'node:crypto'
import {readFile, unlink} from 'node:fs/promises'
import {join} from 'node:path'
import {ExitCode, FatalError, fatalToUserError, S3cError, statusOf} from '../base/errors.js'
import {SourceChangedError, isPinnableEtag, type RangeSource, type S3Store} from '../base/storage.js'
import {writeFileSafely} from '../local/safe-path.js'
import {
  FIRST_READ, INDEX_SUFFIX, IndexFormatError, RECORD_SIZE, findInTable, nameHash, parseCollisions, parseHeader, parseList, tableWindow,
  type IndexHeader, type IndexedMember, type LookupRecord,
} from './format.js'
import {cacheDir, isLocalTar, type S3TarRef, type TarRef} from './ref.js'
import {localSource} from '../local/storage.js'
import {staleIndexError} from './format.js'

/**
 * A cached front starts with this line and the ETag of the index object it was read from (empty
 * when the server gave none); anything else in the cache folder is not used (and is removed).
 */
const CACHE_MAGIC = 's3ci-front 1 '

function parseCacheEntry(data: Buffer): {etag: string; bytes: Buffer} | undefined {
  const nl = data.indexOf(10)
  if (nl < 0 || nl > 512 || data.subarray(0, CACHE_MAGIC.length).toString('latin1') !== CACHE_MAGIC) return undefined
  const etag = data.subarray(CACHE_MAGIC.length, nl).toString('latin1')
  // A cache file is outside input too: its ETag goes out as If-Match only if it is one.
  if (etag !== '' && !isPinnableEtag(etag)) return undefined
  return {etag, bytes: data.subarray(nl + 1)}
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
 * Reads an index (in S3, or the local FILE.s3ci) with as few requests as its format allows.
 * An index in S3 keeps its front in a local cache: a warm lookup costs no request (the member
 * GET carries If-Match of the tar's ETag, so a changed tar is noticed and the cache refreshed).
 */
export class IndexReader {
  private indexReads = 0
  private front?: IndexFront
  private fromCache = false
  private source?: RangeSource
  private tar?: RangeSource
  private tarReads = 0
  private readonly useCache: boolean

  /** `s3` may be absent for a local tar: nothing is sent then. */
  constructor(private readonly s3: S3Store | undefined, readonly ref: TarRef, useCache = true) {
    this.useCache = useCache && !isLocalTar(ref)
  }

  private get cachePath(): string {
    const ref = this.ref as S3TarRef
    const id = createHash('sha256').update(`${this.s3!.endpointLabel}\n${ref.bucket}\n${ref.indexKey}`).digest('hex').slice(0, 40)
    return join(cacheDir(), `${id}${INDEX_SUFFIX}`)
  }

  /** The index object as a range source: pinned to the ETag the cached front came from, if it did. */
  private async indexSource(etag?: string): Promise<RangeSource> {
    if (this.source) return this.source
    const ref = this.ref
    if (isLocalTar(ref)) {
      this.source = await localSource(ref.indexPath, {label: `${ref.label}${INDEX_SUFFIX}`,
        missing: () => new S3cError(`${ref.label} has no index: run s3c index ${ref.label}`, ExitCode.usage)})
    } else {
      if (!this.s3) throw new Error('IndexReader: an index in S3 needs an S3 connection')
      this.source = this.s3.source({bucket: ref.bucket, key: ref.indexKey, etag: etag || undefined})
    }
    return this.source
  }

  /** Reads sent (ranged GETs in S3) for the index and the tar, for -v and the tests. */
  get gets(): number {
    return this.indexReads + this.tarReads + (this.tar?.reads ?? 0)
  }

  private async getRange(start: number, endExclusive: number): Promise<Buffer> {
    this.indexReads++
    const src = await this.indexSource()
    try {
      // The first read asks for more than a small index holds: what there is comes back.
      return await src.read(start, endExclusive - start, {partial: true})
    } catch (error) {
      if (isLocalTar(this.ref)) {
        // The index file itself was rewritten (s3c index ran again meanwhile).
        if (error instanceof SourceChangedError) throw new S3cError(`${error.label} changed while it was being read: run the command again`, ExitCode.usage)
        throw error
      }
      const {bucket, indexKey} = this.ref
      const original = error instanceof FatalError ? error.original : error
      // A missing bucket is a 404 too, but S3 refusing the run (exit 3), not a missing index.
      if ((statusOf(original) === 404 && (original as Error).name !== 'NoSuchBucket') || (original as Error).name === 'NoSuchKey')
        throw new S3cError(`${this.ref.label} has no index (s3://${bucket}/${indexKey} not found): check the name, or index a tar with s3c index`, ExitCode.usage, 'NotFound')
      if (statusOf(original) === 416) throw new S3cError(`the index of ${this.ref.label} is empty or corrupt: rebuild it with s3c index`, ExitCode.usage)
      throw fatalToUserError(error, {bucket, endpoint: this.s3?.endpointLabel})
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
      const entry = cached && parseCacheEntry(cached)
      if (entry) {
        try {
          this.front = this.parseFront(entry.bytes)
          this.fromCache = true
          // Later reads of the index (its table, its member list) must come from the version the
          // front was cached from: another index under the same key (the bundle was rebuilt) has
          // other offsets (If-Match; on 412 the cache is dropped and the front read again).
          await this.indexSource(entry.etag)
          return this.front
        } catch (error) {
          if (!(error instanceof S3cError)) throw error
        }
      }
      if (cached) await unlink(this.cachePath).catch(() => undefined)
    }
    this.front = this.parseFront(await this.getRange(0, FIRST_READ))
    this.fromCache = false
    if (this.useCache) {
      const pinned = await this.source!.ref()
      await this.saveCache(this.front.bytes, 'etag' in pinned ? pinned.etag ?? '' : '')
    }
    return this.front
  }

  private async saveCache(bytes: Buffer, etag: string): Promise<void> {
    try {
      await writeFileSafely(cacheDir(), this.cachePath, Buffer.concat([Buffer.from(`${CACHE_MAGIC}${etag}\n`), bytes]))
    } catch {
      // a cache that cannot be written only costs requests
    }
  }

  /**
   * Runs a read that follows the front. A front from the cache whose index has been rewritten since
   * (If-Match refused) is dropped, and the read runs once more on the front read afresh.
   */
  private async afterFront<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read()
    } catch (error) {
      if (!(error instanceof SourceChangedError) || !this.fromCache) throw error
      await this.forgetFront()
      return read()
    }
  }

  /** Drops the front (and the cache of it) and the index source pinned to its version. */
  private async forgetFront(): Promise<void> {
    await unlink(this.cachePath).catch(() => undefined)
    this.front = undefined
    this.fromCache = false
    await this.source?.close()
    this.source = undefined
  }

  /** True when the front came from the local cache (a warm lookup). */
  get warm(): boolean {
    return this.fromCache
  }

  /** Forget the cached front (the tar changed): the next lookup reads the index again. */
  async invalidate(): Promise<void> {
    await this.closeTar()
    await this.forgetFront()
  }

  async header(): Promise<IndexHeader> {
    return (await this.loadFront()).header
  }

  /** The member's record, or undefined when the tar has no such member. */
  async lookup(name: string): Promise<Lookup | undefined> {
    const found = await this.afterFront(() => this.lookupOnce(name))
    // A member found is checked by the tar's If-Match when it is read; a member missing from a
    // cached front may be in the index that replaced it: the current front decides.
    if (found || !this.fromCache) return found
    await this.forgetFront()
    return this.lookupOnce(name)
  }

  private async lookupOnce(name: string): Promise<Lookup | undefined> {
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

  /**
   * The tar this index describes, pinned to the version it was indexed from: in S3, ranged GETs
   * with If-Match of the ETag it records; on disk, the file, refused (one line) when its size
   * or modification time are not the ones the index records.
   */
  async openTar(): Promise<RangeSource> {
    if (this.tar) return this.tar
    const header = await this.header()
    const ref = this.ref
    if (isLocalTar(ref)) {
      this.tar = await localSource(ref.path, {label: ref.label, expect: {size: header.tarSize, mtimeUs: header.tarMtimeUs}}).catch(error => {
        throw error instanceof SourceChangedError ? staleIndexError(ref.label, true) : error
      })
    } else {
      if (!this.s3) throw new Error('IndexReader: a tar in S3 needs an S3 connection')
      this.tar = this.s3.source({bucket: ref.bucket, key: ref.tarKey, etag: header.tarEtag || undefined, size: header.tarSize})
    }
    return this.tar
  }

  private async closeTar(): Promise<void> {
    if (!this.tar) return
    this.tarReads += this.tar.reads
    await this.tar.close()
    this.tar = undefined
  }

  /** Closes the index and the tar (local files). */
  async close(): Promise<void> {
    await this.closeTar()
    await this.source?.close()
    this.source = undefined
  }

  /** Every member, in archive order (reads the member list; the tar itself is not read). */
  async members(): Promise<IndexedMember[]> {
    return this.afterFront(() => this.membersOnce())
  }

  private async membersOnce(): Promise<IndexedMember[]> {
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
