import {Redis} from 'ioredis'
import {ExitCode, S3cError} from '../core/errors.js'

/** The one BullMQ queue all s3c jobs go through; the job name is the job kind. */
export const QUEUE_NAME = 's3c'

/** Keys s3c keeps next to BullMQ's: a hash of counters per run, its failures, recent runs. */
export const runKey = (runId: string) => `s3c:run:${runId}`
export const runFailuresKey = (runId: string) => `s3c:run:${runId}:failures`
export const RUNS_KEY = 's3c:runs'
/** Ids of the run's top-level jobs: added, and finished (a re-run skips the finished ones). */
export const runJobsKey = (runId: string) => `s3c:run:${runId}:jobs`
export const runDoneKey = (runId: string) => `s3c:run:${runId}:done`
/** The unfinished run a command line belongs to, so running it again resumes it. */
export const resumeKey = (commandHash: string) => `s3c:resume:${commandHash}`

/** A connection as BullMQ needs it (blocking commands: no per-request retry limit). */
export function connectRedis(url: string): Redis {
  const redis = new Redis(url, {maxRetriesPerRequest: null, lazyConnect: false})
  // Connection errors reach the caller as failed commands (checkRedis turns them into one line);
  // without a listener ioredis would also print each reconnect attempt's stack.
  redis.on('error', () => undefined)
  return redis
}

/**
 * BullMQ loses jobs silently if Redis evicts keys, so s3c refuses to run on a Redis that may.
 * Also turns "cannot connect" into one clear line.
 */
export async function checkRedis(redis: Redis, url: string): Promise<void> {
  let policy: string | undefined
  try {
    let timer: NodeJS.Timeout | undefined
    const reply = (await Promise.race([
      redis.config('GET', 'maxmemory-policy'),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), 5000) }),
    ]).finally(() => clearTimeout(timer))) as string[]
    policy = reply[1]
  } catch (error) {
    const safe = url.replace(/\/\/[^@/]*@/, '//***@')
    // CONFIG disabled or not permitted (managed Redis): the policy cannot be checked. A reply
    // error starts with its code; "Error: timeout" or a refused connection is not one.
    const message = error instanceof Error ? error.message : String(error)
    if (/^(ERR|NOPERM)\b|unknown command/.test(message)) return
    throw new S3cError(`cannot reach Redis at ${safe}: check --redis / REDIS_URL and that the server is running`, ExitCode.fatal)
  }
  if (policy && policy !== 'noeviction')
    throw new S3cError(`Redis maxmemory-policy is "${policy}": BullMQ needs "noeviction" (redis-cli config set maxmemory-policy noeviction)`, ExitCode.fatal)
}
