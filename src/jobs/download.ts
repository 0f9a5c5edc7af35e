import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {chmod, lstat, open, unlink, utimes} from 'node:fs/promises'
import {pipeline} from 'node:stream/promises'
import {crc32} from 'node:zlib'
import {isLocalSource, sourceName, SourceChangedError, type SourceRef, type Headers} from '../base/storage.js'
import {describeError, FatalError} from '../base/errors.js'
import {utimesValue} from '../base/times.js'
import {fsPath} from '../local/fs-path.js'
import {openTempFile, renameIntoPlace, writeFileSafely} from '../local/safe-path.js'
import {openSourceRef} from '../storage/open.js'
import {staleIndexError} from '../s3ci/format.js'
import {META_MTIME, META_SHA256, objectTime} from './metadata.js'
import {localCheck, syncStatOf} from './compare.js'
import {eachFile, failed, smallFiles, type ChildrenOutcome, type CompareMode, type FileOutcome, type FileSyncInfo, type JobContext, type JobKindDefinition, type JobResult} from './kind.js'

/* The download kinds: download-files (small objects, one GET each), download-range, finish-download (a large object's ranges and their parent). */

export interface RemoteFileRef {
  key: string
  path: string
  size: number
  lastModifiedMs: number
  etag?: string
  compare?: CompareMode
  /** The object's content is known to have this SHA-256 (sync state): a local file that hashes to it is kept, no request. */
  expectSha256?: string
}

export interface DownloadFilesJob {
  kind: 'download-files'
  bucket: string
  /** The download folder: the handler writes nothing outside it, and nothing through a symlink below it. */
  root: string
  /** Small objects are always verified against their stored checksum when there is one. */
  files: RemoteFileRef[]
  /** mv: delete the objects once their files are written (one DeleteObjects per job). */
  removeSource?: boolean
}

export interface DownloadRangeJob {
  kind: 'download-range'
  source: SourceRef
  /** The destination folder the temporary file lies under. */
  root: string
  tmpPath: string
  offset: number
  length: number
  /** Offset in the object of the file's first byte (a tar member); 0 when the object is the file. */
  base?: number
  /**
   * A sparse tar member: where the bytes of this range go, as [offset in the range, length,
   * offset in the file] (base is then unused); the file's holes get nothing.
   */
  scatter?: [number, number, number][]
}

/** Parent of the download-range jobs of one file: verifies, sets mtime, renames into place. */
export interface FinishDownloadJob {
  kind: 'finish-download'
  bucket: string
  key: string
  /** The destination folder (see DownloadFilesJob.root). */
  root: string
  tmpPath: string
  path: string
  size: number
  lastModifiedMs: number
  /** The object's ETag, which the ranged GETs were pinned to (If-Match): recorded in the sync state. */
  etag?: string
  /** A tar member: its time (ns, decimal) from the archive; an object's time comes from its headers (src/base/times.ts). */
  mtimeNs?: string
  /** Hash the finished file and compare it with the stored checksum (--checksum). */
  verify: boolean
  /** A tar member: its CRC-32 from the index, and its mode. */
  crc?: number
  mode?: number
  /** A sparse member: its data runs ([offset, length]); the CRC-32 covers them in order. */
  sparse?: [number, number][]
  /** mv: delete the object once the file is in place. */
  removeSource?: boolean
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(createReadStream(fsPath(path), {highWaterMark: 1 << 20}), hash)
  return hash.digest('hex')
}

/** SHA-256 (hex) and MD5 (base64, rclone's md5chksum) of a file, in one read. */
export async function crc32File(path: string): Promise<number> {
  let crc = 0
  for await (const chunk of createReadStream(fsPath(path), {highWaterMark: 1 << 20})) crc = crc32(chunk as Buffer, crc)
  return crc >>> 0
}

/** CRC-32 of the data runs ([offset, length]) of a sparse file, in order: what the tar stores of it. */
export async function crc32FileRuns(path: string, runs: [number, number][]): Promise<number> {
  let crc = 0
  const fh = await open(fsPath(path), 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    for (const [offset, length] of runs) {
      for (let done = 0; done < length;) {
        const {bytesRead} = await fh.read(buf, 0, Math.min(buf.length, length - done), offset + done)
        if (bytesRead === 0) throw new Error(`${path} is shorter than its sparse map`)
        crc = crc32(buf.subarray(0, bytesRead), crc)
        done += bytesRead
      }
    }
  } finally {
    await fh.close()
  }
  return crc >>> 0
}

function metaOf(headers: Headers): Record<string, string> {
  const meta: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (k.startsWith('x-amz-meta-')) meta[k.slice(11)] = String(v)
  return meta
}

/** Headers again from what downloadRange kept of them (metadata without its prefix, Last-Modified). */
function headersOfMeta(meta: Record<string, string>): Headers {
  const h: Headers = {}
  for (const [k, v] of Object.entries(meta)) h[k === 'last-modified' ? k : `x-amz-meta-${k}`] = v
  return h
}

class ChecksumMismatch extends Error {
  constructor(key: string) {
    super(`content of ${key} does not match its stored sha256`)
    // Named like S3's own digest error so the retry policy fetches it again.
    this.name = 'BadDigest'
  }
}

async function downloadOne(job: DownloadFilesJob, f: RemoteFileRef, ctx: JobContext): Promise<FileOutcome> {
  try {
    if (f.compare) {
      const check = await localCheck(ctx.s3, job.bucket, f, f.compare)
      if (check.same) return {key: f.key, path: f.path, bytes: f.size, status: 'skipped', state: check.state}
    }
    // The sync state knows the object's content by its digest: a local file with those bytes is kept (the planner records the entry).
    if (f.expectSha256 && (await syncStatOf(f.path))?.size === f.size && (await sha256File(f.path)) === f.expectSha256)
      return {key: f.key, path: f.path, bytes: f.size, status: 'skipped'}
    // Verified by the storage (src/s3/verify.ts) against the listed size and the object's digest, retried, before a byte is written.
    const res = await ctx.s3.get(job.bucket, f.key, {size: f.size})
    const local = await writeFileSafely(job.root, f.path, res.body, {mtimeNs: objectTime(res.headers, f.lastModifiedMs).ns})
    ctx.onBytes(res.body.length)
    const state: FileSyncInfo = {etag: res.headers.etag, mtime: res.headers[`x-amz-meta-${META_MTIME}`], sha256: res.sha256, local}
    return {key: f.key, path: f.path, bytes: res.body.length, status: 'done', state}
  } catch (error) {
    return failed(f, error)
  }
}

export async function downloadFiles(job: DownloadFilesJob, ctx: JobContext): Promise<JobResult> {
  const files = await eachFile(job.files, ctx, f => downloadOne(job, f, ctx))
  return {files: job.removeSource ? await removeObjectSources(ctx, job.bucket, files) : files}
}

/** mv: the objects go once their files are written, in one DeleteObjects; one that cannot be deleted fails by name. */
async function removeObjectSources(ctx: JobContext, bucket: string, outcomes: FileOutcome[]): Promise<FileOutcome[]> {
  const moved = outcomes.filter(o => o.status === 'done' || (o.status === 'skipped' && o.reason === undefined))
  if (moved.length === 0) return outcomes
  let refused: Map<string, string>
  try {
    refused = new Map((await ctx.s3.deleteMany(bucket, moved.map(o => o.key))).map(r => [r.key, r.error]))
  } catch (error) {
    if (error instanceof FatalError) throw error
    refused = new Map(moved.map(o => [o.key, describeError(error)]))
  }
  return outcomes.map(o => {
    const why = refused.get(o.key)
    return why && moved.includes(o) ? {...o, status: 'failed' as const, error: `downloaded, but the object could not be deleted (${why})`} : o
  })
}

export async function downloadRange(job: DownloadRangeJob, ctx: JobContext): Promise<JobResult> {
  // Opened with the first bytes: a source refused before (a local tar changed since its index) is that error, not the file's.
  let opened: ReturnType<typeof openTempFile> | undefined
  const file = () => (opened ??= openTempFile(job.root, job.tmpPath))
  let headers: Headers
  try {
    // Where the bytes at `at` in the range go in the file (a sparse member: only its data runs).
    const place = async (buffers: Buffer[], at: number) => {
      let bytes = 0
      for (const b of buffers) bytes += b.length
      const fh = await file()
      if (!job.scatter) {
        const {bytesWritten} = await fh.writev(buffers, job.offset - (job.base ?? 0) + at)
        if (bytesWritten !== bytes) throw new Error(`${job.tmpPath}: ${bytesWritten} of ${bytes} bytes written`)
      } else {
        for (const chunk of buffers) {
          for (const [from, length, to] of job.scatter) {
            const a = Math.max(from, at)
            const b = Math.min(from + length, at + chunk.length)
            if (a < b) await fh.write(chunk, a - at, b - a, to + (a - from))
          }
          at += chunk.length
        }
      }
      ctx.onBytes(bytes)
    }
    if (isLocalSource(job.source)) {
      // A member of a local tar: the file the planner saw (a changed one fails, as If-Match does).
      const src = await openSourceRef(job.source, ctx.s3)
      try {
        await place([await src.read(job.offset, job.length)], 0)
      } finally {
        await src.close()
      }
      headers = {}
    } else {
      // Written to the file as it comes: a range in flight holds a few pieces, not its 8 MiB.
      headers = (await ctx.s3.getRangeInto(job.source, job.offset, job.length, place)).headers
    }
  } catch (error) {
    // A tar member (base set): its tar is no longer the one the index describes.
    if (error instanceof SourceChangedError && job.base !== undefined) throw staleIndexError(error.label, error.local)
    throw error
  } finally {
    await (await opened?.catch(() => undefined))?.close()
  }
  return job.offset === 0 && !job.base ? {meta: {...metaOf(headers), 'last-modified': headers['last-modified'] ?? ''}} : {}
}

export async function finishDownload(job: FinishDownloadJob, ctx: JobContext, children?: ChildrenOutcome): Promise<JobResult> {
  const ref = {key: job.key, path: job.path, size: job.size}
  try {
    if (children && children.failures.length > 0) {
      await unlink(fsPath(job.tmpPath)).catch(() => undefined)
      return {files: [failed(ref, children.failures[0])]}
    }
    const meta = children?.results.find(r => r.meta)?.meta ?? {}
    // The ranges' lengths were checked as they came; the whole content is checked wherever its
    // digest is known (s3c's stored SHA-256: every upload with --checksum, every single-part one),
    // with or without --checksum: a range has no digest of its own.
    if (meta[META_SHA256] && meta[META_SHA256] !== (await sha256File(job.tmpPath)))
      throw new ChecksumMismatch(job.key)
    if (job.crc !== undefined && job.crc !== (job.sparse ? await crc32FileRuns(job.tmpPath, job.sparse) : await crc32File(job.tmpPath)))
      throw new Error(`content of ${job.path} does not match the CRC-32 in the index`)
    if (job.mode !== undefined) await chmod(fsPath(job.tmpPath), job.mode & 0o7777)
    // A tar member's time comes from the archive's index; an object's by the time rule.
    const mtimeNs = job.mtimeNs ?? objectTime(headersOfMeta(meta), job.lastModifiedMs).ns
    await utimes(fsPath(job.tmpPath), new Date(), utimesValue(mtimeNs))
    await renameIntoPlace(job.root, job.tmpPath, job.path)
    // The ranges were pinned to job.etag (If-Match); the digest counts only when it was checked.
    const sha256 = meta[META_SHA256] || undefined
    const state: FileSyncInfo = {etag: job.etag, mtime: meta[META_MTIME], sha256, local: await syncStatOf(job.path)}
    const done: FileOutcome = {key: job.key, path: job.path, bytes: job.size, status: 'done', state}
    return {files: job.removeSource ? await removeObjectSources(ctx, job.bucket, [done]) : [done]}
  } catch (error) {
    // Run twice (its worker died after the rename): the file is already in place.
    const done = (error as {code?: string}).code === 'ENOENT' && (await lstat(fsPath(job.path)).catch(() => undefined))?.size === job.size
    if (done) {
      const outcome: FileOutcome = {key: job.key, path: job.path, bytes: job.size, status: 'done'}
      return {files: job.removeSource ? await removeObjectSources(ctx, job.bucket, [outcome]) : [outcome]}
    }
    await unlink(fsPath(job.tmpPath)).catch(() => undefined)
    return {files: [failed(ref, error)]}
  }
}

export const downloadFilesKind: JobKindDefinition<DownloadFilesJob> = {
  kind: 'download-files',
  handler: downloadFiles,
  ...smallFiles<DownloadFilesJob>(),
  localPaths: job => [job.root, ...job.files.map(f => f.path)],
}

export const downloadRangeKind: JobKindDefinition<DownloadRangeJob> = {
  kind: 'download-range',
  handler: downloadRange,
  idKeys: job => `${sourceName(job.source)}\n${job.offset}`,
  partBytes: job => job.length,
  localPaths: job => [job.root, job.tmpPath, ...(isLocalSource(job.source) ? [job.source.path] : [])],
}

export const finishDownloadKind: JobKindDefinition<FinishDownloadJob> = {
  kind: 'finish-download',
  handler: finishDownload,
  parent: true,
  idKeys: job => job.key,
  files: job => [{key: job.key, path: job.path, bytes: job.size}],
  localPaths: job => [job.root, job.tmpPath, job.path],
}
