import {ExitCode, S3cError, statusOf} from '../base/errors.js'
import {crc32, crc32Combine} from '../tar/crc.js'
import {buildIndex, INDEX_CONTENT_TYPE, INDEX_SUFFIX, staleIndexError, type IndexedMember} from '../s3ci/format.js'
import {BLOCK, headerBlocks, type TarFormat} from '../tar/header.js'
import {abortUpload, failed, multipartEtag, readRange, type JobContext} from './handlers.js'
import {Header} from 'tar'
import {writeFileSafely} from '../local/safe-path.js'
import {openSourceRef} from '../local/storage.js'
import {SourceChangedError, sourceName, type SourceRef} from '../base/storage.js'
import {MIN_PART, splitRanges} from '../s3/limits.js'
import type {CompletedPart, MultipartTarget} from '../s3/storage.js'
import {secondsToNs} from '../base/times.js'
import type {ChildrenOutcome, CompleteTarJob, CopyMembersJob, ExtractMembersJob, FileOutcome, JobResult, PartMember, TarCopyJob, TarPartJob, TarTempJob} from './types.js'

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
async function deleteTemporary(ctx: JobContext, bucket: string, keys: string[]): Promise<void> {
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

/** Reads [start, end) of a tar for a job, pinned to the version its index (or scan) describes. */
async function readTarRange(ref: SourceRef, start: number, end: number, ctx: JobContext): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0)
  try {
    const src = await openSourceRef(ref, ctx.s3)
    try {
      return await src.read(start, end - start)
    } finally {
      await src.close()
    }
  } catch (error) {
    if (error instanceof SourceChangedError) throw staleIndexError(error.label, error.local)
    if (statusOf(error) === 416) throw new S3cError(`${sourceName(ref)} is shorter than its index says (truncated?): rebuild the index with s3c index`, ExitCode.fatal)
    throw error
  }
}

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

export async function extractMembers(job: ExtractMembersJob, ctx: JobContext): Promise<JobResult> {
  const body = await readTarRange(job.source, job.start, job.end, ctx)
  const files: FileOutcome[] = []
  for (const m of job.members) {
    const data = body.subarray(m.dataOffset - job.start, m.dataOffset - job.start + m.size)
    try {
      if (m.crc !== undefined && (crc32(data) >>> 0) !== m.crc) throw new Error(`content of ${m.name} does not match the CRC-32 in the index`)
      const {mode, mtime} = job.headers ? headerModeAndTime(body.subarray(m.dataOffset - BLOCK - job.start, m.dataOffset - job.start), m.name) : m
      await writeFileSafely(job.root, m.path, data, {mtimeNs: secondsToNs(mtime), mode, sparse: m.sparse && {size: m.realSize ?? 0, map: m.sparse}})
      ctx.onBytes(data.length)
      files.push({key: m.name, path: m.path, bytes: data.length, status: 'done'})
    } catch (error) {
      files.push(failed({key: m.name, path: m.path, size: m.size}, error))
    }
  }
  return {files}
}

// ---------------------------------------------------------------- server-side parts

/** One object's data, copied into the archive in ranges: its bytes never leave S3. */
export async function tarCopy(job: TarCopyJob, ctx: JobContext): Promise<JobResult> {
  const {source} = job
  const ranges = splitRanges(source.end - source.start, job.maxRange)
  // A whole object is copied without a range: S3 refuses ranged copies of objects of 5 MiB or less.
  const whole = ranges.length === 1 && source.start === 0
  const parts = await Promise.all(ranges.map(([a, b], i) => ctx.s3.copyPart(job, job.firstPart + i,
    whole ? {bucket: source.bucket, key: source.key, etag: source.etag} : {...source, start: source.start + a, end: source.start + b})))
  ctx.onBytes(source.end - source.start)
  return {parts, tar: {members: [], pieces: [], copied: [job.ordinal]}}
}

/**
 * Builds a temporary object from its steps with as few multipart uploads as S3's rules allow
 * (every part but the last ≥ 5 MiB: a small step ends one upload, the next starts by copying the
 * object so far), copies its bytes after the padding into the archive's parts, deletes it.
 */
export async function tarTemp(job: TarTempJob, ctx: JobContext): Promise<JobResult> {
  const keys: string[] = []
  const pieces: NonNullable<JobResult['tar']>['pieces'] = []
  const starting: PartMember[] = []
  const copied: number[] = []
  const bytesOf = async (range: [number, number]) => {
    const {body, tar} = await buildTarRange({offset: range[0], length: range[1] - range[0], format: job.format, members: job.members}, ctx)
    pieces.push(...tar.pieces)
    starting.push(...tar.members)
    return body
  }
  try {
    const steps = job.steps.filter(s => ('bytes' in s ? s.bytes[1] > s.bytes[0] : true))
    let prev: string | undefined
    let total = 0
    for (let gen = 0; steps.length > 0 || !prev; gen++) {
      const key = `${job.tempKey}.${gen}`
      keys.push(key)
      // Not abortable: an upload created after Ctrl-C must still be known, to be aborted below.
      const target: MultipartTarget = {bucket: job.bucket, key, uploadId: await ctx.s3.createMultipart(job.bucket, key)}
      const parts: CompletedPart[] = []
      try {
        ctx.signal?.throwIfAborted()
        if (prev) {
          parts.push(await ctx.s3.copyPart(target, 1, {bucket: job.bucket, key: prev}))
        } else if (job.padKey && steps[0] && !('bytes' in steps[0])) {
          // The padding copied from the archive's zero object: nothing uploaded for it.
          parts.push(await ctx.s3.copyPart(target, 1, {bucket: job.bucket, key: job.padKey}))
          total = MIN_PART
        } else {
          // The padding, with the first run of built bytes when there is one.
          const s0 = steps[0]
          let first: Buffer = Buffer.alloc(0)
          if (s0 && 'bytes' in s0) {
            steps.shift()
            first = await bytesOf(s0.bytes)
          }
          parts.push(await ctx.s3.uploadPart(target, 1, Buffer.concat([Buffer.alloc(MIN_PART), first])))
          total = MIN_PART + first.length
        }
        while (steps.length > 0) {
          const step = steps.shift()!
          const n = parts.length + 1
          if ('bytes' in step) {
            const body = await bytesOf(step.bytes)
            parts.push(await ctx.s3.uploadPart(target, n, body))
            total += body.length
            if (body.length < MIN_PART) break
          } else {
            copied.push(step.ordinal)
            if (step.copy.size > job.maxRange) {
              for (const [a, b] of splitRanges(step.copy.size, job.maxRange)) parts.push(await ctx.s3.copyPart(target, parts.length + 1, {...step.copy, start: a, end: b}))
            } else {
              // The whole object in one part, with no range (S3 copies no range of an object of 5 MiB
              // or less); under 5 MiB it must be this upload's last part.
              parts.push(await ctx.s3.copyPart(target, n, {bucket: step.copy.bucket, key: step.copy.key, etag: step.copy.etag}))
            }
            total += step.copy.size
            if (step.copy.size < MIN_PART) break
          }
        }
        await ctx.s3.completeMultipart(target, parts)
      } catch (error) {
        await abortUpload(ctx, target)
        throw error
      }
      prev = key
    }
    const ranges = splitRanges(total - MIN_PART, job.maxRange)
    const parts = await Promise.all(ranges.map(([a, b], i) => ctx.s3.copyPart(job, job.firstPart + i, {bucket: job.bucket, key: prev!, start: MIN_PART + a, end: MIN_PART + b})))
    ctx.onBytes(total - MIN_PART)
    return {parts, tar: {members: starting.map(({source: _s, ...rest}) => rest), pieces, copied}}
  } finally {
    // All of them at once, as soon as the archive has its copy: one request, and the server does
    // not hold every temporary object of the archive until the end.
    await deleteTemporary(ctx, job.bucket, keys)
  }
}

/** A sparse member's whole content: its data runs (stored one after another in `data`) at their offsets, zeros between. */
export function expandSparse(data: Buffer, runs: [number, number][], size: number): Buffer {
  const out = Buffer.alloc(size)
  let at = 0
  for (const [offset, length] of runs) {
    data.copy(out, offset, at, at + length)
    at += length
  }
  return out
}

export async function copyMembers(job: CopyMembersJob, ctx: JobContext): Promise<JobResult> {
  const files: FileOutcome[] = []
  if (!job.serverSide) {
    const start = Math.min(...job.members.map(m => m.dataOffset))
    const end = Math.max(...job.members.map(m => m.dataOffset + m.size))
    const body = await readTarRange({bucket: job.bucket, key: job.key, etag: job.etag || undefined}, start, end, ctx)
    await Promise.all(job.members.map(async m => {
      const data = body.subarray(m.dataOffset - start, m.dataOffset - start + m.size)
      try {
        if (m.crc !== undefined && (crc32(data) >>> 0) !== m.crc) throw new Error(`content of ${m.name} does not match the CRC-32 in the index`)
        const body = m.sparse ? expandSparse(data, m.sparse, m.realSize ?? 0) : data
        await ctx.s3.put(job.destBucket, m.destKey, body, {headers: {'content-type': 'application/octet-stream'}})
        ctx.onBytes(body.length)
        files.push({key: m.destKey, path: m.name, bytes: m.size, status: 'done'})
      } catch (error) {
        files.push(failed({key: m.destKey, path: m.name, size: m.size}, error))
      }
    }))
    return {files}
  }
  for (const m of job.members) {
    let uploadId: string | undefined
    try {
      uploadId = await ctx.s3.createMultipart(job.destBucket, m.destKey)
      ctx.signal?.throwIfAborted()
      const target = {bucket: job.destBucket, key: m.destKey, uploadId}
      const ranges = m.size === 0 ? [] : splitRanges(m.size, job.maxRange)
      const parts = await Promise.all(ranges.map(([a, b], i) => ctx.s3.copyPart(target, i + 1,
        {bucket: job.bucket, key: job.key, etag: job.etag || undefined, start: m.dataOffset + a, end: m.dataOffset + b})))
      if (parts.length === 0) parts.push(await ctx.s3.uploadPart(target, 1, Buffer.alloc(0)))
      await ctx.s3.completeMultipart(target, parts)
      ctx.onBytes(m.size)
      files.push({key: m.destKey, path: m.name, bytes: m.size, status: 'done'})
    } catch (error) {
      if (uploadId) await abortUpload(ctx, {bucket: job.destBucket, key: m.destKey, uploadId})
      if (statusOf(error) === 412) throw staleIndexError(`s3://${job.bucket}/${job.key}`, false)
      files.push(failed({key: m.destKey, path: m.name, size: m.size}, error))
    }
  }
  return {files}
}
