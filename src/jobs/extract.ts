import {ExitCode, S3cError, statusOf} from '../base/errors.js'
import {SourceChangedError, sourceName, type SourceRef} from '../base/storage.js'
import {secondsToNs} from '../base/times.js'
import {writeFileSafely} from '../local/safe-path.js'
import {openSourceRef} from '../storage/open.js'
import {staleIndexError} from '../s3ci/format.js'
import {splitRanges} from '../s3/limits.js'
import {crc32} from '../tar/crc.js'
import {BLOCK, headerModeAndTime} from '../tar/header.js'
import {abortUpload} from './upload.js'
import {failed, type FileOutcome, type JobContext, type JobResult} from './kind.js'

/**
 * A run of adjacent tar members fetched with one ranged GET and written to their files.
 * `size` is what the tar stores; a sparse member also has its real size and data runs.
 */
export interface ExtractMembersJob {
  kind: 'extract-members'
  /** The tar, pinned to the version its index describes. */
  source: SourceRef
  /** The destination folder (see DownloadFilesJob.root). */
  root: string
  start: number
  end: number
  /**
   * The members' mode and mtime are not known (the list came from an s3tar TOC): the range
   * starts one block early and each member's header block, right before its data, gives them.
   */
  headers?: boolean
  members: {name: string; path: string; dataOffset: number; size: number; mode: number; mtime: number; crc?: number; realSize?: number; sparse?: [number, number][]}[]
}

/** Members of a tar copied out to S3 objects: server-side ranged copies, or GET+PUT for small ones. */
export interface CopyMembersJob {
  kind: 'copy-members'
  bucket: string
  key: string
  etag: string
  /** Copy server-side (the archive allows ranged copies) or fetch and put. */
  serverSide: boolean
  maxRange: number
  destBucket: string
  /** `size` is what the tar stores; a sparse member (fetched, never copied) also has its real size and data runs. */
  members: {name: string; destKey: string; dataOffset: number; size: number; crc?: number; realSize?: number; sparse?: [number, number][]}[]
}

/* The handlers that read members out of an archive: extract-members (to local files), copy-members (to objects). */

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
