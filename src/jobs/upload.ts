import {createHash} from 'node:crypto'
import {open, stat, unlink} from 'node:fs/promises'
import {ExitCode, S3cError, describeError} from '../base/errors.js'
import {toNs} from '../base/times.js'
import {contentTypeOf} from '../base/content-type.js'
import {fsPath} from '../local/fs-path.js'
import {readRange} from '../local/storage.js'
import {readSmall} from '../local/small-io.js'
import type {Headers, MultipartTarget} from '../base/storage.js'
import {objectHeaders, sha256Hex} from '../s3/storage.js'
import {META_MTIME, META_SHA256, formatMtime, objectDigests} from './metadata.js'
import {sameContent, syncInfoOfHead, uploadVerdict} from './compare.js'
import {eachFile, failed, smallFiles, type ChildrenOutcome, type CompareMode, type FileOutcome, type JobContext, type JobKindDefinition, type JobResult, type CopySettings, type FileSyncInfo} from './kind.js'

/* The upload kinds: upload-files (small files, one PUT each), upload-part, complete-upload (a large file's parts and their parent). */

export interface LocalFileRef {
  path: string
  key: string
  size: number
  /** Modification time in nanoseconds since the epoch, as a decimal string (jobs are JSON; see src/base/times.ts). */
  mtimeNs: string
  /** Set when the counterpart exists with the same size: check before transferring. */
  compare?: CompareMode
  /** The object's content is known to have this SHA-256 (sync state): a file that hashes to it is skipped without a request. */
  expectSha256?: string
}

export interface UploadFilesJob {
  kind: 'upload-files'
  bucket: string
  files: LocalFileRef[]
  storageClass?: string
  /** mv: delete each local file once its object is stored. */
  removeSource?: boolean
  /** cp: the content type, metadata, encryption and ACL the objects get (storage class above). */
  settings?: CopySettings
}

export interface UploadPartJob {
  kind: 'upload-part'
  bucket: string
  key: string
  uploadId: string
  path: string
  partNumber: number
  offset: number
  length: number
}

/** Parent of the upload-part jobs of one file: completes (or aborts) the multipart upload. */
export interface CompleteUploadJob {
  kind: 'complete-upload'
  bucket: string
  key: string
  uploadId: string
  path: string
  size: number
  /** The file's mtime (ns, decimal) as the walk saw it: a file changed while its parts were read fails. */
  mtimeNs?: string
  /** mv: delete the local file once the upload is complete. */
  removeSource?: boolean
}

async function uploadHeaders(f: LocalFileRef, sha256: string, storageClass?: string, settings?: CopySettings): Promise<Headers> {
  const h: Headers = {
    ...objectHeaders({...settings, metadata: undefined, storageClass}),
    'content-type': await contentTypeOf(f.path, settings?.contentType),
    [`x-amz-meta-${META_MTIME}`]: formatMtime(f.mtimeNs),
    [`x-amz-meta-${META_SHA256}`]: sha256,
  }
  // cp --metadata: the user's keys, never in place of the time and checksum s3c compares by.
  for (const [k, v] of Object.entries(settings?.metadata ?? {})) h[`x-amz-meta-${k.toLowerCase()}`] ??= v
  return h
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
    const headers = await uploadHeaders(f, sha256, job.storageClass, job.settings)
    const {etag} = await ctx.s3.put(job.bucket, f.key, body, {headers, sha256})
    ctx.onBytes(body.length)
    return {key: f.key, path: f.path, bytes: body.length, status: 'done', state: {etag, sha256, mtime: headers[`x-amz-meta-${META_MTIME}`]}}
  } catch (error) {
    return failed(f, error)
  }
}

export async function uploadFiles(job: UploadFilesJob, ctx: JobContext): Promise<JobResult> {
  const files = await eachFile(job.files, ctx, f => uploadOne(job, f, ctx))
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

export async function uploadPart(job: UploadPartJob, ctx: JobContext): Promise<JobResult> {
  const body = await readRange(job.path, job.offset, job.length)
  const part = await ctx.s3.uploadPart(job, job.partNumber, body)
  ctx.onBytes(body.length)
  return {part}
}

/** Aborts a multipart upload, best effort: a leftover is for s3c cleanup, not a reason to fail twice. */
export async function abortUpload(ctx: JobContext, target: MultipartTarget): Promise<void> {
  await ctx.s3.abortMultipart(target).catch(() => undefined)
}

export async function completeUpload(job: CompleteUploadJob, ctx: JobContext, children?: ChildrenOutcome): Promise<JobResult> {
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
    // Some servers answer without an ETag the SDK reads: one HEAD then, so the sync state can
    // record the object (else the next run would check it with a HEAD anyway).
    let {etag} = await ctx.s3.completeMultipart(job, parts)
    if (!etag) etag = (await ctx.s3.head(job.bucket, job.key).catch(() => undefined))?.etag ?? ''
    const done: FileOutcome = {key: job.key, path: job.path, bytes: job.size, status: 'done', state: {etag: etag || undefined, mtime}}
    return {files: [job.removeSource ? await removeLocalSource(done) : done]}
  } catch (error) {
    // This job may run twice (its worker died after S3 completed the upload): then the upload
    // id is gone and the object is there with exactly the ETag these parts make.
    if ((error as Error).name === 'NoSuchUpload' && (await ctx.s3.head(job.bucket, job.key))?.etag === multipartEtag(parts)) {
      const done: FileOutcome = {key: job.key, path: job.path, bytes: job.size, status: 'done', state: {etag: multipartEtag(parts), mtime}}
      return {files: [job.removeSource ? await removeLocalSource(done) : done]}
    }
    await abortUpload(ctx, job)
    return {files: [failed(ref, error)]}
  }
}

/** The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, dash, part count. */
export function multipartEtag(parts: {ETag: string}[]): string {
  const md5s = Buffer.concat(parts.map(p => Buffer.from(p.ETag.replace(/"/g, ''), 'hex')))
  return `"${createHash('md5').update(md5s).digest('hex')}-${parts.length}"`
}

/** Up to this size a file is read whole on the I/O threads; larger ones through libuv's thread pool. */
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
    // On the I/O threads (src/local/small-io.ts): a file whose pages are not cached does not stop the main thread.
    const r = await readSmall({path: fsPath(f.path), size: f.size})
    if (r.failure) throw Object.assign(new Error(r.failure.message), {code: r.failure.code})
    checkUnchanged(f, {size: BigInt(r.size), mtimeNs: BigInt(r.mtimeNs)}, r.bytesRead)
    return Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength)
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

export const uploadFilesKind: JobKindDefinition<UploadFilesJob> = {
  kind: 'upload-files',
  handler: uploadFiles,
  ...smallFiles<UploadFilesJob>(),
}

export const uploadPartKind: JobKindDefinition<UploadPartJob> = {
  kind: 'upload-part',
  handler: uploadPart,
  idKeys: job => `${job.key}\n${job.offset}`,
  partBytes: job => job.length,
  localPaths: job => [job.path],
}

export const completeUploadKind: JobKindDefinition<CompleteUploadJob> = {
  kind: 'complete-upload',
  handler: completeUpload,
  parent: true,
  idKeys: job => job.key,
  files: job => [{key: job.key, path: job.path, bytes: job.size}],
  localPaths: job => [job.path],
}
