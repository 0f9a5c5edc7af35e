import {CompleteMultipartUploadCommand, UploadPartCommand} from '@aws-sdk/client-s3'
import {ExitCode, S3cError, statusOf} from '../core/errors.js'
import {withRetry} from '../core/retry.js'
import {crc32, crc32Combine} from '../bundle/crc.js'
import {buildIndex, INDEX_SUFFIX, type IndexedMember} from '../bundle/index-format.js'
import {headerBlocks, type TarFormat} from '../bundle/layout.js'
import {abortUpload, failed, headObject, multipartEtag, readRange, writeFileAtomically, type JobContext} from './handlers.js'
import type {ChildrenOutcome, CompleteTarJob, ExtractMembersJob, FileOutcome, JobResult, PartMember, TarPartJob} from './types.js'

/** Reads [at, at+length) of a member's data from its source (a local file or an S3 object). */
async function readSource(m: PartMember, at: number, length: number, ctx: JobContext): Promise<Buffer> {
  const src = m.source
  if (!src) throw new Error(`member ${m.name} has no source`)
  if ('path' in src) return readRange(src.path, at, length)
  const headers: Record<string, string> = {range: `bytes=${at}-${at + length - 1}`}
  if (src.etag) headers['if-match'] = src.etag
  const res = await withRetry(() => ctx.s3.fast.request('GET', src.bucket, src.key, headers), ctx.retry, ctx.signal)
  if (res.body.length !== length) throw new Error(`s3://${src.bucket}/${src.key} is shorter than planned (changed since it was listed?)`)
  return res.body
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
  const res = await withRetry(() => ctx.s3.client.send(new UploadPartCommand({
    Bucket: job.bucket, Key: job.key, UploadId: job.uploadId, PartNumber: job.partNumber, Body: body, ContentLength: body.length,
  }), {abortSignal: ctx.signal}), ctx.retry, ctx.signal)
  ctx.onBytes(body.length)
  return {part: {PartNumber: job.partNumber, ETag: res.ETag ?? ''}, tar}
}

/** The index entries of a tar from its parts' reports: members in order, CRCs combined from pieces. */
export function membersFromParts(results: JobResult[], memberCount: number): IndexedMember[] {
  const members: PartMember[] = []
  const pieces: {ordinal: number; at: number; length: number; crc: number}[] = []
  for (const r of results) {
    if (!r.tar) continue
    members.push(...r.tar.members)
    pieces.push(...r.tar.pieces)
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
    if (m.type === 'file' && m.size > 0 && crc === undefined) throw new Error(`data of member ${m.name} was not fully written`)
    return {name: m.name, type: m.type, size: m.size, mode: m.mode, mtime: m.mtime, linkname: m.linkname, dataOffset: m.dataOffset, crc}
  })
}

export async function completeTar(job: CompleteTarJob, ctx: JobContext, children?: ChildrenOutcome): Promise<JobResult> {
  const ref = {key: job.key, path: job.source, size: job.size}
  if (children && children.failures.length > 0) {
    await abortUpload(ctx, job.bucket, job.key, job.uploadId)
    return {files: [failed(ref, children.failures[0])]}
  }
  const results = children?.results ?? []
  let members: IndexedMember[]
  try {
    members = membersFromParts(results, job.memberCount)
  } catch (error) {
    await abortUpload(ctx, job.bucket, job.key, job.uploadId)
    return {files: [failed(ref, error)]}
  }
  const parts = results.map(r => r.part!).sort((a, b) => a.PartNumber - b.PartNumber)
  let etag: string
  try {
    const res = await withRetry(() => ctx.s3.client.send(new CompleteMultipartUploadCommand({
      Bucket: job.bucket, Key: job.key, UploadId: job.uploadId, MultipartUpload: {Parts: parts},
    })), ctx.retry, ctx.signal)
    etag = res.ETag ?? ''
  } catch (error) {
    // Run twice (a worker died after S3 completed it): the object has exactly these parts' ETag.
    const existing = (error as Error).name === 'NoSuchUpload' ? (await headObject(ctx, job.bucket, job.key))?.etag : undefined
    if (existing !== multipartEtag(parts)) {
      await abortUpload(ctx, job.bucket, job.key, job.uploadId)
      return {files: [failed(ref, error)]}
    }
    etag = existing
  }
  try {
    const index = buildIndex(members, job.size, etag)
    await withRetry(() => ctx.s3.fast.request('PUT', job.bucket, job.key + INDEX_SUFFIX, {'content-type': 'application/vnd.s3c.index'}, index), ctx.retry, ctx.signal)
  } catch (error) {
    return {files: [failed({...ref, key: job.key + INDEX_SUFFIX}, error)]}
  }
  return {files: members.filter(m => m.type === 'file').map(m => ({key: m.name, path: job.source, bytes: m.size, status: 'done' as const}))}
}

/** Thrown when the tar changed after it was indexed (its ETag no longer matches). */
export class StaleIndexError extends S3cError {
  constructor(label: string) {
    super(`${label} changed after it was indexed: rebuild its index with s3c index`, ExitCode.fatal)
  }
}

export async function extractMembers(job: ExtractMembersJob, ctx: JobContext): Promise<JobResult> {
  let body: Buffer = Buffer.alloc(0)
  if (job.end > job.start) try {
    body = await withRetry(async () => {
      const r = await ctx.s3.fast.request('GET', job.bucket, job.key, {range: `bytes=${job.start}-${job.end - 1}`, 'if-match': job.etag})
      if (r.body.length !== job.end - job.start) throw Object.assign(new Error(`short read of ${job.key}`), {name: 'IncompleteBody'})
      return r.body
    }, ctx.retry, ctx.signal)
  } catch (error) {
    if (statusOf(error) === 412) throw new StaleIndexError(`s3://${job.bucket}/${job.key}`)
    if (statusOf(error) === 416) throw new S3cError(`s3://${job.bucket}/${job.key} is shorter than its index says (truncated?): rebuild the index with s3c index`, ExitCode.fatal)
    throw error
  }
  const files: FileOutcome[] = []
  for (const m of job.members) {
    const data = body.subarray(m.dataOffset - job.start, m.dataOffset - job.start + m.size)
    try {
      if (m.crc !== undefined && (crc32(data) >>> 0) !== m.crc) throw new Error(`content of ${m.name} does not match the CRC-32 in the index`)
      await writeFileAtomically(m.path, data, m.mtime * 1000, m.mode)
      ctx.onBytes(data.length)
      files.push({key: m.name, path: m.path, bytes: data.length, status: 'done'})
    } catch (error) {
      files.push(failed({key: m.name, path: m.path, size: m.size}, error))
    }
  }
  return {files}
}
