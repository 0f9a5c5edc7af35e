/**
 * The sync state: what s3c wrote or read last time for each key of one (direction, bucket,
 * prefix, local folder), so that a re-run decides from the listing alone (docs/DESIGN-state.md).
 *
 * Each entry is a fact that stays true forever: "the object with this ETag and size and the local
 * file with this size, mtime (and inode, ctime) held the same content". A state that is old only
 * makes fewer entries apply; it can never make a skip wrong. A state that is damaged could, so a
 * state is used only whole: gzip NDJSON, one header line, the entries in strictly increasing key
 * order, one trailer line with the entry count and the SHA-256 of the entry lines. Anything else
 * (truncated, a bad line, keys out of order, another folder's state) is rejected as a whole and the
 * run falls back to today's HEAD checks.
 *
 * No S3 here: the bytes come from and go to injected functions (StateStorage).
 */
import {createHash, type Hash} from 'node:crypto'
import {once} from 'node:events'
import {createReadStream, createWriteStream} from 'node:fs'
import {mkdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGunzip, createGzip, type Gzip} from 'node:zlib'
import {compareKeys} from '../base/keys.js'

export const STATE_FORMAT = 1

export type Direction = 'upload' | 'download'

/** Whose state it is: a state is only used by the same endpoint, direction, bucket, prefix and local folder. */
export interface StateIdentity {
  /** The S3 endpoint (`stateEndpoint`): the same bucket name on two servers is two buckets. */
  endpoint: string
  direction: Direction
  bucket: string
  /** The listed prefix ('' or ending with '/'; one object's key for a single file). */
  prefix: string
  /** Absolute local folder (or file). */
  local: string
}

/** The local file as s3c saw it when the pair was in sync (stat with bigint: full precision). */
export interface LocalStat {
  size: number
  /** Nanoseconds since the epoch, decimal (src/base/times.ts). */
  mtimeNs: string
  /** Inode and change time (ns): a file replaced by rename, or rewritten with its mtime put back, shows here. */
  ino?: string
  ctimeNs?: string
}

/** A bigint stat as the sync state records a local file. */
export function localStatOf(st: {size: bigint; mtimeNs: bigint; ino: bigint; ctimeNs: bigint}): LocalStat {
  return {size: Number(st.size), mtimeNs: String(st.mtimeNs), ino: String(st.ino), ctimeNs: String(st.ctimeNs)}
}

export interface StateEntry {
  key: string
  /** The object's size and ETag (normalized: no quotes, lower case) when s3c wrote or read it. */
  size: number
  etag: string
  /** The object's Last-Modified from a listing (ms), once a listing showed it: a rewrite with the same bytes shows here. */
  lastModifiedMs?: number
  /** The object's `mtime` metadata as stored (rclone's format), when known. */
  mtime?: string
  /** SHA-256 (hex) of the content, when s3c computed or verified it (--checksum compares against it). */
  sha256?: string
  local: LocalStat
}

export interface StateHeader extends StateIdentity {
  format: typeof STATE_FORMAT
  /** ISO time the run that wrote it started: for people reading the file. */
  written?: string
}

interface Trailer {
  end: true
  entries: number
  sha256: string
}

/** A state that cannot be used: the run falls back to HEAD checks. */
export class StateRejected extends Error {
  constructor(reason: string) {
    super(`sync state not used: ${reason}`)
    this.name = 'StateRejected'
  }
}

/** An entry written out of key order: a bug in the caller, never written. */
export class StateOrderError extends Error {
  constructor(previous: string, key: string) {
    super(`sync state entries must be written in key order: ${JSON.stringify(key)} after ${JSON.stringify(previous)}`)
    this.name = 'StateOrderError'
  }
}

/** ETags as compared: listings, PUT answers and HEADs differ in quoting (and some servers in case). */
export function normalizeEtag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined
  const e = etag.trim().replace(/^W\//, '').replace(/"/g, '').toLowerCase()
  return e === '' ? undefined : e
}

/** The name of a state in its storage: a hash of its identity (no paths or prefixes in key names). */
export function stateId(id: StateIdentity): string {
  return createHash('sha256').update(JSON.stringify([STATE_FORMAT, id.endpoint, id.direction, id.bucket, id.prefix, id.local])).digest('hex')
}

/** The endpoint as a state's identity names it: the URL without a trailing slash, `aws` for AWS's own. */
export function stateEndpoint(endpoint: string | undefined): string {
  return endpoint ? endpoint.replace(/\/+$/, '') : 'aws'
}

function sameIdentity(a: StateIdentity, b: StateIdentity): boolean {
  return a.endpoint === b.endpoint && a.direction === b.direction && a.bucket === b.bucket && a.prefix === b.prefix && a.local === b.local
}

const isDecimal = (v: unknown) => typeof v === 'string' && /^-?\d+$/.test(v)
const isSize = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0

/** The entry, checked field by field (a line that parses but is not an entry is damage). */
function checkEntry(v: unknown): StateEntry {
  const e = v as StateEntry
  const l = e?.local
  const ok = typeof e === 'object' && e !== null && typeof e.key === 'string' && e.key !== '' && isSize(e.size) && typeof e.etag === 'string' && e.etag !== '' &&
    (e.lastModifiedMs === undefined || Number.isSafeInteger(e.lastModifiedMs)) && (e.mtime === undefined || typeof e.mtime === 'string') &&
    (e.sha256 === undefined || /^[0-9a-f]{64}$/.test(e.sha256)) &&
    typeof l === 'object' && l !== null && isSize(l.size) && isDecimal(l.mtimeNs) &&
    (l.ino === undefined || isDecimal(l.ino)) && (l.ctimeNs === undefined || isDecimal(l.ctimeNs))
  if (!ok) throw new StateRejected('an entry is malformed')
  return e
}

/** One entry as a line, fields in a fixed order (the trailer's hash is over these exact bytes). */
function entryLine(e: StateEntry): string {
  const l = e.local
  return JSON.stringify({key: e.key, size: e.size, etag: e.etag, lastModifiedMs: e.lastModifiedMs, mtime: e.mtime, sha256: e.sha256,
    local: {size: l.size, mtimeNs: l.mtimeNs, ino: l.ino, ctimeNs: l.ctimeNs}}) + '\n'
}

const BATCH_CHARS = 64 * 1024

/**
 * Writes a state: header, entries (strictly increasing keys, enforced), trailer. The bytes go
 * gzipped to `sink`, which consumes them as they come (e.g. a streaming upload); `write` waits
 * while the sink is behind, so memory stays at the zlib and sink buffers.
 */
export class StateWriter {
  private readonly gzip: Gzip
  private readonly hash: Hash = createHash('sha256')
  private readonly sunk: Promise<void>
  private count = 0
  private last?: string
  private failed?: unknown
  private finished = false
  /** Entry lines not yet handed to zlib: one write per ~64 KiB, not per entry (each write is a trip to libuv's thread pool). */
  private pending = ''

  constructor(header: Omit<StateHeader, 'format'>, sink: (body: Readable) => Promise<void>) {
    this.gzip = createGzip()
    // abort() may destroy the stream before the sink has attached to it (a sink that first makes
    // a folder or opens an upload): without a listener that error would be uncaught. The sink
    // still sees it: a stream that errored before it was piped reports the error when it is.
    this.gzip.on('error', () => undefined)
    this.sunk = sink(this.gzip).catch(error => {
      this.failed = error
      this.gzip.destroy()
      throw error
    })
    // Observed here; the error reaches the caller through write/finish.
    this.sunk.catch(() => undefined)
    const h: StateHeader = {format: STATE_FORMAT, endpoint: header.endpoint, direction: header.direction, bucket: header.bucket, prefix: header.prefix, local: header.local, written: header.written}
    this.gzip.write(JSON.stringify(h) + '\n')
  }

  get entries(): number {
    return this.count
  }

  async write(e: StateEntry): Promise<void> {
    if (this.finished) throw new Error('sync state writer already finished')
    if (this.failed) throw this.failed
    if (this.last !== undefined && compareKeys(this.last, e.key) >= 0) throw new StateOrderError(this.last, e.key)
    this.pending += entryLine(e)
    this.last = e.key
    this.count++
    if (this.pending.length >= BATCH_CHARS) await this.flush()
  }

  private async flush(): Promise<void> {
    const batch = this.pending
    this.pending = ''
    // The hash of the batch is the hash of its lines one after another.
    this.hash.update(batch)
    if (!this.gzip.write(batch)) await Promise.race([once(this.gzip, 'drain'), this.sunk])
  }

  /** Writes the trailer and waits until the sink has taken everything. */
  async finish(): Promise<void> {
    if (this.failed) throw this.failed
    this.finished = true
    if (this.pending) await this.flush()
    if (this.failed) throw this.failed
    const trailer: Trailer = {end: true, entries: this.count, sha256: this.hash.digest('hex')}
    this.gzip.end(JSON.stringify(trailer) + '\n')
    await this.sunk
  }

  /** Resolves once the sink is done, whether it stored the state or gave up (after `abort`: its cleanup is over). */
  async settled(): Promise<void> {
    await this.sunk.catch(() => undefined)
  }

  /** Gives up: the sink sees an error, so it must not store what it got (a truncated state). */
  abort(reason: unknown = new Error('sync state writing aborted')): void {
    this.finished = true
    this.gzip.destroy(reason instanceof Error ? reason : new Error(String(reason)))
  }
}

/** What a state may hold, uncompressed: its longest line, and its whole. */
export interface StateLimits {
  lineBytes: number
  totalBytes: number
}

/**
 * A state is outside input (anyone who can write to its bucket may change it): a line is an entry
 * (a key of at most 1,024 bytes and a few short fields) or the header (a folder's path), far
 * below 64 KiB; 16 GiB is some 80 million entries. Past either, the state is rejected as damaged
 * instead of taking the run's memory (one long line) or its time (a gzip bomb).
 */
export const STATE_LIMITS: StateLimits = {lineBytes: 64 * 1024, totalBytes: 16 * 1024 ** 3}

/** The lines of a byte stream (UTF-8, split at \n), never holding more than one line of `limits.lineBytes`. */
async function* boundedLines(source: AsyncIterable<Buffer>, limits: StateLimits): AsyncGenerator<string> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let total = 0
  const tooLong = () => new StateRejected(`a line is longer than ${limits.lineBytes} bytes`)
  for await (const chunk of source) {
    total += chunk.length
    if (total > limits.totalBytes) throw new StateRejected(`it holds more than ${limits.totalBytes} bytes uncompressed`)
    let start = 0
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl)
      if (pendingBytes + piece.length > limits.lineBytes) throw tooLong()
      yield (pendingBytes ? Buffer.concat([...pending, piece]) : piece).toString('utf8')
      pending = []
      pendingBytes = 0
      start = nl + 1
    }
    if (start < chunk.length) {
      if (pendingBytes + chunk.length - start > limits.lineBytes) throw tooLong()
      pending.push(chunk.subarray(start))
      pendingBytes += chunk.length - start
    }
  }
  if (pendingBytes) yield Buffer.concat(pending).toString('utf8')
}

/**
 * Reads a state from its gzipped bytes: the header first (checked against `expect`), then the
 * entries one by one, and throws StateRejected at the first sign of damage, including at the
 * end (missing or wrong trailer). Entries come out before the trailer is checked: use
 * `verifyState` first (loadState does) when entries are acted on.
 */
export async function* readState(body: Readable, expect: StateIdentity, limits: StateLimits = STATE_LIMITS): AsyncGenerator<StateEntry> {
  const gunzip = createGunzip()
  const source = body.pipe(gunzip)
  body.on('error', error => gunzip.destroy(error))
  const lines = boundedLines(source, limits)
  const hash = createHash('sha256')
  let header: StateHeader | undefined
  let trailer: Trailer | undefined
  let count = 0
  let last: string | undefined
  try {
    for await (const line of lines) {
      if (trailer) throw new StateRejected('lines after the trailer')
      let v: unknown
      try {
        v = JSON.parse(line)
      } catch {
        throw new StateRejected(header ? 'a line is not JSON' : 'not a sync state')
      }
      if (!header) {
        const h = v as StateHeader
        if (h?.format !== STATE_FORMAT) throw new StateRejected(`format ${JSON.stringify(h?.format)} is not ${STATE_FORMAT}`)
        if (!sameIdentity(h, expect)) throw new StateRejected('it belongs to another endpoint, direction, bucket, prefix or local folder')
        header = h
        continue
      }
      if ((v as Trailer)?.end === true) {
        trailer = v as Trailer
        continue
      }
      const e = checkEntry(v)
      if (last !== undefined && compareKeys(last, e.key) >= 0) throw new StateRejected('keys out of order')
      // The hash is over the line as written; a line written otherwise is not ours.
      const canonical = entryLine(e)
      if (canonical !== line + '\n') throw new StateRejected('an entry is not in canonical form')
      hash.update(canonical)
      last = e.key
      count++
      yield e
    }
  } catch (error) {
    if (error instanceof StateRejected) throw error
    throw new StateRejected(`cannot read it (${(error as Error).message})`)
  } finally {
    await lines.return(undefined)
    source.destroy()
  }
  if (!header) throw new StateRejected('it is empty')
  if (!trailer) throw new StateRejected('it is truncated (no trailer)')
  if (trailer.entries !== count) throw new StateRejected(`the trailer counts ${trailer.entries} entries, the file holds ${count}`)
  if (trailer.sha256 !== hash.digest('hex')) throw new StateRejected('its checksum does not match')
}

/** Reads a whole state without keeping it: resolves with the entry count, or throws StateRejected. */
export async function verifyState(body: Readable, expect: StateIdentity, limits: StateLimits = STATE_LIMITS): Promise<number> {
  let n = 0
  for await (const _ of readState(body, expect, limits)) n++
  return n
}

/**
 * Where states are kept, by name. `get` gives the bytes (undefined when there is none); `put`
 * stores a new one, replacing the old only once complete and only if `body` ends without error
 * (an S3 PUT or CompleteMultipartUpload is such an atomic replace; a failed one stores nothing).
 * `about`: the state's header, for a storage that labels what it keeps (local-storage.ts).
 */
export interface StateStorage {
  get(name: string): Promise<Readable | undefined>
  put(name: string, body: Readable, about?: StateHeader): Promise<void>
}

/** The name a state has in its storage (see docs/DESIGN-state.md, "Where"). */
export function stateName(id: StateIdentity): string {
  return `${stateId(id)}.ndjson.gz`
}

/** Whether a name is a state's (`stateName`'s shape). */
export function isStateName(name: string): boolean {
  return /^[0-9a-f]{64}\.ndjson\.gz$/.test(name)
}

/** A state that passed verification, read again as a stream as often as needed. */
export interface LoadedState {
  entries: number
  /** The entries in key order (each call reads the verified copy again). */
  read(): AsyncGenerator<StateEntry>
  /** Removes the verified copy. */
  dispose(): Promise<void>
}

/**
 * Fetches a state once into a local temporary file, verifying it on the way (header, order,
 * count, checksum), so that a damaged state is rejected before any entry is acted on and the
 * merge then streams it from disk with bounded memory. Undefined when there is none, or when it
 * is rejected (`onRejected` is told why: the run falls back to HEAD checks).
 */
export async function loadState(storage: StateStorage, id: StateIdentity, tmpDir: string,
  onRejected?: (error: StateRejected) => void): Promise<LoadedState | undefined> {
  const body = await storage.get(stateName(id))
  if (!body) return undefined
  await mkdir(tmpDir, {recursive: true})
  const copy = join(tmpDir, `s3c-state-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.ndjson.gz`)
  const dispose = () => rm(copy, {force: true})
  try {
    await pipeline(body, createWriteStream(copy))
    const entries = await verifyState(createReadStream(copy), id)
    return {entries, read: () => readState(createReadStream(copy), id), dispose}
  } catch (error) {
    await dispose()
    if (error instanceof StateRejected) {
      onRejected?.(error)
      return undefined
    }
    throw error
  }
}
