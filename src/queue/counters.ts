import type {Redis} from 'ioredis'
import type {JobResult} from '../jobs/types.js'
import {runDoneKey, runFailuresKey, runJobsKey, runKey} from './redis.js'

/** Counters of a run as kept in Redis (the hash fields). */
export interface RunCounters {
  jobsAdded: number
  jobsFinished: number
  filesDone: number
  filesSkipped: number
  filesFailed: number
  bytes: number
  fatal?: string
}

/** Adds a finished top-level job's outcomes to its run, atomically (once per job id). */
export async function recordResult(redis: Redis, runId: string, jobId: string, result: JobResult): Promise<void> {
  // A job that ran twice (a stalled job picked up again) counts once.
  if (await redis.sismember(runDoneKey(runId), jobId)) return
  const tx = redis.multi()
  const key = runKey(runId)
  let done = 0, skipped = 0, failed = 0, bytes = 0
  for (const f of result.files ?? []) {
    if (f.status === 'done') {
      done++
      bytes += f.bytes
    } else if (f.status === 'skipped') skipped++
    else {
      failed++
      tx.rpush(runFailuresKey(runId), JSON.stringify({key: f.key, path: f.path, error: f.error}))
    }
  }
  if (done) tx.hincrby(key, 'filesDone', done)
  if (skipped) tx.hincrby(key, 'filesSkipped', skipped)
  if (failed) tx.hincrby(key, 'filesFailed', failed)
  if (bytes) tx.hincrby(key, 'bytes', bytes)
  tx.sadd(runDoneKey(runId), jobId)
  tx.hset(key, 'updatedAt', Date.now())
  await tx.exec()
}

export async function readCounters(redis: Redis, runId: string): Promise<RunCounters & Record<string, string | number | undefined>> {
  const [h, jobsAdded, jobsFinished] = await Promise.all([redis.hgetall(runKey(runId)), redis.scard(runJobsKey(runId)), redis.scard(runDoneKey(runId))])
  const n = (k: string) => Number(h[k] ?? 0)
  return {
    ...h,
    jobsAdded, jobsFinished, filesDone: n('filesDone'), filesSkipped: n('filesSkipped'),
    filesFailed: n('filesFailed'), bytes: n('bytes'), fatal: h.fatal || undefined,
  }
}

export async function readFailures(redis: Redis, runId: string): Promise<{key: string; path: string; error: string}[]> {
  return (await redis.lrange(runFailuresKey(runId), 0, -1)).map(s => JSON.parse(s))
}
