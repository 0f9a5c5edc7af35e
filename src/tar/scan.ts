import {Header, Pax, type HeaderData} from 'tar'
import {ExitCode, S3cError} from '../base/errors.js'
import type {RangeSource} from '../base/storage.js'
import {crc32} from './crc.js'
import type {IndexedMember} from './header.js'
import {BLOCK, padded, type MemberType} from './header.js'

/** Members at least this large are hopped over (their data is not read); smaller ones are streamed. */
export const HOP_THRESHOLD = 256 * 1024
const STREAM_WINDOW = 1024 * 1024

/**
 * Reads a tar through windows: large windows while members are small (streaming is cheaper
 * than a request per header), windows of exactly the expected header size while they are large.
 */
class WindowReader {
  private buf: Buffer = Buffer.alloc(0)
  private start = 0
  constructor(private readonly src: RangeSource, private readonly size: number) {}

  has(offset: number, length: number): boolean {
    return offset >= this.start && offset + length <= this.start + this.buf.length
  }

  async get(offset: number, length: number, fetch: number): Promise<Buffer> {
    if (!this.has(offset, length)) {
      const want = Math.min(Math.max(length, fetch), this.size - offset)
      this.buf = want > 0 ? await this.src.read(offset, want) : Buffer.alloc(0)
      this.start = offset
    }
    const from = offset - this.start
    return this.buf.subarray(from, Math.min(from + length, this.buf.length))
  }
}

const TYPE_OF: Record<string, MemberType> = {
  File: 'file', OldFile: 'file', ContiguousFile: 'file', SparseFile: 'file', Directory: 'dir', GNUDumpDir: 'dir', SymbolicLink: 'symlink', Link: 'hardlink',
}

function cString(buf: Buffer): string {
  const nul = buf.indexOf(0)
  return buf.toString('utf8', 0, nul === -1 ? buf.length : nul)
}

/**
 * A numeric header field, strictly: octal digits (leading spaces, then a space or NUL; what
 * follows the first NUL is ignored), or base-256 when the first byte has its high bit set.
 * Undefined when it holds anything else (node-tar reads "zz9" as 0), null when it is empty.
 */
export function numericField(f: Buffer): number | null | undefined {
  if (f[0] & 0x80) {
    if (f[0] !== 0x80) return undefined // 0xff: negative
    let n = 0
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i]
    return Number.isSafeInteger(n) ? n : undefined
  }
  const nul = f.indexOf(0)
  const m = /^ *([0-7]*) *$/.exec(f.toString('latin1', 0, nul === -1 ? f.length : nul))
  if (!m) return undefined
  return m[1] === '' ? null : parseInt(m[1], 8)
}

/** What the first bytes of a compressed file look like, for "not a tar archive (gzip-compressed?)". */
const COMPRESSED: [string, number[]][] = [
  ['gzip', [0x1f, 0x8b]], ['bzip2', [0x42, 0x5a, 0x68]], ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]], ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['lz4', [0x04, 0x22, 0x4d, 0x18]], ['compress (.Z)', [0x1f, 0x9d]], ['lzip', [0x4c, 0x5a, 0x49, 0x50]], ['zip', [0x50, 0x4b, 0x03, 0x04]],
]

function compressionOf(head: Buffer): string | undefined {
  return COMPRESSED.find(([, magic]) => magic.every((b, i) => head[i] === b))?.[0]
}

/** The GNU.sparse.* records of a PAX header, which node-tar does not read (and 0.0 repeats its keys). */
interface PaxSparse {
  /** Real size (GNU.sparse.size in 0.x, GNU.sparse.realsize in 1.0). */
  size?: number
  name?: string
  major?: number
  /** 0.0: repeated GNU.sparse.offset / GNU.sparse.numbytes; 0.1: GNU.sparse.map. */
  numbers: number[]
  seen: boolean
}

/** Parses PAX records ("<length> <key>=<value>\n") for the GNU.sparse keys only. */
function paxSparse(data: Buffer, into: PaxSparse, bad: (why: string) => Error): void {
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    if (space === -1) break
    const len = Number(data.toString('latin1', at, space))
    if (!Number.isInteger(len) || len <= 0 || at + len > data.length) break // node-tar reads the rest; a bad record ends ours
    const record = data.toString('utf8', space + 1, at + len - 1)
    at += len
    const eq = record.indexOf('=')
    const key = record.slice(0, eq)
    if (!key.startsWith('GNU.sparse.')) continue
    const value = record.slice(eq + 1)
    const num = () => {
      if (!/^\d+$/.test(value)) throw bad(`${key}=${value} is not a number`)
      return Number(value)
    }
    into.seen = true
    switch (key) {
      case 'GNU.sparse.size':
      case 'GNU.sparse.realsize':
        into.size = num()
        break
      case 'GNU.sparse.name':
        into.name = value
        break
      case 'GNU.sparse.major':
        into.major = num()
        break
      case 'GNU.sparse.offset':
      case 'GNU.sparse.numbytes':
        into.numbers.push(num())
        break
      case 'GNU.sparse.map':
        for (const v of value === '' ? [] : value.split(',')) {
          if (!/^\d+$/.test(v)) throw bad(`GNU.sparse.map holds "${v}"`)
          into.numbers.push(Number(v))
        }
        break
    }
  }
}

const pairs = (numbers: number[]): [number, number][] => {
  const out: [number, number][] = []
  for (let i = 0; i + 1 < numbers.length; i += 2) out.push([numbers[i], numbers[i + 1]])
  return out
}

/** Data runs must be in order, not overlap, lie within the real size and add up to what the tar stores. */
function checkRuns(runs: [number, number][], realSize: number, stored: number): string | undefined {
  let end = 0
  let sum = 0
  for (const [offset, length] of runs) {
    if (offset < end) return `data runs overlap or are out of order at ${offset}`
    end = offset + length
    sum += length
    if (end > realSize) return `a data run ends at ${end}, beyond the real size ${realSize}`
  }
  if (sum !== stored) return `the data runs hold ${sum} bytes but the tar stores ${stored}`
  return undefined
}

/**
 * Lists the members of any uncompressed tar (ustar, GNU long names, PAX, as written by GNU
 * tar, bsdtar and others) by walking its headers, reading member data only where streaming
 * past it is cheaper than a new request; CRC-32s are kept for the members that were read.
 */
export async function scanTar(src: RangeSource, maxMembers = Infinity): Promise<IndexedMember[]> {
  const {size: tarSize} = await src.stat()
  const reader = new WindowReader(src, tarSize)
  const members: IndexedMember[] = []
  let off = 0
  let streaming = false
  let emptyRun = 0
  let predicted = BLOCK
  let ex: HeaderData = {}
  let gex: HeaderData = {}
  let longPath: string | undefined
  let longLink: string | undefined
  let memberStart = 0
  const need = async (offset: number, length: number, fetch: number): Promise<Buffer> => {
    const b = await reader.get(offset, length, fetch)
    if (b.length < length) throw new S3cError(`${src.label} is truncated: it ends inside the member at offset ${memberStart}`, ExitCode.usage)
    return b
  }
  let sparseEx: PaxSparse = {numbers: [], seen: false}
  const corrupt = (why: string) => new S3cError(`${src.label} is corrupt: ${why}`, ExitCode.usage)
  if (tarSize > 0) {
    // A compressed or short file is named for what it is, not reported as a truncated tar.
    const head = await reader.get(0, Math.min(BLOCK, tarSize), BLOCK)
    const compression = compressionOf(head)
    if (compression) throw new S3cError(`${src.label} is not a tar archive (${compression}-compressed? s3c reads uncompressed tars: decompress it first)`, ExitCode.usage)
    if (tarSize < BLOCK) throw new S3cError(`${src.label} is not a tar archive (${tarSize} bytes, less than one tar header)`, ExitCode.usage)
  }
  while (true) {
    if (off >= tarSize) break // no end-of-archive blocks: tolerated, as GNU tar does
    if (off + BLOCK > tarSize) throw new S3cError(`${src.label} is truncated: ${tarSize - off} stray bytes at offset ${off}`, ExitCode.usage)
    const block = await need(off, BLOCK, streaming ? STREAM_WINDOW : predicted - (off - memberStart))
    if (block.every(b => b === 0)) break
    let h: Header | undefined
    try {
      // A GNU long name goes in like a PAX path: node-tar takes a regular file whose header name
      // ends in "/" for a folder of size 0, and a long name cut at 100 bytes may end there.
      const local = longPath === undefined && longLink === undefined ? ex : {...(longPath === undefined ? {} : {path: longPath}), ...(longLink === undefined ? {} : {linkpath: longLink}), ...ex}
      h = new Header(block, 0, local, gex)
    } catch {
      h = undefined // node-tar throws on malformed numeric fields
    }
    if (!h?.cksumValid) {
      throw new S3cError(off === 0 ? `${src.label} is not a tar archive (no valid tar header at its start)` :
        `${src.label} is corrupt: bad tar header checksum at offset ${off}`, ExitCode.usage)
    }
    const type = h.type as string
    // node-tar takes a size field it cannot read as 0, which would misplace every later header.
    if (ex.size === undefined && gex.size === undefined && numericField(block.subarray(124, 136)) === undefined)
      throw corrupt(`the size field of the header at offset ${off} is not a number ("${block.toString('latin1', 124, 136).replace(/[^\x20-\x7e]/g, '.')}")`)
    const size = h.size ?? 0
    let dataStart = off + BLOCK
    let next = dataStart + padded(size)
    if (type === 'ExtendedHeader' || type === 'GlobalExtendedHeader' || type === 'NextFileHasLongPath' || type === 'NextFileHasLongLinkpath') {
      const data = await need(dataStart, size, streaming ? STREAM_WINDOW : size + BLOCK)
      if (type === 'ExtendedHeader') {
        ex = Pax.parse(data.toString('utf8'), ex, false)
        paxSparse(data, sparseEx, why => corrupt(`bad sparse record in the PAX header at offset ${off}: ${why}`))
      } else if (type === 'GlobalExtendedHeader') gex = Pax.parse(data.toString('utf8'), gex, true)
      else if (type === 'NextFileHasLongPath') longPath = cString(data)
      else longLink = cString(data)
      off = next
      continue
    }
    // The PAX path wins (GNU.sparse.name over it: sparse formats 0.1 and 1.0 put a made-up
    // GNUSparseFile.N/ name in the header); node-tar would also prepend the ustar prefix to it.
    const name = sparseEx.name ?? ex.path ?? gex.path ?? longPath ?? h.path ?? ''
    const memberType = TYPE_OF[type] ?? 'other'
    // Sparse members: node-tar does not implement sparse files (it skips 'S' entries and reads
    // PAX sparse members as plain files), so their maps are read here, per GNU tar's manual
    // ("Sparse Formats"): the old GNU header map, and PAX 0.0, 0.1 and 1.0.
    let runs: [number, number][] | undefined
    let realSize = size
    let stored = size
    if (type === 'SparseFile') {
      const r = await gnuSparseMap(block, dataStart)
      runs = r.runs
      realSize = r.realSize ?? runs.reduce((n, [o, l]) => Math.max(n, o + l), 0)
      // Extension blocks sit between the header and the data.
      dataStart = r.dataStart
      next = dataStart + padded(size)
    } else if (memberType === 'file' && sparseEx.seen) {
      if (sparseEx.major === 1) {
        const r = await pax10SparseMap(dataStart, size)
        runs = r.runs
        dataStart += r.mapBytes
        stored = size - r.mapBytes
      } else {
        if (sparseEx.numbers.length % 2 !== 0) throw corrupt(`member ${name} has an odd number of sparse map values`)
        runs = pairs(sparseEx.numbers)
      }
      if (sparseEx.size === undefined) throw corrupt(`sparse member ${name} has no real size (GNU.sparse.size / GNU.sparse.realsize)`)
      realSize = sparseEx.size
    }
    if (runs) {
      const why = checkRuns(runs, realSize, stored)
      if (why) throw corrupt(`bad sparse map for member ${name}: ${why}`)
    }
    const member: IndexedMember = {
      name, type: memberType, size: memberType === 'file' ? realSize : 0, mode: h.mode ?? 0o644,
      mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000), dataOffset: dataStart,
    }
    if (runs) member.sparse = runs
    if (memberType === 'other') member.tarType = type === 'Unsupported' ? `type '${block.toString('latin1', 156, 157)}'` : type
    const linkname = ex.linkpath ?? longLink ?? h.linkpath
    if ((memberType === 'symlink' || memberType === 'hardlink') && linkname) member.linkname = linkname
    if (memberType === 'file') {
      if (stored === 0) member.crc = 0
      else if (stored < HOP_THRESHOLD || reader.has(dataStart, stored)) member.crc = crc32(await need(dataStart, stored, STREAM_WINDOW)) >>> 0
      else if (dataStart + stored > tarSize) throw new S3cError(`${src.label} is truncated: member ${name} needs ${stored} bytes at offset ${dataStart}`, ExitCode.usage)
    }
    members.push(member)
    if (members.length >= maxMembers) break
    predicted = dataStart - memberStart
    // Data sizes pick the mode; runs of empty members (folders, links) also favour streaming.
    emptyRun = size === 0 ? emptyRun + 1 : 0
    if (size > 0) streaming = size < HOP_THRESHOLD
    else if (emptyRun >= 8) streaming = true
    off = next
    memberStart = off
    ex = {}
    sparseEx = {numbers: [], seen: false}
    longPath = undefined
    longLink = undefined
  }
  return members

  /**
   * The old GNU sparse header ('S'): four [offset, numbytes] entries at byte 386, "is
   * extended" at 482, the real size at 483, then extension blocks of 21 entries (flag at 504).
   * The data runs follow the last extension block.
   */
  async function gnuSparseMap(block: Buffer, dataStart: number): Promise<{runs: [number, number][]; realSize?: number; dataStart: number}> {
    const runs: [number, number][] = []
    const entries = (b: Buffer, at: number, count: number) => {
      for (let i = 0; i < count; i++) {
        const o = numericField(b.subarray(at + i * 24, at + i * 24 + 12))
        const n = numericField(b.subarray(at + i * 24 + 12, at + i * 24 + 24))
        if (o === null && n === null) return
        if (o === undefined || n === undefined || o === null || n === null) throw corrupt(`bad sparse map entry in the header at offset ${off}`)
        runs.push([o, n])
      }
    }
    entries(block, 386, 4)
    const real = numericField(block.subarray(483, 495))
    let extended = block[482] !== 0
    let at = dataStart
    while (extended) {
      const ext = await need(at, BLOCK, streaming ? STREAM_WINDOW : BLOCK * 2)
      entries(ext, 0, 21)
      extended = ext[504] !== 0
      at += BLOCK
    }
    return {runs, realSize: typeof real === 'number' ? real : undefined, dataStart: at}
  }

  /** PAX sparse 1.0: the map at the start of the data, decimal numbers one a line, padded to a block. */
  async function pax10SparseMap(dataStart: number, size: number): Promise<{runs: [number, number][]; mapBytes: number}> {
    const numbers: number[] = []
    let count: number | undefined
    let text = ''
    let at = 0
    while (count === undefined || numbers.length < 2 * count) {
      if (at >= size) throw corrupt(`the sparse map of the member at offset ${off} runs past its data`)
      text += (await need(dataStart + at, BLOCK, streaming ? STREAM_WINDOW : BLOCK * 2)).toString('latin1')
      at += BLOCK
      const lines = text.split('\n')
      text = lines.pop()! // an unfinished line waits for the next block
      for (const line of lines) {
        if (!/^\d+$/.test(line)) throw corrupt(`the sparse map of the member at offset ${off} holds "${line.slice(0, 20)}"`)
        if (count === undefined) count = Number(line)
        else if (numbers.length < 2 * count) numbers.push(Number(line))
      }
    }
    return {runs: pairs(numbers), mapBytes: at}
  }
}
