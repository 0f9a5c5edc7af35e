import {open} from 'node:fs/promises'
import {Header, Pax, type HeaderData} from 'tar'
import {ExitCode, S3cError, statusOf} from '../core/errors.js'
import {withRetry, type RetryPolicy} from '../core/retry.js'
import {fatalToUserError, preflight} from '../core/transfer.js'
import type {S3Handle} from '../s3/client.js'
import {crc32} from './crc.js'
import type {IndexedMember} from './index-format.js'
import {BLOCK, padded, type MemberType} from './layout.js'

/** Random access to a tar's bytes, counting what it costs. */
export interface ByteSource {
  size: number
  etag: string
  label: string
  read(offset: number, length: number): Promise<Buffer>
  reads: number
  bytesRead: number
  close(): Promise<void>
}

export async function localSource(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r').catch(error => {
    throw new S3cError(`cannot open "${path}" (${(error as NodeJS.ErrnoException).code}): give an existing .tar file`, ExitCode.usage)
  })
  const st = await fh.stat()
  if (!st.isFile()) {
    await fh.close()
    throw new S3cError(`"${path}" is not a file: give a .tar file`, ExitCode.usage)
  }
  const src: ByteSource = {
    size: st.size, etag: '', label: path, reads: 0, bytesRead: 0,
    async read(offset, length) {
      const buf = Buffer.alloc(length)
      const {bytesRead} = await fh.read(buf, 0, length, offset)
      src.reads++
      src.bytesRead += bytesRead
      return buf.subarray(0, bytesRead)
    },
    close: () => fh.close(),
  }
  return src
}

export async function s3Source(s3: S3Handle, bucket: string, key: string, retry: RetryPolicy): Promise<ByteSource> {
  const label = `s3://${bucket}/${key}`
  let head
  try {
    head = await withRetry(() => s3.fast.request('HEAD', bucket, key), retry)
  } catch (error) {
    if (statusOf(error) === 404) {
      // A HEAD's 404 has no body to tell a missing bucket (exit 3) from a missing key (exit 2): one listing does.
      await preflight(s3, {bucket, prefix: ''}, '')
      throw new S3cError(`${label} does not exist: check the bucket and key`, ExitCode.usage)
    }
    throw fatalToUserError(error, {bucket, endpoint: s3.endpointLabel})
  }
  const etag = head.headers.etag ?? ''
  const src: ByteSource = {
    size: Number(head.headers['content-length'] ?? 0), etag, label, reads: 0, bytesRead: 0,
    async read(offset, length) {
      src.reads++
      const headers: Record<string, string> = {range: `bytes=${offset}-${offset + length - 1}`}
      if (etag) headers['if-match'] = etag
      try {
        const res = await withRetry(() => s3.fast.request('GET', bucket, key, headers), retry)
        src.bytesRead += res.body.length
        return res.body
      } catch (error) {
        if (statusOf(error) === 412) throw new S3cError(`${label} changed while it was being indexed: run s3c index again`, ExitCode.fatal)
        throw error
      }
    },
    close: async () => undefined,
  }
  return src
}

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
  constructor(private readonly src: ByteSource) {}

  has(offset: number, length: number): boolean {
    return offset >= this.start && offset + length <= this.start + this.buf.length
  }

  async get(offset: number, length: number, fetch: number): Promise<Buffer> {
    if (!this.has(offset, length)) {
      const want = Math.min(Math.max(length, fetch), this.src.size - offset)
      this.buf = want > 0 ? await this.src.read(offset, want) : Buffer.alloc(0)
      this.start = offset
    }
    const from = offset - this.start
    return this.buf.subarray(from, Math.min(from + length, this.buf.length))
  }
}

const TYPE_OF: Record<string, MemberType> = {
  File: 'file', OldFile: 'file', ContiguousFile: 'file', Directory: 'dir', SymbolicLink: 'symlink', Link: 'hardlink',
}

function cString(buf: Buffer): string {
  const nul = buf.indexOf(0)
  return buf.toString('utf8', 0, nul === -1 ? buf.length : nul)
}

/**
 * Lists the members of any uncompressed tar (ustar, GNU long names, PAX, as written by GNU
 * tar, bsdtar and others) by walking its headers, reading member data only where streaming
 * past it is cheaper than a new request; CRC-32s are kept for the members that were read.
 */
export async function scanTar(src: ByteSource, maxMembers = Infinity): Promise<IndexedMember[]> {
  const reader = new WindowReader(src)
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
  while (true) {
    if (off >= src.size) break // no end-of-archive blocks: tolerated, as GNU tar does
    if (off + BLOCK > src.size) throw new S3cError(`${src.label} is truncated: ${src.size - off} stray bytes at offset ${off}`, ExitCode.usage)
    const block = await need(off, BLOCK, streaming ? STREAM_WINDOW : predicted - (off - memberStart))
    if (block.every(b => b === 0)) break
    let h: Header | undefined
    try {
      h = new Header(block, 0, ex, gex)
    } catch {
      h = undefined // node-tar throws on malformed numeric fields
    }
    if (!h?.cksumValid) {
      throw new S3cError(off === 0 ? `${src.label} is not a tar archive (no valid tar header at its start)` :
        `${src.label} is corrupt: bad tar header checksum at offset ${off}`, ExitCode.usage)
    }
    const size = h.size ?? 0
    const dataStart = off + BLOCK
    const next = dataStart + padded(size)
    const type = h.type as string
    if (type === 'ExtendedHeader' || type === 'GlobalExtendedHeader' || type === 'NextFileHasLongPath' || type === 'NextFileHasLongLinkpath') {
      const data = await need(dataStart, size, streaming ? STREAM_WINDOW : size + BLOCK)
      if (type === 'ExtendedHeader') ex = Pax.parse(data.toString('utf8'), ex, false)
      else if (type === 'GlobalExtendedHeader') gex = Pax.parse(data.toString('utf8'), gex, true)
      else if (type === 'NextFileHasLongPath') longPath = cString(data)
      else longLink = cString(data)
      off = next
      continue
    }
    // The PAX path wins; node-tar would also prepend the ustar prefix to it.
    const name = ex.path ?? gex.path ?? longPath ?? h.path ?? ''
    const memberType = TYPE_OF[type] ?? 'other'
    const member: IndexedMember = {
      name, type: memberType, size: memberType === 'file' ? size : 0, mode: h.mode ?? 0o644,
      mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000), dataOffset: dataStart,
    }
    const linkname = ex.linkpath ?? longLink ?? h.linkpath
    if ((memberType === 'symlink' || memberType === 'hardlink') && linkname) member.linkname = linkname
    if (memberType === 'file') {
      if (size === 0) member.crc = 0
      else if (size < HOP_THRESHOLD || reader.has(dataStart, size)) member.crc = crc32(await need(dataStart, size, STREAM_WINDOW)) >>> 0
      else if (dataStart + size > src.size) throw new S3cError(`${src.label} is truncated: member ${name} needs ${size} bytes at offset ${dataStart}`, ExitCode.usage)
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
    longPath = undefined
    longLink = undefined
  }
  return members
}
