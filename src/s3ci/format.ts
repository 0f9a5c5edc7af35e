import {ExitCode, S3cError} from '../base/errors.js'
import {createHash} from 'node:crypto'
import {gunzipSync, gzipSync} from 'node:zlib'
import {BLOCK} from '../tar/block.js'
import type {IndexedMember, MemberType} from '../tar/header.js'

/*
 * The s3c index ("s3ci", versions 1 and 2), specified in docs/FORMAT.md. One object next to the tar:
 *
 *   header (128 B) | collision names | lookup table (20 B per member, sorted by hash) | member list (gzip)
 *
 * A lookup needs the header and the table, which sit at the front: one ranged GET of the
 * first 2 MiB holds both for up to ~100,000 members; beyond that a second GET reads the slice
 * of the table where the hash must be (hashes are uniform, so its position is predictable).
 */

export const INDEX_MAGIC = 'S3CINDEX'
/**
 * The version an index without sparse members gets (every s3c reads it). Indexes with sparse
 * members are version 2, so an s3c that does not know sparse members refuses them instead of
 * writing their raw data.
 */
export const INDEX_VERSION = 1
export const INDEX_VERSION_SPARSE = 2
export const HEADER_SIZE = 128
export const RECORD_SIZE = 20
/** What a cold lookup reads first. */
export const FIRST_READ = 2 * 1024 * 1024
export const INDEX_SUFFIX = '.s3ci'
/** The Content-Type an index is stored with. */
export const INDEX_CONTENT_TYPE = 'application/vnd.s3c.index'

const TYPE_CODES: MemberType[] = ['file', 'dir', 'symlink', 'hardlink', 'other']
const FLAG_CRC = 0x08
const FLAG_BIG = 0x10
const FLAG_SPARSE = 0x20
const MAX40 = 2 ** 40 - 1

export type {IndexedMember} from '../tar/header.js'

/** Bytes of the member's data stored in the tar (for a sparse member, its data runs, not its real size). */
export function storedSize(m: {size: number; sparse?: [number, number][]}): number {
  return m.sparse ? m.sparse.reduce((n, [, length]) => n + length, 0) : m.size
}

/** The 16-byte lookup part of a record, plus its checksum. */
export interface LookupRecord {
  hash: number
  type: MemberType
  dataOffset: number
  /** Bytes stored in the tar; undefined when ≥ 1 TiB: read it from the member list. */
  size?: number
  crc?: number
  /** A sparse member: read its map (and real size) from the member list. */
  sparse?: true
}

export interface IndexHeader {
  count: number
  tarSize: number
  tarEtag: string
  /** A local tar's modification time in µs when it was indexed (with its size, what tells its versions apart); undefined when not recorded. */
  tarMtimeUs?: number
  collisionsOffset: number
  collisionsLength: number
  tableOffset: number
  listOffset: number
  listLength: number
}

/** Names are looked up without a leading "./" and without a trailing "/". */
export function normalizeName(name: string): string {
  let n = name
  while (n.startsWith('./')) n = n.slice(2)
  while (n.endsWith('/') && n.length > 1) n = n.slice(0, -1)
  return n
}

/** First 40 bits of SHA-256 of the normalized UTF-8 name. */
export function nameHash(name: string): number {
  const d = createHash('sha256').update(normalizeName(name), 'utf8').digest()
  return d.readUIntBE(0, 5)
}

export class IndexFormatError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'IndexFormatError'
  }
}

/** Serializes an index for a tar of `tarSize` bytes whose ETag is `tarEtag` (a local tar: '' and its mtime in µs). */
export function buildIndex(members: IndexedMember[], tarSize: number, tarEtag: string, tarMtimeUs?: number): Buffer {
  const rows = members.map((m, i) => ({i, hash: nameHash(m.name), m}))
  rows.sort((a, b) => a.hash - b.hash || a.i - b.i)

  const table = Buffer.alloc(rows.length * RECORD_SIZE)
  const collisions: Buffer[] = []
  let collisionCount = 0
  rows.forEach((row, pos) => {
    const {m} = row
    if (m.dataOffset % BLOCK !== 0) throw new IndexFormatError(`member ${m.name} data offset ${m.dataOffset} is not a multiple of 512`)
    const at = pos * RECORD_SIZE
    const stored = storedSize(m)
    const big = stored > MAX40
    table.writeUIntBE(row.hash, at, 5)
    table[at + 5] = TYPE_CODES.indexOf(m.type) | (m.crc !== undefined ? FLAG_CRC : 0) | (big ? FLAG_BIG : 0) | (m.sparse ? FLAG_SPARSE : 0)
    table.writeUIntBE(m.dataOffset / BLOCK, at + 6, 5)
    table.writeUIntBE(big ? MAX40 : stored, at + 11, 5)
    table.writeUInt32BE((m.crc ?? 0) >>> 0, at + 16)
    const collides = (pos > 0 && rows[pos - 1].hash === row.hash) || (pos + 1 < rows.length && rows[pos + 1].hash === row.hash)
    if (collides) {
      const name = Buffer.from(normalizeName(m.name), 'utf8')
      const entry = Buffer.alloc(6 + name.length)
      entry.writeUInt32BE(pos, 0)
      entry.writeUInt16BE(name.length, 4)
      name.copy(entry, 6)
      collisions.push(entry)
      collisionCount++
    }
  })
  const collisionHead = Buffer.alloc(4)
  collisionHead.writeUInt32BE(collisionCount)
  const collisionBlock = Buffer.concat([collisionHead, ...collisions])

  const list = gzipSync(Buffer.from(members.map(m => JSON.stringify(listRow(m))).join('\n'), 'utf8'))

  const header = Buffer.alloc(HEADER_SIZE)
  const etag = Buffer.from(tarEtag, 'utf8')
  if (etag.length > 64) throw new IndexFormatError(`ETag too long: ${tarEtag}`)
  const tableOffset = HEADER_SIZE + collisionBlock.length
  const listOffset = tableOffset + table.length
  header.write(INDEX_MAGIC, 0, 'latin1')
  header.writeUInt16BE(members.some(m => m.sparse) ? INDEX_VERSION_SPARSE : INDEX_VERSION, 8)
  header.writeUInt16BE(0, 10)
  header.writeUInt32BE(members.length, 12)
  header.writeBigUInt64BE(BigInt(tarSize), 16)
  header.writeUInt32BE(HEADER_SIZE, 24)
  header.writeUInt32BE(collisionBlock.length, 28)
  header.writeBigUInt64BE(BigInt(tableOffset), 32)
  header.writeBigUInt64BE(BigInt(listOffset), 40)
  header.writeBigUInt64BE(BigInt(list.length), 48)
  header[56] = etag.length
  etag.copy(header, 57)
  if (tarMtimeUs !== undefined && tarMtimeUs > 0 && tarMtimeUs < 2 ** 53) {
    // 7 bytes (56 bits) at 121: µs since the epoch reach the year 4253.
    const t = Buffer.alloc(8)
    t.writeBigUInt64BE(BigInt(tarMtimeUs))
    t.copy(header, 121, 1)
  }
  return Buffer.concat([header, collisionBlock, table, list])
}

/** One member in the list: short keys keep the gzip small. */
function listRow(m: IndexedMember): Record<string, unknown> {
  const row: Record<string, unknown> = {n: m.name, t: m.type, s: m.size, o: m.dataOffset, m: m.mtime, p: m.mode}
  if (m.linkname !== undefined) row.l = m.linkname
  if (m.crc !== undefined) row.c = m.crc
  if (m.sparse) row.x = m.sparse.flat()
  if (m.tarType !== undefined) row.k = m.tarType
  return row
}

export function parseHeader(buf: Buffer): IndexHeader {
  if (buf.length < HEADER_SIZE || buf.toString('latin1', 0, 8) !== INDEX_MAGIC) throw new IndexFormatError('not an s3c index (bad magic)')
  const version = buf.readUInt16BE(8)
  if (version !== INDEX_VERSION && version !== INDEX_VERSION_SPARSE)
    throw new IndexFormatError(`index version ${version} is not supported by this s3c (knows ${INDEX_VERSION} and ${INDEX_VERSION_SPARSE}): update s3c`)
  const h: IndexHeader = {
    count: buf.readUInt32BE(12),
    tarSize: Number(buf.readBigUInt64BE(16)),
    collisionsOffset: buf.readUInt32BE(24),
    collisionsLength: buf.readUInt32BE(28),
    tableOffset: Number(buf.readBigUInt64BE(32)),
    listOffset: Number(buf.readBigUInt64BE(40)),
    listLength: Number(buf.readBigUInt64BE(48)),
    tarEtag: buf.toString('utf8', 57, 57 + buf[56]),
  }
  const t = Buffer.alloc(8)
  buf.copy(t, 1, 121, 128)
  const mtimeUs = Number(t.readBigUInt64BE())
  if (mtimeUs > 0) h.tarMtimeUs = mtimeUs
  if (h.tableOffset !== h.collisionsOffset + h.collisionsLength || h.listOffset !== h.tableOffset + h.count * RECORD_SIZE)
    throw new IndexFormatError('corrupt index: inconsistent section offsets')
  return h
}

export function readRecord(table: Buffer, at: number): LookupRecord {
  const flags = table[at + 5]
  const code = flags & 0x07
  if (code >= TYPE_CODES.length) throw new IndexFormatError('corrupt index: unknown member type')
  const record: LookupRecord = {
    hash: table.readUIntBE(at, 5),
    type: TYPE_CODES[code],
    dataOffset: table.readUIntBE(at + 6, 5) * BLOCK,
    size: flags & FLAG_BIG ? undefined : table.readUIntBE(at + 11, 5),
    crc: flags & FLAG_CRC ? table.readUInt32BE(at + 16) : undefined,
  }
  if (flags & FLAG_SPARSE) record.sparse = true
  return record
}

/** Table positions of colliding hashes, with the names that tell them apart. */
export function parseCollisions(block: Buffer): Map<number, string> {
  const map = new Map<number, string>()
  if (block.length < 4) throw new IndexFormatError('corrupt index: collision section truncated')
  const count = block.readUInt32BE(0)
  let at = 4
  for (let i = 0; i < count; i++) {
    if (at + 6 > block.length) throw new IndexFormatError('corrupt index: collision section truncated')
    const pos = block.readUInt32BE(at)
    const len = block.readUInt16BE(at + 4)
    map.set(pos, block.toString('utf8', at + 6, at + 6 + len))
    at += 6 + len
  }
  return map
}

/**
 * Finds `name` in a slice of the table that starts at table position `firstPos`. Returns the
 * record, undefined when the name is certainly absent, or 'outside' when the slice cannot tell.
 * A name stored more than once is the last of them (tar's rule: a later member replaces an
 * earlier one); equal hashes are in archive order, so that is the last match in the run.
 */
export function findInTable(slice: Buffer, firstPos: number, totalCount: number, name: string, collisions: Map<number, string>): LookupRecord | undefined | 'outside' {
  const hash = nameHash(name)
  const n = Math.floor(slice.length / RECORD_SIZE)
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (slice.readUIntBE(mid * RECORD_SIZE, 5) < hash) lo = mid + 1
    else hi = mid
  }
  // lo: first record with hash ≥ wanted; the slice must show where the run of equal hashes starts and ends.
  const wanted = normalizeName(name)
  let i = lo
  let found: number | undefined
  for (; i < n && slice.readUIntBE(i * RECORD_SIZE, 5) === hash; i++) {
    const pos = firstPos + i
    const other = collisions.get(pos)
    if (other === undefined || other === wanted) found = i
  }
  // The run may go on past the slice: a later member of the same name could be there.
  if (i === n && firstPos + n < totalCount) return 'outside'
  if (found !== undefined) return readRecord(slice, found * RECORD_SIZE)
  if (lo === 0 && firstPos > 0) return 'outside'
  return undefined
}

/** Where in the table a hash probably is: [first, end) positions to read in a second GET. */
export function tableWindow(hash: number, count: number): {first: number; end: number} {
  const expected = Math.floor((hash / 2 ** 40) * count)
  // Positions of uniform hashes deviate from the expectation by about sqrt(n); 8 sigma, plus slack.
  const spread = Math.ceil(8 * Math.sqrt(count)) + 64
  return {first: Math.max(0, expected - spread), end: Math.min(count, expected + spread)}
}

export function parseList(gz: Buffer): IndexedMember[] {
  let text: string
  try {
    text = gunzipSync(gz).toString('utf8')
  } catch {
    throw new IndexFormatError('corrupt index: member list does not decompress')
  }
  if (text === '') return []
  return text.split('\n').map(line => {
    const r = JSON.parse(line) as {n: string; t: MemberType; s: number; o: number; m: number; p: number; l?: string; c?: number; x?: number[]; k?: string}
    const m: IndexedMember = {name: r.n, type: r.t, size: r.s, dataOffset: r.o, mtime: r.m, mode: r.p, linkname: r.l, crc: r.c}
    if (r.x) {
      if (r.x.length % 2 !== 0) throw new IndexFormatError(`corrupt index: odd sparse map for ${r.n}`)
      m.sparse = []
      for (let i = 0; i < r.x.length; i += 2) m.sparse.push([r.x[i], r.x[i + 1]])
    }
    if (r.k !== undefined) m.tarType = r.k
    return m
  })
}

/** The line for a tar that is not the one its index describes. */
export function staleIndexError(label: string, local: boolean): S3cError {
  return local
    ? new S3cError(`${label} changed after it was indexed: run s3c index ${label} again`, ExitCode.usage)
    : new S3cError(`${label} changed after it was indexed: rebuild its index with s3c index`, ExitCode.fatal)
}
