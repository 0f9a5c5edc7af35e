import {createRequire} from 'node:module'
import type {Redis} from 'ioredis'
import {ExitCode, S3cError} from '../base/errors.js'

const require = createRequire(import.meta.url)

/**
 * s3c's own variable for --redis. Not REDIS_URL: a shell that exports it for another program
 * would turn every run into a distributed one, waiting for workers nobody started.
 */
export const REDIS_ENV = 'S3C_REDIS_URL'

/** What a command that needs Redis says without one. */
export const noRedisError = () => new S3cError(`no Redis given: pass --redis redis://host:6379 or set ${REDIS_ENV}`)

/** The one BullMQ queue all s3c jobs go through; the job name is the job kind. */
export const QUEUE_NAME = 's3c'

/** Keys s3c keeps next to BullMQ's: a hash of counters per run, its failures, recent runs. */
export const runKey = (runId: string) => `s3c:run:${runId}`
export const runFailuresKey = (runId: string) => `s3c:run:${runId}:failures`
export const RUNS_KEY = 's3c:runs'
/** Ids of the run's top-level jobs: added, and finished (a re-run skips the finished ones). */
export const runJobsKey = (runId: string) => `s3c:run:${runId}:jobs`
export const runDoneKey = (runId: string) => `s3c:run:${runId}:done`
/** File outcomes workers report for the attached CLI's sync state, popped as they come (counters.ts, bullmq.ts). */
export const runOutcomesKey = (runId: string) => `s3c:run:${runId}:state`
/** Where workers publish that they recorded a job of the run or stopped it (fatal): the enqueuing CLI waits on it instead of polling. */
export const runEventsChannel = (runId: string) => `s3c:run:${runId}:events`
/** The unfinished run a command line belongs to, so running it again resumes it. */
export const resumeKey = (commandHash: string) => `s3c:resume:${commandHash}`
/** Held by the one CLI that enqueues a run's jobs (a second one is refused). */
export const runLockKey = (runId: string) => `s3c:run:${runId}:enqueuer`

/**
 * A connection as BullMQ needs it: a worker's blocking commands must not give up (no
 * per-request retry limit). `failFast` (the enqueuing CLI): a command fails after ioredis' 20
 * reconnection attempts instead of waiting for Redis forever.
 */
export function connectRedis(url: string, opts: {failFast?: boolean} = {}): Redis {
  // Loaded here, not at start-up (most commands never talk to Redis); ioredis is CommonJS, so a plain require.
  const {Redis} = require('ioredis') as typeof import('ioredis')
  const redis = new Redis(url, {maxRetriesPerRequest: opts.failFast ? 20 : null, lazyConnect: false})
  // Connection errors reach the caller as failed commands (checkRedis turns them into one line);
  // without a listener ioredis would also print each reconnect attempt's stack.
  redis.on('error', () => undefined)
  return redis
}

/** A Redis URL fit to print: no password. */
export const redactUrl = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@')

export const unreachable = (url: string, why: string) =>
  new S3cError(`cannot reach Redis at ${redactUrl(url)} (${why}): check --redis / ${REDIS_ENV} and that the server is running`, ExitCode.fatal)

/**
 * Waits for the connection to be ready: a refused or failing connection is one clear error at
 * once (with its reason) instead of ioredis retrying forever; so is a signal while it waits.
 */
async function waitReady(redis: Redis, url: string, ms = 5000, signal?: AbortSignal): Promise<void> {
  if (redis.status === 'ready') return
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer)
      redis.off('ready', onReady)
      redis.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
      if (error) reject(unreachable(url, (error as {code?: string}).code ?? error.message.split('\n')[0]))
      else resolve()
    }
    const onReady = () => done()
    const onError = (e: Error) => done(e)
    const onAbort = () => done(new Error('no answer yet'))
    const timer = setTimeout(() => done(new Error('timed out')), ms)
    redis.on('ready', onReady)
    redis.on('error', onError)
    if (signal?.aborted) onAbort()
    else signal?.addEventListener('abort', onAbort)
  })
}

/**
 * BullMQ loses jobs silently if Redis evicts keys, so s3c refuses to run on a Redis that may.
 * Also turns "cannot connect" into one clear line.
 */
export async function checkRedis(redis: Redis, url: string, signal?: AbortSignal): Promise<void> {
  await waitReady(redis, url, 5000, signal)
  let policy: string | undefined
  try {
    policy = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1]
  } catch (error) {
    // CONFIG disabled or not permitted (managed Redis): the policy cannot be checked. A reply
    // error starts with its code; a lost connection is not one.
    const message = error instanceof Error ? error.message : String(error)
    if (/^(ERR|NOPERM)\b|unknown command/.test(message)) return
    throw unreachable(url, message.split('\n')[0])
  }
  if (policy && policy !== 'noeviction')
    throw new S3cError(`Redis maxmemory-policy is "${policy}": BullMQ needs "noeviction" (redis-cli config set maxmemory-policy noeviction)`, ExitCode.fatal)
}
