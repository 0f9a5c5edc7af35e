import {statusOf} from '../base/errors.js'
import {activeConditions, keptByConditions, type CopyConditions, type SideFacts} from '../base/plans.js'
import {sameTime} from '../base/times.js'
import type {CopySource, Headers} from '../base/storage.js'
import {abortUpload, multipartEtag} from './upload.js'
import {eachFile, failed, type ChildrenOutcome, type CopySettings, type FileOutcome, type JobContext, type JobKindDefinition, type JobResult} from './kind.js'
import {objectTime, storedMtime} from './metadata.js'

/*
 * Server-side copies (S3→S3 cp, mv, sync): the object's bytes never pass through s3c. The same
 * handlers run in-process and on BullMQ workers, so every check that decides whether an object
 * is copied (cp's conditions, sync's time rule) and mv's delete of the source live here.
 */

export type {CopyConditions}

/** One object copied server-side. */
export interface CopyFileRef {
  srcKey: string
  /** The destination key. */
  key: string
  size: number
  /** The listed ETag of the source: the copy is If-Match it, so a source replaced meanwhile fails instead of mixing. */
  etag?: string
  /**
   * sync: the destination holds an object of the same size and another ETag; HEAD both and skip
   * it when its time is the source's (the time rule, src/base/times.ts).
   */
  compare?: boolean
}

/** Objects copied server-side by CopyObject (S3→S3 cp, mv, sync), up to the copy threshold each. */
export interface CopyObjectJob {
  kind: 'copy-object'
  /** The destination bucket (the runner batches jobs by it). */
  bucket: string
  srcBucket: string
  files: CopyFileRef[]
  settings: CopySettings
  conditions?: CopyConditions
  /** sync --exact-timestamps: a same-size object is unchanged only when its time is the source's. */
  exactTimestamps?: boolean
  /** mv: delete the sources that were copied (one DeleteObjects per job). */
  removeSource?: boolean
}

/** One part of a large object copied server-side (UploadPartCopy of a range of the source). */
export interface CopyPartJob {
  kind: 'copy-part'
  bucket: string
  key: string
  uploadId: string
  partNumber: number
  source: CopySource & {start: number; end: number}
}

/** Parent of the copy-part jobs of one object: completes (or aborts) the multipart upload. */
export interface CompleteCopyJob {
  kind: 'complete-copy'
  bucket: string
  key: string
  uploadId: string
  size: number
  srcBucket: string
  srcKey: string
  /** mv: delete the source once the copy is complete. */
  removeSource?: boolean
}

const url = (bucket: string, key: string) => `s3://${bucket}/${key}`

/** What a HEAD says of an object, as cp's conditions see it (src/base/plans.ts). */
export function headFacts(h: Headers | undefined): SideFacts | undefined {
  if (!h) return undefined
  const modified = h['last-modified'] ? Date.parse(h['last-modified']) : Number.NaN
  return {size: Number(h['content-length'] ?? 0), mtimeMs: Number.isFinite(modified) ? modified : undefined}
}

/**
 * S3→S3 cp's conditions before a copy: the destination's HEAD, and the source's when its time
 * matters (--if-source-newer against an existing object). True when the copy is skipped.
 */
export async function skippedByConditions(s3: JobContext['s3'], c: CopyConditions | undefined, src: {bucket: string; key: string; size: number}, dest: {bucket: string; key: string}): Promise<boolean> {
  if (!activeConditions(c)) return false
  const there = headFacts(await s3.head(dest.bucket, dest.key))
  const srcTime = there && c!.ifSourceNewer ? headFacts(await s3.head(src.bucket, src.key))?.mtimeMs : undefined
  return keptByConditions(c, {size: src.size, mtimeMs: srcTime}, there)
}

/**
 * sync: true when the destination already holds the source object (same size checked by the
 * planner). Same content (equal ETags) or the same time by the rule of upload and download
 * (`mtime` metadata, else Last-Modified in whole seconds, compared at the coarser precision of
 * the two). A source without `mtime` metadata has only its Last-Modified, which a copy never
 * shares: then a destination written after the source was last written is its copy, unless
 * --exact-timestamps.
 */
export function copyUnchanged(src: Headers, dest: Headers, exact: boolean): boolean {
  if (Number(src['content-length']) !== Number(dest['content-length'])) return false
  if (src.etag && src.etag === dest.etag) return true
  const a = objectTime(src)
  const b = objectTime(dest)
  if (sameTime(a, b.ns) && sameTime(b, a.ns)) return true
  if (exact || storedMtime(src)) return false
  const srcModified = Date.parse(src['last-modified'] ?? '')
  const destModified = Date.parse(dest['last-modified'] ?? '')
  return Number.isFinite(srcModified) && Number.isFinite(destModified) && destModified >= srcModified
}

/**
 * sync's check of an object the planner found at the destination with the same size and another
 * ETag (a multipart copy's ETag is not its source's): both HEADed, then copyUnchanged. The one
 * decision of the copy job, of the planner of a large copy and of a dry run (which names only what
 * would change: a check it leaves undecided would be a line for nothing).
 */
export async function holdsCopy(s3: JobContext['s3'], src: {bucket: string; key: string}, dest: {bucket: string; key: string}, exact: boolean): Promise<boolean> {
  const [a, b] = await Promise.all([s3.head(src.bucket, src.key), s3.head(dest.bucket, dest.key)])
  return !!a && !!b && copyUnchanged(a, b, exact)
}

async function copyOne(job: CopyObjectJob, f: CopyFileRef, ctx: JobContext): Promise<FileOutcome> {
  const ref = {key: f.key, path: url(job.srcBucket, f.srcKey), size: f.size}
  const skipped: FileOutcome = {key: f.key, path: ref.path, bytes: f.size, status: 'skipped'}
  try {
    if (await skippedByConditions(ctx.s3, job.conditions, {bucket: job.srcBucket, key: f.srcKey, size: f.size}, {bucket: job.bucket, key: f.key})) return {...skipped, reason: 'exists'}
    if (f.compare && await holdsCopy(ctx.s3, {bucket: job.srcBucket, key: f.srcKey}, {bucket: job.bucket, key: f.key}, job.exactTimestamps === true)) return skipped
    let settings = job.settings
    if (settings.replace && settings.contentType === undefined) {
      // New metadata, same content type: REPLACE would drop it otherwise.
      const src = await ctx.s3.head(job.srcBucket, f.srcKey)
      settings = {...settings, contentType: src?.['content-type']}
    }
    try {
      await ctx.s3.copy({bucket: job.srcBucket, key: f.srcKey}, {bucket: job.bucket, key: f.key}, {...settings, etag: f.etag})
    } catch (error) {
      // mv run twice (a worker died after the delete): the source is gone and its copy is there.
      if (!(job.removeSource && statusOf(error) === 404)) throw error
      const dest = await ctx.s3.head(job.bucket, f.key)
      if (!dest || Number(dest['content-length']) !== f.size || (await ctx.s3.head(job.srcBucket, f.srcKey))) throw error
    }
    ctx.onBytes(f.size)
    return {key: f.key, path: ref.path, bytes: f.size, status: 'done'}
  } catch (error) {
    return failed(ref, error)
  }
}

/**
 * mv: deletes the sources of the objects that are now at the destination (copied, or found
 * unchanged), in one DeleteObjects; a source that could not be deleted fails by name (its copy
 * stays: nothing is lost).
 */
async function removeSources(ctx: JobContext, bucket: string, outcomes: FileOutcome[], srcKeyOf: (o: FileOutcome) => string): Promise<FileOutcome[]> {
  const moved = outcomes.filter(o => o.status === 'done' || (o.status === 'skipped' && o.reason === undefined))
  if (moved.length === 0) return outcomes
  let refused: Map<string, string>
  try {
    refused = new Map((await ctx.s3.deleteMany(bucket, moved.map(srcKeyOf))).map(r => [r.key, r.error]))
  } catch (error) {
    const why = failed({key: '', path: '', size: 0}, error).error
    refused = new Map(moved.map(o => [srcKeyOf(o), why ?? 'failed']))
  }
  return outcomes.map(o => {
    const why = refused.get(srcKeyOf(o))
    return why && moved.includes(o) ? {...o, status: 'failed' as const, error: `copied, but the source could not be deleted (${why}): delete it, or run the mv again`} : o
  })
}

export async function copyObjects(job: CopyObjectJob, ctx: JobContext): Promise<JobResult> {
  const outcomes = await eachFile(job.files, ctx, f => copyOne(job, f, ctx))
  if (!job.removeSource) return {files: outcomes}
  const srcOf = new Map(job.files.map(f => [f.key, f.srcKey]))
  return {files: await removeSources(ctx, job.srcBucket, outcomes, o => srcOf.get(o.key)!)}
}

export async function copyPart(job: CopyPartJob, ctx: JobContext): Promise<JobResult> {
  const part = await ctx.s3.copyPart(job, job.partNumber, job.source)
  ctx.onBytes(job.source.end - job.source.start)
  return {part}
}

export async function completeCopy(job: CompleteCopyJob, ctx: JobContext, children?: ChildrenOutcome): Promise<JobResult> {
  const ref = {key: job.key, path: url(job.srcBucket, job.srcKey), size: job.size}
  if (children && children.failures.length > 0) {
    await abortUpload(ctx, job)
    return {files: [failed(ref, children.failures[0])]}
  }
  const parts = (children?.results ?? []).map(r => r.part!).sort((a, b) => a.PartNumber - b.PartNumber)
  let outcome: FileOutcome = {key: job.key, path: ref.path, bytes: job.size, status: 'done'}
  try {
    await ctx.s3.completeMultipart(job, parts)
  } catch (error) {
    // Run twice (its worker died after S3 completed it): the object has exactly these parts' ETag.
    if (!((error as Error).name === 'NoSuchUpload' && (await ctx.s3.head(job.bucket, job.key))?.etag === multipartEtag(parts))) {
      await abortUpload(ctx, job)
      return {files: [failed(ref, error)]}
    }
  }
  if (job.removeSource) [outcome] = await removeSources(ctx, job.srcBucket, [outcome], () => job.srcKey)
  return {files: [outcome]}
}

export const copyObjectKind: JobKindDefinition<CopyObjectJob> = {
  kind: 'copy-object',
  handler: copyObjects,
  idKeys: job => job.files.map(f => f.key).join('\n'),
  files: job => job.files.map(f => ({key: f.key, path: url(job.srcBucket, f.srcKey), bytes: f.size})),
  // Jobs of one run differ only in their files; the source bucket is checked too.
  batchKey: job => `${job.bucket}\n${job.srcBucket}`,
  localPaths: () => [],
}

export const copyPartKind: JobKindDefinition<CopyPartJob> = {
  kind: 'copy-part',
  handler: copyPart,
  idKeys: job => `${job.key}\n${job.uploadId}\n${job.partNumber}`,
  localPaths: () => [],
}

export const completeCopyKind: JobKindDefinition<CompleteCopyJob> = {
  kind: 'complete-copy',
  handler: completeCopy,
  parent: true,
  idKeys: job => job.key,
  files: job => [{key: job.key, path: url(job.srcBucket, job.srcKey), bytes: job.size}],
  localPaths: () => [],
}
