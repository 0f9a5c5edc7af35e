import {fatalToUserError} from '../base/errors.js'
import {retryPolicy} from '../base/retry.js'
import type {S3Store, MultipartUpload} from '../base/storage.js'
import type {S3Config} from '../s3/config.js'
import type {S3Location} from '../base/location.js'
import {openStore} from '../storage/open.js'

/** s3c's temporary objects: a tar's staged TOC (`ARCHIVE.s3c-toc-…`) and its padded temporary objects (`ARCHIVE.s3c-tmp-…`). */
export const isTemporaryKey = (key: string) => /\.s3c-(toc|tmp)-/.test(key)

/**
 * Before a tar create or bundle writes ARCHIVE: what an earlier try of it that was killed
 * (kill -9, a crash) left behind, found by the key: its multipart uploads (and those of its
 * temporary objects) are aborted and its temporary objects deleted. Best effort: a server that
 * cannot list uploads only loses the first half.
 */
export async function cleanupArchiveLeftovers(s3: S3Store, bucket: string, archiveKey: string): Promise<void> {
  const uploads = await s3.listMultipartUploads(bucket, archiveKey).catch(() => undefined)
  await abortAll(s3, bucket, (uploads ?? []).filter(u => u.key === archiveKey || (u.key.startsWith(archiveKey) && isTemporaryKey(u.key)))).catch(() => undefined)
  const temporary: string[] = []
  for await (const o of s3.listObjects(bucket, `${archiveKey}.s3c-`)) if (isTemporaryKey(o.key)) temporary.push(o.key)
  // Best effort: a leftover temporary object is found by s3c cleanup.
  await s3.deleteMany(bucket, temporary).catch(() => undefined)
}

async function abortAll(s3: S3Store, bucket: string, uploads: MultipartUpload[]): Promise<void> {
  await Promise.all(uploads.map(u => s3.abortMultipart({bucket, key: u.key, uploadId: u.uploadId})))
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
  const s3 = await openStore(opts.s3, retryPolicy(opts.maxRetry))
  const {bucket, prefix} = opts.location
  try {
    await s3.checkBucket(bucket, prefix)
    const temporary: string[] = []
    for await (const o of s3.listObjects(bucket, prefix)) {
      if (!isTemporaryKey(o.key)) continue
      temporary.push(o.key)
      opts.onItem?.(`temporary object s3://${bucket}/${o.key}`)
    }
    const now = Date.now()
    const uploads = (await s3.listMultipartUploads(bucket, prefix))
      ?.filter(u => !opts.olderThanMs || !u.initiated || now - u.initiated.getTime() >= opts.olderThanMs)
    for (const u of uploads ?? []) opts.onItem?.(`multipart upload s3://${bucket}/${u.key} (upload id ${u.uploadId}${u.initiated ? `, started ${u.initiated.toISOString()}` : ''})`)
    if (!opts.dryRun) {
      await abortAll(s3, bucket, uploads ?? [])
      await s3.deleteMany(bucket, temporary).catch(() => undefined)
    }
    return {temporaryObjects: temporary.length, multipartUploads: uploads?.length}
  } catch (error) {
    throw fatalToUserError(error, {bucket, endpoint: s3.endpointLabel})
  } finally {
    await s3.close()
  }
}
