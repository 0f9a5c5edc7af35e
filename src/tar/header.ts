import {Header, Pax} from 'tar'
import {BLOCK} from './block.js'

export {BLOCK}

export type MemberType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other'

/** A member's kind for messages, with its article ('other' is whatever tar stores besides these: devices, FIFOs, …). */
export const MEMBER_KIND: Record<MemberType, string> = {
  file: 'a file', dir: 'a folder', symlink: 'a symbolic link', hardlink: 'a hard link', other: 'a special entry (device, FIFO, …)',
}

/** One tar member as the index knows it. */
export interface TarMember {
  /** The name as stored in the tar (what `tar -tf` prints). */
  name: string
  type: MemberType
  size: number
  mode: number
  /** Seconds since the epoch. */
  mtime: number
  linkname?: string
  /** Offset of the member's data in the archive (a multiple of 512). */
  dataOffset: number
}

export type TarFormat = 'pax' | 'gnu'

const TYPE_NAMES: Record<MemberType, 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'File'> = {
  file: 'File', dir: 'Directory', symlink: 'SymbolicLink', hardlink: 'Link', other: 'File',
}

export const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK

/**
 * node-tar writes ustar headers; GNU format differs in the magic ("ustar  \0") and in having no
 * prefix field, so the header is re-stamped and its checksum computed again.
 */
function stampGnu(block: Buffer): Buffer {
  block.write('ustar  \0', 257, 'latin1')
  block.fill(0, 345, 500)
  block.fill(0x20, 148, 156)
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += block[i]
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  return block
}

/** Writes the first 100 bytes of a long name into a header field, as GNU tar does. */
function putField(block: Buffer, at: number, value: string): void {
  block.fill(0, at, at + 100)
  Buffer.from(value, 'utf8').copy(block, at, 0, 100)
}

function gnuLongName(type: 'NextFileHasLongPath' | 'NextFileHasLongLinkpath', value: string): Buffer {
  const data = Buffer.from(`${value}\0`, 'utf8')
  const block = Buffer.alloc(BLOCK + padded(data.length))
  new Header({path: '././@LongLink', type, size: data.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: ''}).encode(block, 0)
  stampGnu(block.subarray(0, BLOCK))
  data.copy(block, BLOCK)
  return block
}

/**
 * The header blocks of a member, byte for byte the same each time they are asked for: a part
 * job rebuilds the headers that fall in its range without seeing the rest of the archive.
 * PAX extended headers (or GNU long-name blocks) carry what ustar cannot: long or non-ASCII
 * names and sizes of 8 GiB and more.
 */
export function headerBlocks(m: Omit<TarMember, 'dataOffset'>, format: TarFormat = 'pax'): Buffer {
  const name = m.type === 'dir' && !m.name.endsWith('/') ? `${m.name}/` : m.name
  const fields = {
    path: name, type: TYPE_NAMES[m.type], size: m.type === 'file' ? m.size : 0, mode: m.mode & 0o7777,
    mtime: new Date(m.mtime * 1000), uid: 0, gid: 0, uname: '', gname: '', linkpath: m.linkname ?? '',
  }
  const block = Buffer.alloc(BLOCK)
  if (format === 'gnu') {
    // Names and link targets over 100 bytes go in ././@LongLink blocks (GNU has no prefix field);
    // sizes of 8 GiB and more: node-tar writes GNU base-256 numbers.
    const pre: Buffer[] = []
    const longName = Buffer.byteLength(name) > 100
    const longLink = m.linkname !== undefined && Buffer.byteLength(m.linkname) > 100
    if (longName) pre.push(gnuLongName('NextFileHasLongPath', name))
    if (longLink) pre.push(gnuLongName('NextFileHasLongLinkpath', m.linkname!))
    new Header({...fields, path: longName ? 'x' : name, linkpath: longLink ? 'x' : fields.linkpath}).encode(block, 0)
    if (longName) putField(block, 0, name)
    if (longLink) putField(block, 157, m.linkname!)
    return Buffer.concat([...pre, stampGnu(block)])
  }
  const header = new Header(fields)
  const needsMore = header.encode(block, 0)
  if (!needsMore) return block
  const pax = new Pax({path: name, size: fields.size, linkpath: m.linkname, mtime: fields.mtime}).encode()
  return Buffer.concat([pax, block])
}

/** Two zero blocks end a tar. */
export const END_OF_ARCHIVE = 2 * BLOCK

/**
 * Mode and mtime (seconds) from the header block right before a member's data: what an s3tar
 * TOC does not list. The ustar block is always the last header block before the data (PAX and
 * GNU long-name blocks come before it).
 */
export function headerModeAndTime(block: Buffer, name: string): {mode: number; mtime: number} {
  let h: Header | undefined
  try {
    h = block.length === BLOCK ? new Header(block) : undefined
  } catch {
    h = undefined
  }
  if (!h?.cksumValid) throw new Error(`no tar header right before the data of ${name} where the TOC says: the TOC does not match the archive`)
  return {mode: (h.mode ?? 0o644) & 0o7777, mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000)}
}

/** A member as an index (src/s3ci/format.ts) or a scan of the headers (scan.ts) records it: the header's facts and the data's. */
export interface IndexedMember extends TarMember {
  /** CRC-32 of the member's data, when it was read while indexing (a sparse member: of its stored data runs). */
  crc?: number
  /**
   * A sparse file: its data runs as [offset in the file, length], stored one after another in
   * the tar from dataOffset; `size` is then the file's real size, holes included.
   */
  sparse?: [number, number][]
  /** For type 'other': what the tar says it is (node-tar's name: FIFO, CharacterDevice, ContinuationFile, …). */
  tarType?: string
}
