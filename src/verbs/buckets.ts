import {parseLocation} from '../base/location.js'
import {ExitCode, FatalError, S3cError} from '../base/errors.js'
import type {S3Store} from '../base/storage.js'
import {userError} from './expand.js'
import {removeObjects, type RemoveSummary} from './rm.js'

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

function checkName(bucket: string): void {
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..'))
    throw new S3cError(`"${bucket}" is not a valid bucket name: use 3-63 lowercase letters, digits, dots and hyphens`, ExitCode.usage)
}

/** The bucket of an `s3://bucket` argument (a key after it is refused: mb and rb act on buckets). */
export function bucketOfUrl(url: string, verb: string): string {
  const loc = parseLocation(url)
  if (loc.type !== 's3' || loc.kind !== 'bucket') throw new S3cError(`${verb} takes a bucket: give s3://bucket, not "${url}"`, ExitCode.usage)
  return loc.bucket
}

/**
 * `s3c mb s3://b`. An existing bucket is refused with one line (exit 2), also one the caller
 * owns (AWS's us-east-1 would answer 200 to a second CreateBucket: a HEAD first tells).
 * `region` is sent as LocationConstraint only to AWS outside us-east-1 (custom servers often refuse it).
 */
export async function makeBucket(s3: S3Store, bucket: string, opts: {locationConstraint?: string} = {}): Promise<void> {
  checkName(bucket)
  const exists = (): S3cError => new S3cError(`bucket "${bucket}" already exists at ${s3.endpointLabel}: choose another name`, ExitCode.usage)
  try {
    if (await s3.bucketExists(bucket)) throw exists()
    await s3.createBucket(bucket, opts.locationConstraint)
  } catch (error) {
    const name = ((error instanceof FatalError ? error.original : error) as Error)?.name
    if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') throw exists()
    throw userError(error, bucket, s3)
  }
}

export interface RemoveBucketResult {
  /** Objects deleted first (--force). */
  objectsDeleted: number
  /** Older versions and delete markers deleted (--force on a bucket with versioning; absent when there were none). */
  versionsDeleted?: number
  /** Multipart uploads aborted first (--force); undefined when the server does not list them. */
  uploadsAborted?: number
}

/**
 * `s3c rb s3://b`: refuses a bucket that holds objects (exit 2). With `force` it first deletes
 * every object (DeleteObjects of 1,000) and aborts the incomplete multipart uploads (where the
 * server lists them; listed first, so a listing that fails deletes nothing), then removes the
 * bucket; when the server still finds it not empty (versioning: older versions and delete
 * markers), it deletes every version and marker (ListObjectVersions, DeleteObjects with version
 * ids) and removes it then. Whatever the bucket holds, `--force` removes it.
 */
export async function removeBucket(s3: S3Store, bucket: string, opts: {force?: boolean; threadCount?: number
  /** How the objects are deleted (`rm 's3://bucket/*'`): in-process on `s3` unless given (the CLI: a run, on workers with --redis). */
  empty?: () => Promise<RemoveSummary>} = {}): Promise<RemoveBucketResult> {
  const result: RemoveBucketResult = {objectsDeleted: 0}
  try {
    if (!await s3.bucketExists(bucket)) throw new S3cError(`bucket "${bucket}" does not exist at ${s3.endpointLabel}: check the name (s3c ls lists the buckets)`, ExitCode.usage, 'NoSuchBucket')
    if (!opts.force) {
      const {empty} = await s3.checkBucket(bucket, '')
      if (!empty) throw new S3cError(`bucket "${bucket}" is not empty: remove its objects first (s3c rm 's3://${bucket}/*'), or use rb --force`, ExitCode.usage)
    } else {
      // Listed before anything is deleted: a listing the server cannot finish (nextMarkers) stops rb with every object in place.
      const uploads = await s3.listMultipartUploads(bucket, '')
      const summary = await (opts.empty ?? (() => removeObjects(s3, [`s3://${bucket}/*`], {threadCount: opts.threadCount})))()
      if (summary.failed > 0)
        throw new S3cError(`bucket "${bucket}" kept ${summary.failed} objects it could not delete (first: ${summary.failures[0]?.url}: ${summary.failures[0]?.error})`, ExitCode.filesFailed)
      result.objectsDeleted = summary.removed
      if (uploads) {
        for (const u of uploads) await s3.abortMultipart({bucket, key: u.key, uploadId: u.uploadId})
        result.uploadsAborted = uploads.length
      }
    }
    await s3.deleteBucket(bucket).catch(async (error: unknown) => {
      if (!opts.force || ((error instanceof FatalError ? error.original : error) as Error)?.name !== 'BucketNotEmpty') throw error
      result.versionsDeleted = await deleteVersions(s3, bucket)
      await s3.deleteBucket(bucket)
    })
  } catch (error) {
    const name = ((error instanceof FatalError ? error.original : error) as Error)?.name
    if (name === 'BucketNotEmpty') throw new S3cError(`bucket "${bucket}" is not empty (object versions or uploads remain): delete them first`, ExitCode.usage)
    throw userError(error, bucket, s3)
  }
  return result
}

/** Every version and delete marker of a bucket, deleted 1,000 a request: what a versioned bucket keeps after its objects are deleted. */
async function deleteVersions(s3: S3Store, bucket: string): Promise<number> {
  let deleted = 0
  let previous: string | undefined
  for (;;) {
    // Listed again from the start after each page's deletes: the markers move as versions go.
    let page: {key: string; versionId: string}[] = []
    for await (const versions of s3.listVersions(bucket, '')) {
      page = versions.map(v => ({key: v.key, versionId: v.versionId}))
      break
    }
    if (page.length === 0) return deleted
    const first = `${page[0].key}\0${page[0].versionId}`
    if (first === previous) throw new S3cError(`bucket "${bucket}": ${page[0].key} (version ${page[0].versionId}) is listed again after its delete`, ExitCode.filesFailed)
    previous = first
    const failed = await s3.deleteMany(bucket, page)
    if (failed.length > 0) throw new S3cError(`bucket "${bucket}" kept versions it could not delete (first: ${failed[0].key}: ${failed[0].error})`, ExitCode.filesFailed)
    deleted += page.length
  }
}
