import type {Redis} from 'ioredis'
import {ExitCode, S3cError} from '../core/errors.js'
import type {StoredCommand} from '../core/transfer.js'
import {readCounters} from './counters.js'
import {runDoneKey, runFailuresKey, runJobsKey, runKey} from './redis.js'

/**
 * Makes a finished run with failed files ready to run again under the same id: the failures are
 * cleared and every job may be added again. Files that arrived are skipped by the usual
 * size + mtime check; only the failed ones are sent.
 */
export async function prepareRetry(redis: Redis, runId: string): Promise<StoredCommand> {
  const c = await readCounters(redis, runId)
  if (!c.createdAt) throw new S3cError(`no run "${runId}" in this Redis: see s3c runs`, ExitCode.usage)
  if (!c.command) throw new S3cError(`run "${runId}" was made by an older s3c and cannot be retried: run its command again`, ExitCode.usage)
  if (c.jobsFinished < c.jobsAdded && !c.fatal) throw new S3cError(`run "${runId}" is still running (${c.jobsAdded - c.jobsFinished} jobs pending): wait for it, see s3c status`, ExitCode.usage)
  if (c.filesFailed === 0 && !c.fatal) throw new S3cError(`run "${runId}" has no failed files: nothing to retry`, ExitCode.usage)
  await redis.multi()
    .del(runFailuresKey(runId), runDoneKey(runId), runJobsKey(runId))
    .hset(runKey(runId), {filesFailed: 0, status: 'running'})
    .hdel(runKey(runId), 'fatal', 'finishedAt', 'enqueued')
    .exec()
  return JSON.parse(String(c.command)) as StoredCommand
}
