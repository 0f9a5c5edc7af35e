import {AbortMultipartUploadCommand, ListMultipartUploadsCommand} from '@aws-sdk/client-s3'
import {fatalToUserError, statusOf} from '../base/errors.js'
import {retryPolicy, withRetry, type RetryPolicy} from '../base/retry.js'
import {preflight} from './transfer.js'
import {walkS3} from '../engine/walk.js'
import {deleteObjects} from '../jobs/tar.js'
import {createS3, type S3Handle} from '../s3/client.js'
import type {S3Config} from '../s3/config.js'
import type {S3Location} from '../s3/url.js'

/** s3c's temporary objects: a tar's staged TOC (`ARCHIVE.s3c-toc-…`) and its padded temporary objects (`ARCHIVE.s3c-tmp-…`). */
export const isTemporaryKey = (key: string) => /\.s3c-(toc|tmp)-/.test(key)

interface S3Ops {
  s3: S3Handle
  retry: RetryPolicy
  signal?: AbortSignal
}

export interface MultipartUpload {
  key: string
  uploadId: string
  initiated?: Date
}

/**
 * The incomplete multipart uploads under a prefix, or undefined when the server does not list
 * them: it answers NotImplemented (or 501), or with something that is not a
 * ListMultipartUploadsResult (fauxqs answers with an object listing, which has no Bucket).
 */
export async function listMultipartUploads(ops: S3Ops, bucket: string, prefix: string): Promise<MultipartUpload[] | undefined> {
  const out: MultipartUpload[] = []
  let keyMarker: string | undefined
  let uploadIdMarker: string | undefined
  for (;;) {
    let page
    try {
      page = await withRetry(() => ops.s3.client.send(new ListMultipartUploadsCommand({
        Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker,
      }), {abortSignal: ops.signal}), ops.retry, ops.signal)
    } catch (error) {
      const name = (error as {name?: string}).name
      if (name === 'NotImplemented' || statusOf(error) === 501) return undefined
      throw error
    }
    if (page.Bucket === undefined) return undefined
    for (const u of page.Uploads ?? []) if (u.Key && u.UploadId) out.push({key: u.Key, uploadId: u.UploadId, initiated: u.Initiated})
    if (!page.IsTruncated) return out
    keyMarker = page.NextKeyMarker
    uploadIdMarker = page.NextUploadIdMarker
    if (!keyMarker && !uploadIdMarker) return out
  }
}

async function abortAll(ops: S3Ops, bucket: string, uploads: MultipartUpload[]): Promise<void> {
  await Promise.all(uploads.map(u => withRetry(() => ops.s3.client.send(new AbortMultipartUploadCommand({Bucket: bucket, Key: u.key, UploadId: u.uploadId})), ops.retry)
    .catch(error => {
      if (statusOf(error) !== 404) throw error // already gone: fine
    })))
}

/**
 * Before a tar create or bundle writes ARCHIVE: what an earlier try of it that was killed
 * (kill -9, a crash) left behind, found by the key: its multipart uploads (and those of its
 * temporary objects) are aborted and its temporary objects deleted. Best effort: a server that
 * cannot list uploads only loses the first half.
 */
export async function cleanupArchiveLeftovers(ops: S3Ops, bucket: string, archiveKey: string): Promise<void> {
  const uploads = await listMultipartUploads(ops, bucket, archiveKey).catch(() => undefined)
  await abortAll(ops, bucket, (uploads ?? []).filter(u => u.key === archiveKey || (u.key.startsWith(archiveKey) && isTemporaryKey(u.key)))).catch(() => undefined)
  const temporary: string[] = []
  for await (const o of walkS3(ops.s3, bucket, `${archiveKey}.s3c-`, ops.retry, ops.signal)) if (isTemporaryKey(o.key)) temporary.push(o.key)
  await deleteObjects(ops, bucket, temporary)
}

export interface CleanupOptions {
  location: S3Location
  s3: S3Config
  maxRetry: number
  dryRun: boolean
  /** Spare multipart uploads started less than this long ago (ms). */
  olderThanMs?: number
  /** Told each leftover found (dry run: what would go). */
  onItem?: (line: string) => void
}

export interface CleanupResult {
  temporaryObjects: number
  /** undefined: the server does not list multipart uploads. */
  multipartUploads?: number
}

/**
 * `s3c cleanup s3://bucket/prefix`: aborts the incomplete multipart uploads under the prefix and
 * deletes s3c's temporary objects there. S3 does not say who started an upload, so every
 * incomplete upload under the prefix goes (`olderThanMs` spares recent ones).
 */
export async function cleanup(opts: CleanupOptions): Promise<CleanupResult> {
  const s3 = await createS3(opts.s3)
  const ops: S3Ops = {s3, retry: retryPolicy(opts.maxRetry)}
  const {bucket, prefix} = opts.location
  try {
    await preflight(s3, opts.location, prefix)
    const temporary: string[] = []
    for await (const o of walkS3(s3, bucket, prefix, ops.retry)) {
      if (!isTemporaryKey(o.key)) continue
      temporary.push(o.key)
      opts.onItem?.(`temporary object s3://${bucket}/${o.key}`)
    }
    const now = Date.now()
    const uploads = (await listMultipartUploads(ops, bucket, prefix))
      ?.filter(u => !opts.olderThanMs || !u.initiated || now - u.initiated.getTime() >= opts.olderThanMs)
    for (const u of uploads ?? []) opts.onItem?.(`multipart upload s3://${bucket}/${u.key} (upload id ${u.uploadId}${u.initiated ? `, started ${u.initiated.toISOString()}` : ''})`)
    if (!opts.dryRun) {
      await abortAll(ops, bucket, uploads ?? [])
      await deleteObjects(ops, bucket, temporary)
    }
    return {temporaryObjects: temporary.length, multipartUploads: uploads?.length}
  } catch (error) {
    throw fatalToUserError(error, {bucket, endpoint: s3.endpointLabel})
  } finally {
    await s3.close()
  }
}
