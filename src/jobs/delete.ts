import {classifyError, describeError, FatalError} from '../base/errors.js'
import type {FileOutcome, JobContext, JobKindDefinition, JobResult} from './kind.js'

/**
 * Keys of one bucket removed by one DeleteObjects request (rm, rb --force, sync --delete): at
 * most 1,000, S3's limit. Deleting is idempotent, so a job run twice (its worker died) is harmless.
 */
export interface DeleteObjectsJob {
  kind: 'delete-objects'
  bucket: string
  keys: string[]
}

/**
 * One DeleteObjects request (rm, rb --force, sync --delete): each key is done, or failed with
 * the reason S3 gave for it; a request that fails for good fails all its keys, a refusal of the
 * whole run (403, …) stops it. A key that was already gone counts as removed (S3 deletes
 * idempotently), so a job run again after its worker died reports the same.
 */
export async function deleteObjects(job: DeleteObjectsJob, ctx: JobContext): Promise<JobResult> {
  const outcome = (key: string, error?: string): FileOutcome =>
    ({key, path: `s3://${job.bucket}/${key}`, bytes: 0, status: error === undefined ? 'done' : 'failed', error})
  try {
    const refused = new Map((await ctx.s3.deleteMany(job.bucket, job.keys)).map(r => [r.key, r.error]))
    return {files: job.keys.map(k => outcome(k, refused.get(k)))}
  } catch (error) {
    if (error instanceof FatalError) throw error
    if (classifyError(error) === 'fatal') throw new FatalError(error)
    const reason = describeError(error)
    return {files: job.keys.map(k => outcome(k, reason))}
  }
}

export const deleteObjectsKind: JobKindDefinition<DeleteObjectsJob> = {
  kind: 'delete-objects',
  handler: deleteObjects,
  idKeys: job => `${job.bucket}\n${job.keys.join('\n')}`,
  files: job => job.keys.map(key => ({key, path: `s3://${job.bucket}/${key}`, bytes: 0})),
  localPaths: () => [],
}
