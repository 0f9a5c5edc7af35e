import {createHash} from 'node:crypto'
import {closeSync, constants, createReadStream, fstatSync, openSync, readFileSync} from 'node:fs'
import {chmod, lstat, open, stat, unlink, utimes} from 'node:fs/promises'
import {pipeline} from 'node:stream/promises'
import {crc32} from 'node:zlib'
import mime from 'mime-types'
import {ExitCode, S3cError, describeError, FatalError} from '../base/errors.js'
import {fsPath} from '../local/fs-path.js'
import {openTempFile, renameIntoPlace, writeFileSafely} from '../local/safe-path.js'
import {sha256Hex, type Headers, type MultipartTarget, type S3Storage} from '../s3/storage.js'
import {completeTar, copyMembers, extractMembers, tarCopy, tarPart, tarTemp} from './tar.js'
import {completeCopy, copyObjects, copyPart} from './copy.js'
import {META_MTIME, META_SHA256, formatMtime, hasDigest, objectDigests, objectTime, storedMtime} from './metadata.js'
import {sameContent, type LocalContent} from './content.js'
import {lastModifiedTime, sameTime, toNs, utimesValue, type FileTime} from '../base/times.js'
import {openSourceRef, preadFully} from '../local/storage.js'
import {staleIndexError} from '../s3ci/format.js'
import {isLocalSource, SourceChangedError} from '../base/storage.js'
import type {
  ChildrenOutcome, CompareMode, CompleteUploadJob, CopySettings, DownloadFilesJob, DownloadRangeJob, FileOutcome, FinishDownloadJob,
  JobData, JobKind, JobResult, LocalFileRef, RemoteFileRef, UploadFilesJob, UploadPartJob,
} from './types.js'

/** What a handler may use. Handlers know nothing about who runs them. */
export interface JobContext {
  /** S3, with the run's retry policy (--max-retry) and its signal. */
  s3: S3Storage
  signal?: AbortSignal
  /** Live byte progress. */
  onBytes(n: number): void
  /** Stop the whole run (set by the in-process runner). */
  abort?(reason: unknown): void
}

export type JobHandler<J extends JobData> = (job: J, ctx: JobContext, children?: ChildrenOutcome) => Promise<JobResult>
export type Handlers = {[K in JobKind]: JobHandler<Extract<JobData, {kind: K}>>}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(createReadStream(fsPath(path), {highWaterMark: 1 << 20}), hash)
  return hash.digest('hex')
}

/** SHA-256 (hex) and MD5 (base64, rclone's md5chksum) of a file, in one read. */
export async function fileDigests(path: string): Promise<{sha256: string; md5base64: string}> {
  const sha256 = createHash('sha256')
  const md5 = createHash('md5')
  for await (const chunk of createReadStream(fsPath(path), {highWaterMark: 1 << 20})) {
    sha256.update(chunk as Buffer)
    md5.update(chunk as Buffer)
  }
  return {sha256: sha256.digest('hex'), md5base64: md5.digest('base64')}
}

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

export function failed(ref: {key: string; path: string; size: number}, error: unknown): FileOutcome {
  if (error instanceof FatalError) throw error
  return {key: ref.key, path: ref.path, bytes: ref.size, status: 'failed', error: typeof error === 'string' ? error : describeError(error)}
}

// ---------------------------------------------------------------- upload

function uploadHeaders(f: LocalFileRef, sha256: string, storageClass?: string, settings?: CopySettings): Headers {
  const h: Headers = {
    'content-type': settings?.contentType ?? (mime.lookup(f.path) || 'application/octet-stream'),
    [`x-amz-meta-${META_MTIME}`]: formatMtime(f.mtimeNs),
    [`x-amz-meta-${META_SHA256}`]: sha256,
  }
  // cp --metadata: the user's keys, never in place of the time and checksum s3c compares by.
  for (const [k, v] of Object.entries(settings?.metadata ?? {})) h[`x-amz-meta-${k.toLowerCase()}`] ??= v
  if (settings?.sse) h['x-amz-server-side-encryption'] = settings.sse
  if (settings?.sseKmsKeyId) h['x-amz-server-side-encryption-aws-kms-key-id'] = settings.sseKmsKeyId
  if (settings?.acl) h['x-amz-acl'] = settings.acl
  if (storageClass) h['x-amz-storage-class'] = storageClass
  return h
}

async function uploadOne(job: UploadFilesJob, f: LocalFileRef, ctx: JobContext): Promise<FileOutcome> {
  try {
    const skipped: FileOutcome = {key: f.key, path: f.path, bytes: f.size, status: 'skipped'}
    const head = f.compare ? await ctx.s3.head(job.bucket, f.key) : undefined
    // Decided by time before reading: an unchanged file is never read.
    const verdict = head ? uploadVerdict(head, f, f.compare!) : 'changed'
    if (verdict === 'same') return skipped
    const body = await readWholeFile(f)
    const sha256 = sha256Hex(body)
    if (verdict === 'content' && (await sameContent({path: f.path, size: f.size, body, sha256}, objectDigests(head!)))) return skipped
    const headers = uploadHeaders(f, sha256, job.storageClass, job.settings)
    await ctx.s3.put(job.bucket, f.key, body, {headers, sha256})
    ctx.onBytes(body.length)
    return {key: f.key, path: f.path, bytes: body.length, status: 'done'}
  } catch (error) {
    return failed(f, error)
  }
}

async function uploadFiles(job: UploadFilesJob, ctx: JobContext): Promise<JobResult> {
  const files = job.files.length === 1 ? [await uploadOne(job, job.files[0], ctx)] : await Promise.all(job.files.map(f => uploadOne(job, f, ctx)))
  return {files: job.removeSource ? await Promise.all(files.map(removeLocalSource)) : files}
}

/** mv: the local file goes once its object is stored (uploaded, or found unchanged); a file that cannot be removed fails by name. */
async function removeLocalSource(o: FileOutcome): Promise<FileOutcome> {
  if (!(o.status === 'done' || (o.status === 'skipped' && o.reason === undefined))) return o
  try {
    await unlink(fsPath(o.path))
    return o
  } catch (error) {
    if ((error as {code?: string}).code === 'ENOENT') return o
    return {...o, status: 'failed', error: `uploaded, but the local file could not be removed (${describeError(error)})`}
  }
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

export async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(fsPath(path), 'r')
  try {
    const buf = await preadFully(fh, offset, length)
    if (buf.length < length) throw Object.assign(new Error(`${path} shrank while being uploaded`), {code: 'ESHRANK'})
    return buf
  } finally {
    await fh.close()
  }
}

async function uploadPart(job: UploadPartJob, ctx: JobContext): Promise<JobResult> {
  const body = await readRange(job.path, job.offset, job.length)
  const part = await ctx.s3.uploadPart(job, job.partNumber, body)
  ctx.onBytes(body.length)
  return {part}
}

/** Aborts a multipart upload, best effort: a leftover is for s3c cleanup, not a reason to fail twice. */
export async function abortUpload(ctx: JobContext, target: MultipartTarget): Promise<void> {
  await ctx.s3.abortMultipart(target).catch(() => undefined)
}

async function completeUpload(job: CompleteUploadJob, ctx: JobContext, children?: ChildrenOutcome): Promise<JobResult> {
  const ref = {key: job.key, path: job.path, size: job.size}
  if (children && children.failures.length > 0) {
    await abortUpload(ctx, job)
    return {files: [failed(ref, children.failures[0])]}
  }
  const parts = (children?.results ?? []).map(r => r.part!).sort((a, b) => a.PartNumber - b.PartNumber)
  try {
    // Every part has been read: a file changed since the walk would be stored as a mix (or cut short).
    checkUnchanged(job, await stat(fsPath(job.path), {bigint: true}))
  } catch (error) {
    await abortUpload(ctx, job)
    return {files: [failed(ref, error)]}
  }
  const done: FileOutcome = {key: job.key, path: job.path, bytes: job.size, status: 'done'}
  try {
    await ctx.s3.completeMultipart(job, parts)
    return {files: [job.removeSource ? await removeLocalSource(done) : done]}
  } catch (error) {
    // This job may run twice (its worker died after S3 completed the upload): then the upload
    // id is gone and the object is there with exactly the ETag these parts make.
    if ((error as Error).name === 'NoSuchUpload' && (await ctx.s3.head(job.bucket, job.key))?.etag === multipartEtag(parts))
      return {files: [job.removeSource ? await removeLocalSource(done) : done]}
    await abortUpload(ctx, job)
    return {files: [failed(ref, error)]}
  }
}

/** The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, dash, part count. */
export function multipartEtag(parts: {ETag: string}[]): string {
  const md5s = Buffer.concat(parts.map(p => Buffer.from(p.ETag.replace(/"/g, ''), 'hex')))
  return `"${createHash('md5').update(md5s).digest('hex')}-${parts.length}"`
}

// ---------------------------------------------------------------- download

/**
 * Upload side, from the object's HEAD: 'same' when it already holds this file by the time rule
 * (src/base/times.ts), 'changed', or 'content' when only the content can tell: --checksum, or an
 * object without `mtime` metadata (written by another tool, e.g. `aws s3 sync`) whose time
 * (Last-Modified, whole seconds) is not the file's but whose digests can be checked.
 */
export function uploadVerdict(h: Headers, f: {size: number; mtimeNs: string}, mode: CompareMode): 'same' | 'changed' | 'content' {
  if (Number(h['content-length']) !== f.size) return 'changed'
  if (mode === 'checksum') return 'content'
  const stored = storedMtime(h)
  if (stored) return sameTime(stored, f.mtimeNs) ? 'same' : 'changed'
  if (sameTime(lastModifiedTime(h['last-modified'] ?? 0), f.mtimeNs)) return 'same'
  return hasDigest(objectDigests(h)) ? 'content' : 'changed'
}

/** Upload side: true when the object already holds this file (same size, and same time or content). */
export async function remoteUnchanged(s3: S3Storage, bucket: string, f: {key: string; path: string; size: number; mtimeNs: string}, mode: CompareMode, sha256?: string): Promise<boolean> {
  const h = await s3.head(bucket, f.key)
  if (!h) return false
  const verdict = uploadVerdict(h, f, mode)
  if (verdict !== 'content') return verdict === 'same'
  return (await sameContent({path: f.path, size: f.size, sha256}, objectDigests(h))) === true
}

/**
 * Download side: true when the local file already matches the object (size checked by the
 * planner, again here). By default by the time rule; when the times differ but the object's
 * digests allow, by content (a file another tool downloaded, e.g. `aws s3 sync`, which sets
 * Last-Modified as the time): hashing the local file costs less than fetching it again, and the
 * file then gets the object's time, so the next run decides by time alone.
 */
export async function localUnchanged(s3: S3Storage, bucket: string, f: {key: string; path: string; lastModifiedMs?: number}, mode: CompareMode): Promise<boolean> {
  const h = await s3.head(bucket, f.key)
  if (!h) return false
  const local = await lstat(fsPath(f.path), {bigint: true}).catch(() => undefined)
  if (!local?.isFile() || Number(local.size) !== Number(h['content-length'])) return false
  const content: LocalContent = {path: f.path, size: Number(local.size)}
  if (mode === 'checksum') return (await sameContent(content, objectDigests(h))) === true
  const time = objectTime(h, f.lastModifiedMs)
  if (sameTime(time, local.mtimeNs)) return true
  if (!(await sameContent(content, objectDigests(h)))) return false
  await setLocalTime(f.path, time)
  return true
}

/** Gives a local file (never a link) a time, at the microseconds it can hold. */
async function setLocalTime(path: string, time: FileTime): Promise<void> {
  const fh = await open(fsPath(path), constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    await fh.utimes(new Date(), utimesValue(time.ns))
  } finally {
    await fh.close()
  }
}

/** Below this size, synchronous file calls beat four round trips through libuv's thread pool. */
const SMALL_IO = 256 * 1024

/** Thrown when a file is not the one the walk saw any more (size or mtime differ). */
function checkUnchanged(ref: {size: number; mtimeNs?: string}, st: {size: bigint; mtimeNs: bigint}, bytesRead = Number(st.size)): void {
  const size = Number(st.size)
  if (size !== ref.size || bytesRead !== ref.size || (ref.mtimeNs !== undefined && st.mtimeNs !== toNs(ref.mtimeNs)))
    throw new S3cError(`changed while being uploaded (${ref.size} bytes when listed, ${size} now${size === ref.size ? ', modified since' : ''}): nothing was stored; run the upload again`, ExitCode.filesFailed)
}

/** A small file's whole content, checked to be the file the walk saw (a file growing meanwhile fails). */
async function readWholeFile(f: LocalFileRef): Promise<Buffer> {
  if (f.size <= SMALL_IO) {
    const fd = openSync(fsPath(f.path), 'r')
    try {
      const body = readFileSync(fd)
      checkUnchanged(f, fstatSync(fd, {bigint: true}), body.length)
      return body
    } finally {
      closeSync(fd)
    }
  }
  const fh = await open(fsPath(f.path), 'r')
  try {
    const body = await fh.readFile()
    checkUnchanged(f, await fh.stat({bigint: true}), body.length)
    return body
  } finally {
    await fh.close()
  }
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
    if (f.compare && (await localUnchanged(ctx.s3, job.bucket, f, f.compare))) return {key: f.key, path: f.path, bytes: f.size, status: 'skipped'}
    const res = await ctx.s3.get(job.bucket, f.key, r => {
      const want = r.headers[`x-amz-meta-${META_SHA256}`]
      if (want && want !== sha256Hex(r.body)) throw new ChecksumMismatch(f.key)
    })
    await writeFileSafely(job.root, f.path, res.body, {mtimeNs: objectTime(res.headers, f.lastModifiedMs).ns})
    ctx.onBytes(res.body.length)
    return {key: f.key, path: f.path, bytes: res.body.length, status: 'done'}
  } catch (error) {
    return failed(f, error)
  }
}

async function downloadFiles(job: DownloadFilesJob, ctx: JobContext): Promise<JobResult> {
  const files = job.files.length === 1 ? [await downloadOne(job, job.files[0], ctx)] : await Promise.all(job.files.map(f => downloadOne(job, f, ctx)))
  return {files: job.removeSource ? await removeObjectSources(ctx, job.bucket, files) : files}
}

async function downloadRange(job: DownloadRangeJob, ctx: JobContext): Promise<JobResult> {
  let res: {body: Buffer; headers: Headers}
  try {
    if (isLocalSource(job.source)) {
      // A member of a local tar: the file the planner saw (a changed one fails, as If-Match does).
      const src = await openSourceRef(job.source, ctx.s3)
      try {
        res = {body: await src.read(job.offset, job.length), headers: {}}
      } finally {
        await src.close()
      }
    } else {
      res = await ctx.s3.getRange(job.source, job.offset, job.length)
    }
  } catch (error) {
    // A tar member (base set): its tar is no longer the one the index describes.
    if (error instanceof SourceChangedError && job.base !== undefined) throw staleIndexError(error.label, error.local)
    throw error
  }
  const fh = await openTempFile(job.root, job.tmpPath)
  try {
    if (job.scatter) for (const [from, length, to] of job.scatter) await fh.write(res.body, from, length, to)
    else await fh.write(res.body, 0, res.body.length, job.offset - (job.base ?? 0))
  } finally {
    await fh.close()
  }
  ctx.onBytes(res.body.length)
  return job.offset === 0 && !job.base ? {meta: {...metaOf(res.headers), 'last-modified': res.headers['last-modified'] ?? ''}} : {}
}

async function finishDownload(job: FinishDownloadJob, ctx: JobContext, children?: ChildrenOutcome): Promise<JobResult> {
  const ref = {key: job.key, path: job.path, size: job.size}
  try {
    if (children && children.failures.length > 0) {
      await unlink(fsPath(job.tmpPath)).catch(() => undefined)
      return {files: [failed(ref, children.failures[0])]}
    }
    const meta = children?.results.find(r => r.meta)?.meta ?? {}
    if (job.verify && meta[META_SHA256] && meta[META_SHA256] !== (await sha256File(job.tmpPath)))
      throw new ChecksumMismatch(job.key)
    if (job.crc !== undefined && job.crc !== (job.sparse ? await crc32FileRuns(job.tmpPath, job.sparse) : await crc32File(job.tmpPath)))
      throw new Error(`content of ${job.path} does not match the CRC-32 in the index`)
    if (job.mode !== undefined) await chmod(fsPath(job.tmpPath), job.mode & 0o7777)
    // A tar member's time comes from the archive's index; an object's by the time rule.
    const mtimeNs = job.mtimeNs ?? objectTime(headersOfMeta(meta), job.lastModifiedMs).ns
    await utimes(fsPath(job.tmpPath), new Date(), utimesValue(mtimeNs))
    await renameIntoPlace(job.root, job.tmpPath, job.path)
    const done: FileOutcome = {key: job.key, path: job.path, bytes: job.size, status: 'done'}
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

/** The job handlers, by kind: the single code path for the work, whoever runs it. */
export const handlers: Handlers = {
  'upload-files': uploadFiles,
  'upload-part': uploadPart,
  'complete-upload': completeUpload,
  'download-files': downloadFiles,
  'download-range': downloadRange,
  'finish-download': finishDownload,
  'tar-part': tarPart,
  'complete-tar': completeTar,
  'extract-members': extractMembers,
  'tar-copy': tarCopy,
  'tar-temp': tarTemp,
  'copy-members': copyMembers,
  'copy-object': copyObjects,
  'copy-part': copyPart,
  'complete-copy': completeCopy,
}
