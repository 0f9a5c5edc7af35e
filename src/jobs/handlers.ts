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
import {META_MTIME, META_SHA256, formatMtime, hasDigest, objectDigests, objectTime, storedMtime} from './metadata.js'
import {sameContent, type LocalContent} from './content.js'
import {lastModifiedTime, sameTime, toNs, utimesValue, type FileTime} from '../base/times.js'
import {openSourceRef, preadFully} from '../local/storage.js'
import {staleIndexError} from '../s3ci/format.js'
import {isLocalSource, SourceChangedError} from '../base/storage.js'
import type {LocalStat} from '../sync/state.js'
import type {
  ChildrenOutcome, CompareMode, CompleteUploadJob, DownloadFilesJob, DownloadRangeJob, FileOutcome, FileSyncInfo, FinishDownloadJob,
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

function uploadHeaders(f: LocalFileRef, sha256: string, storageClass?: string): Headers {
  const h: Headers = {
    'content-type': mime.lookup(f.path) || 'application/octet-stream',
    [`x-amz-meta-${META_MTIME}`]: formatMtime(f.mtimeNs),
    [`x-amz-meta-${META_SHA256}`]: sha256,
  }
  if (storageClass) h['x-amz-storage-class'] = storageClass
  return h
}

/** What the sync state records of an object from its HEAD (its ETag, stored mtime and SHA-256). */
export function syncInfoOfHead(h: Headers): FileSyncInfo {
  return {etag: h.etag, mtime: h[`x-amz-meta-${META_MTIME}`], sha256: h[`x-amz-meta-${META_SHA256}`]}
}

/** `lstat` of a file as the sync state records it (bigint: full precision; undefined unless a regular file). */
export async function syncStatOf(path: string): Promise<LocalStat | undefined> {
  const st = await lstat(fsPath(path), {bigint: true}).catch(() => undefined)
  return st?.isFile() ? {size: Number(st.size), mtimeNs: String(st.mtimeNs), ino: String(st.ino), ctimeNs: String(st.ctimeNs)} : undefined
}

async function uploadOne(job: UploadFilesJob, f: LocalFileRef, ctx: JobContext): Promise<FileOutcome> {
  try {
    const skipped = (state?: FileSyncInfo): FileOutcome => ({key: f.key, path: f.path, bytes: f.size, status: 'skipped', ...(state ? {state} : {})})
    const head = f.compare ? await ctx.s3.head(job.bucket, f.key) : undefined
    // Decided by time before reading: an unchanged file is never read.
    const verdict = head ? uploadVerdict(head, f, f.compare!) : 'changed'
    if (verdict === 'same') return skipped(syncInfoOfHead(head!))
    const body = await readWholeFile(f)
    const sha256 = sha256Hex(body)
    // The sync state knows the object's content by its digest: the same bytes need no request
    // (the planner records the entry from the listing and the state).
    if (f.expectSha256 === sha256) return skipped()
    if (verdict === 'content' && (await sameContent({path: f.path, size: f.size, body, sha256}, objectDigests(head!)))) return skipped({...syncInfoOfHead(head!), sha256})
    const headers = uploadHeaders(f, sha256, job.storageClass)
    const {etag} = await ctx.s3.put(job.bucket, f.key, body, {headers, sha256})
    ctx.onBytes(body.length)
    return {key: f.key, path: f.path, bytes: body.length, status: 'done', state: {etag, sha256, mtime: headers[`x-amz-meta-${META_MTIME}`]}}
  } catch (error) {
    return failed(f, error)
  }
}

async function uploadFiles(job: UploadFilesJob, ctx: JobContext): Promise<JobResult> {
  if (job.files.length === 1) return {files: [await uploadOne(job, job.files[0], ctx)]}
  return {files: await Promise.all(job.files.map(f => uploadOne(job, f, ctx)))}
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
  const mtime = job.mtimeNs !== undefined ? formatMtime(job.mtimeNs) : undefined
  try {
    // Some servers (Ceph RGW) answer without an ETag the SDK reads: then the sync state records nothing for it.
    const {etag} = await ctx.s3.completeMultipart(job, parts)
    return {files: [{key: job.key, path: job.path, bytes: job.size, status: 'done', state: {etag: etag || undefined, mtime}}]}
  } catch (error) {
    // This job may run twice (its worker died after S3 completed the upload): then the upload
    // id is gone and the object is there with exactly the ETag these parts make.
    if ((error as Error).name === 'NoSuchUpload' && (await ctx.s3.head(job.bucket, job.key))?.etag === multipartEtag(parts))
      return {files: [{key: job.key, path: job.path, bytes: job.size, status: 'done', state: {etag: multipartEtag(parts), mtime}}]}
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
  return (await remoteCheck(s3, bucket, f, mode, sha256)).same
}

/** remoteUnchanged, with what the sync state records of the object when it holds the file. */
export async function remoteCheck(s3: S3Storage, bucket: string, f: {key: string; path: string; size: number; mtimeNs: string}, mode: CompareMode, sha256?: string): Promise<{same: boolean; state?: FileSyncInfo}> {
  const h = await s3.head(bucket, f.key)
  if (!h) return {same: false}
  const verdict = uploadVerdict(h, f, mode)
  const same = verdict === 'content' ? (await sameContent({path: f.path, size: f.size, sha256}, objectDigests(h))) === true : verdict === 'same'
  return same ? {same, state: syncInfoOfHead(h)} : {same}
}

/**
 * Download side: true when the local file already matches the object (size checked by the
 * planner, again here). By default by the time rule; when the times differ but the object's
 * digests allow, by content (a file another tool downloaded, e.g. `aws s3 sync`, which sets
 * Last-Modified as the time): hashing the local file costs less than fetching it again, and the
 * file then gets the object's time, so the next run decides by time alone.
 */
export async function localUnchanged(s3: S3Storage, bucket: string, f: {key: string; path: string; lastModifiedMs?: number}, mode: CompareMode): Promise<boolean> {
  return (await localCheck(s3, bucket, f, mode)).same
}

/** localUnchanged, with what the sync state records when the file matches (the object's HEAD, the file's lstat after). */
export async function localCheck(s3: S3Storage, bucket: string, f: {key: string; path: string; lastModifiedMs?: number}, mode: CompareMode): Promise<{same: boolean; state?: FileSyncInfo}> {
  const h = await s3.head(bucket, f.key)
  if (!h) return {same: false}
  const local = await lstat(fsPath(f.path), {bigint: true}).catch(() => undefined)
  if (!local?.isFile() || Number(local.size) !== Number(h['content-length'])) return {same: false}
  const content: LocalContent = {path: f.path, size: Number(local.size)}
  const matched = async () => ({same: true, state: {...syncInfoOfHead(h), local: await syncStatOf(f.path)}})
  if (mode === 'checksum') return (await sameContent(content, objectDigests(h))) === true ? matched() : {same: false}
  const time = objectTime(h, f.lastModifiedMs)
  if (sameTime(time, local.mtimeNs)) return matched()
  if (!(await sameContent(content, objectDigests(h)))) return {same: false}
  await setLocalTime(f.path, time)
  return matched()
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
    if (f.compare) {
      const check = await localCheck(ctx.s3, job.bucket, f, f.compare)
      if (check.same) return {key: f.key, path: f.path, bytes: f.size, status: 'skipped', state: check.state}
    }
    // The sync state knows the object's content by its digest: a local file with those bytes is kept (the planner records the entry).
    if (f.expectSha256 && (await syncStatOf(f.path))?.size === f.size && (await sha256File(f.path)) === f.expectSha256)
      return {key: f.key, path: f.path, bytes: f.size, status: 'skipped'}
    let verified: string | undefined
    const res = await ctx.s3.get(job.bucket, f.key, r => {
      const want = r.headers[`x-amz-meta-${META_SHA256}`]
      if (want && want !== sha256Hex(r.body)) throw new ChecksumMismatch(f.key)
      verified = want
    })
    await writeFileSafely(job.root, f.path, res.body, {mtimeNs: objectTime(res.headers, f.lastModifiedMs).ns})
    ctx.onBytes(res.body.length)
    const state: FileSyncInfo = {etag: res.headers.etag, mtime: res.headers[`x-amz-meta-${META_MTIME}`], sha256: verified, local: await syncStatOf(f.path)}
    return {key: f.key, path: f.path, bytes: res.body.length, status: 'done', state}
  } catch (error) {
    return failed(f, error)
  }
}

async function downloadFiles(job: DownloadFilesJob, ctx: JobContext): Promise<JobResult> {
  if (job.files.length === 1) return {files: [await downloadOne(job, job.files[0], ctx)]}
  return {files: await Promise.all(job.files.map(f => downloadOne(job, f, ctx)))}
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
    // The ranges were pinned to job.etag (If-Match); the digest counts only when it was checked.
    const sha256 = job.verify && meta[META_SHA256] ? meta[META_SHA256] : undefined
    const state: FileSyncInfo = {etag: job.etag, mtime: meta[META_MTIME], sha256, local: await syncStatOf(job.path)}
    return {files: [{key: job.key, path: job.path, bytes: job.size, status: 'done', state}]}
  } catch (error) {
    // Run twice (its worker died after the rename): the file is already in place.
    const done = (error as {code?: string}).code === 'ENOENT' && (await lstat(fsPath(job.path)).catch(() => undefined))?.size === job.size
    if (done) return {files: [{key: job.key, path: job.path, bytes: job.size, status: 'done'}]}
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
}
