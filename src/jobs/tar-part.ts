import {crc32, crc32Combine} from '../tar/crc.js'
import {buildIndex, INDEX_CONTENT_TYPE, INDEX_SUFFIX, type IndexedMember} from '../s3ci/format.js'
import {headerBlocks, type TarFormat} from '../tar/header.js'
import {readRange} from '../local/storage.js'
import {abortUpload, multipartEtag} from './upload.js'
import type {PartMember} from '../tar/layout.js'
import type {BuiltPart} from '../tar/layout.js'
import {failed, type ChildrenOutcome, type JobContext, type JobResult} from './kind.js'

/* tar create's handlers that build an archive's bytes: tar-part (a part of headers and data), complete-tar (the upload and its index). */

/** A part of headers and data, as src/tar/layout.ts built it. */
export type TarPartJob = BuiltPart

/** Parent of a tar's part jobs: completes the upload and writes the index (or aborts). */
export interface CompleteTarJob {
  kind: 'complete-tar'
  bucket: string
  key: string
  uploadId: string
  /** The archive's size, and how many members it has (to check every part reported). */
  size: number
  memberCount: number
  /** What the summary names on failure (the local folder or the source). */
  source: string
  /** Objects to delete once the archive is complete or has failed (the TOC's staging copy). */
  tempKeys?: string[]
}


/** Reads [at, at+length) of a member's data from its source (a local file or an S3 object). */
async function readSource(m: PartMember, at: number, length: number, ctx: JobContext): Promise<Buffer> {
  const src = m.source
  if (!src) throw new Error(`member ${m.name} has no source`)
  if ('path' in src) return readRange(src.path, at, length)
  return (await ctx.s3.getRange(src, at, length)).body
}

/** Builds the archive's bytes [offset, offset+length): headers rebuilt, data read once, padding zero. */
export async function buildTarRange(job: Pick<TarPartJob, 'offset' | 'length' | 'format' | 'members'>, ctx: JobContext): Promise<{body: Buffer; tar: NonNullable<JobResult['tar']>}> {
  const {offset, length} = job
  const end = offset + length
  const body = Buffer.alloc(length)
  const starting: PartMember[] = []
  const pieces: {ordinal: number; at: number; length: number; crc: number}[] = []
  await Promise.all(job.members.map(async m => {
    if (m.headerOffset >= offset && m.headerOffset < end) starting.push(m)
    const header = headerBlocks(m, job.format as TarFormat)
    const hStart = Math.max(offset, m.headerOffset)
    const hEnd = Math.min(end, m.headerOffset + header.length)
    if (hStart < hEnd) header.copy(body, hStart - offset, hStart - m.headerOffset, hEnd - m.headerOffset)
    if (m.type !== 'file' || m.size === 0) return
    const dStart = Math.max(offset, m.dataOffset)
    const dEnd = Math.min(end, m.dataOffset + m.size)
    if (dStart >= dEnd) return
    const data = await readSource(m, dStart - m.dataOffset, dEnd - dStart, ctx)
    data.copy(body, dStart - offset)
    pieces.push({ordinal: m.ordinal, at: dStart - m.dataOffset, length: data.length, crc: crc32(data) >>> 0})
  }))
  // The index needs no source paths; keep results small.
  return {body, tar: {members: starting.map(({source: _source, ...rest}) => rest), pieces}}
}

export async function tarPart(job: TarPartJob, ctx: JobContext): Promise<JobResult> {
  const {body, tar} = await buildTarRange(job, ctx)
  const part = await ctx.s3.uploadPart(job, job.partNumber, body)
  ctx.onBytes(body.length)
  return {part, tar}
}

/** The index entries of a tar from its parts' reports: members in order, CRCs combined from pieces. */
export function membersFromParts(results: JobResult[], memberCount: number): IndexedMember[] {
  const members: PartMember[] = []
  const pieces: {ordinal: number; at: number; length: number; crc: number}[] = []
  const copied = new Set<number>()
  for (const r of results) {
    if (!r.tar) continue
    members.push(...r.tar.members)
    pieces.push(...r.tar.pieces)
    for (const o of r.tar.copied ?? []) copied.add(o)
  }
  members.sort((a, b) => a.ordinal - b.ordinal)
  if (members.length !== memberCount || members.some((m, i) => m.ordinal !== i))
    throw new Error(`parts reported ${members.length} of ${memberCount} members`)
  pieces.sort((a, b) => a.ordinal - b.ordinal || a.at - b.at)
  const crcs = new Map<number, {crc: number; length: number}>()
  for (const p of pieces) {
    const c = crcs.get(p.ordinal)
    if (!c) crcs.set(p.ordinal, {crc: p.crc, length: p.length})
    else if (p.at === c.length) crcs.set(p.ordinal, {crc: crc32Combine(c.crc, p.crc, p.length), length: c.length + p.length})
    else throw new Error(`data pieces of member ${p.ordinal} do not line up`)
  }
  return members.map(m => {
    const c = crcs.get(m.ordinal)
    const crc = m.type !== 'file' || m.size === 0 ? 0 : c && c.length === m.size ? c.crc : undefined
    // Copied server-side: its bytes were never here, so it has no CRC.
    if (m.type === 'file' && m.size > 0 && crc === undefined && !copied.has(m.ordinal)) throw new Error(`data of member ${m.name} was not fully written`)
    return {name: m.name, type: m.type, size: m.size, mode: m.mode, mtime: m.mtime, linkname: m.linkname, dataOffset: m.dataOffset, crc}
  })
}

export async function completeTar(job: CompleteTarJob, ctx: JobContext, children?: ChildrenOutcome): Promise<JobResult> {
  try {
    return await completeTarInner(job, ctx, children)
  } finally {
    // The staged TOC and the zero object, failure or not (tar-temp jobs delete their own).
    await deleteTemporary(ctx, job.bucket, job.tempKeys ?? [])
  }
}

/** Deletes temporary objects, best effort: a leftover temporary object is not a failed archive (s3c cleanup finds it). */
export async function deleteTemporary(ctx: JobContext, bucket: string, keys: string[]): Promise<void> {
  await ctx.s3.deleteMany(bucket, keys).catch(() => undefined)
}

async function completeTarInner(job: CompleteTarJob, ctx: JobContext, children?: ChildrenOutcome): Promise<JobResult> {
  const ref = {key: job.key, path: job.source, size: job.size}
  if (children && children.failures.length > 0) {
    await abortUpload(ctx, job)
    return {files: [failed(ref, children.failures[0])]}
  }
  const results = children?.results ?? []
  let members: IndexedMember[]
  try {
    members = membersFromParts(results, job.memberCount)
  } catch (error) {
    await abortUpload(ctx, job)
    return {files: [failed(ref, error)]}
  }
  const parts = results.flatMap(r => r.parts ?? (r.part ? [r.part] : [])).sort((a, b) => a.PartNumber - b.PartNumber)
  let etag: string
  try {
    const res = await ctx.s3.completeMultipart(job, parts)
    // Ceph RGW answers CompleteMultipartUpload without an ETag the SDK can read: ask for it.
    etag = res.etag || (await ctx.s3.head(job.bucket, job.key))?.etag || ''
  } catch (error) {
    // Run twice (a worker died after S3 completed it): the object has exactly these parts' ETag.
    const existing = (error as Error).name === 'NoSuchUpload' ? (await ctx.s3.head(job.bucket, job.key))?.etag : undefined
    if (existing !== multipartEtag(parts)) {
      await abortUpload(ctx, job)
      return {files: [failed(ref, error)]}
    }
    etag = existing
  }
  try {
    const index = buildIndex(members, job.size, etag)
    await ctx.s3.put(job.bucket, job.key + INDEX_SUFFIX, index, {headers: {'content-type': INDEX_CONTENT_TYPE}})
  } catch (error) {
    return {files: [failed({...ref, key: job.key + INDEX_SUFFIX}, error)]}
  }
  return {files: members.filter(m => m.type === 'file').map(m => ({key: m.name, path: job.source, bytes: m.size, status: 'done' as const}))}
}
