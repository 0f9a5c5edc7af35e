import {UnrecoverableError, Worker, type Job} from 'bullmq'
import {describeError} from '../core/errors.js'
import {FatalError} from '../core/retry.js'
import {failedOutcomes} from '../engine/runner.js'
import {handlers, type JobContext} from '../jobs/handlers.js'
import type {ChildrenOutcome, JobData, JobResult} from '../jobs/types.js'
import {createS3} from '../s3/client.js'
import type {S3Config} from '../s3/config.js'
import {recordResult} from './counters.js'
import type {JobEnvelope} from './envelope.js'
import {QUEUE_NAME, checkRedis, connectRedis, runJobsKey, runKey} from './redis.js'

export interface WorkerOptions {
  redisUrl: string
  concurrency: number
  s3: S3Config
  /** How soon the jobs of a worker that died return to the queue (lock lifetime ≈ 2×). */
  stalledSeconds?: number
  /** Called once per finished job (for logs). */
  onJob?: (job: JobData, result: JobResult) => void
}

export interface RunningWorker {
  /** Stops taking jobs and waits for the ones in hand. */
  close(): Promise<void>
}

const PARENT_KINDS = new Set(['complete-upload', 'finish-download', 'complete-tar'])

async function childrenOf(job: Job<JobEnvelope>): Promise<ChildrenOutcome> {
  const [values, failures] = await Promise.all([job.getChildrenValues<JobResult>(), job.getIgnoredChildrenFailures()])
  return {results: Object.values(values), failures: Object.values(failures)}
}

/**
 * `s3c worker`: runs jobs from the s3c queue with the very handlers the in-process runner uses.
 * Each worker connects to S3 with its own configuration (flags and environment of its machine).
 */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const redis = connectRedis(opts.redisUrl)
  await checkRedis(redis, opts.redisUrl)
  const s3 = await createS3({...opts.s3, maxSockets: Math.max(opts.s3.maxSockets, opts.concurrency * 2)})

  // Live byte counts go to Redis twice a second, not once per file.
  const liveBytes = new Map<string, number>()
  const flushBytes = async () => {
    const pending = [...liveBytes]
    liveBytes.clear()
    await Promise.all(pending.map(([runId, n]) => redis.hincrby(runKey(runId), 'bytesLive', n))).catch(() => undefined)
  }
  const flushTimer = setInterval(() => void flushBytes(), 500)

  async function process(job: Job<JobEnvelope>): Promise<JobResult> {
    const {runId, maxRetry, top, job: data} = job.data
    // A stopped run's jobs are dropped, not run; a later try of the run adds them again.
    if (await redis.hget(runKey(runId), 'fatal')) {
      if (top) await redis.srem(runJobsKey(runId), job.id!)
      return {}
    }
    const ctx: JobContext = {
      s3, retry: {retries: maxRetry, minTimeoutMs: 100, maxTimeoutMs: 10_000},
      onBytes: n => { liveBytes.set(runId, (liveBytes.get(runId) ?? 0) + n) },
    }
    let result: JobResult
    try {
      const children = PARENT_KINDS.has(data.kind) ? await childrenOf(job) : undefined
      const handler = handlers[data.kind] as (j: JobData, c: JobContext, ch?: ChildrenOutcome) => Promise<JobResult>
      result = await handler(data, ctx, children)
    } catch (error) {
      if (error instanceof FatalError) {
        const message = describeError(error.original, {endpoint: s3.endpointLabel})
        await redis.hset(runKey(runId), 'fatal', message)
        throw new UnrecoverableError(message)
      }
      // A child's failure goes to its parent (after BullMQ's attempts); a top job reports its files.
      if (!top) throw error
      result = {files: failedOutcomes(data, describeError(error))}
    }
    if (top) await recordResult(redis, runId, job.id!, result)
    opts.onJob?.(data, result)
    return result
  }

  const connection = connectRedis(opts.redisUrl)
  const worker = new Worker<JobEnvelope, JobResult>(QUEUE_NAME, process, {
    connection,
    concurrency: opts.concurrency,
    // Locks are renewed while a job runs, so long parts keep theirs; a killed worker's locks
    // lapse and the stalled check hands its jobs to others.
    lockDuration: 2 * (opts.stalledSeconds ?? 15) * 1000,
    stalledInterval: (opts.stalledSeconds ?? 15) * 1000,
    maxStalledCount: 5,
  })
  await worker.waitUntilReady()
  return {
    async close() {
      await worker.close()
      clearInterval(flushTimer)
      await flushBytes()
      await s3.close()
      connection.disconnect()
      redis.disconnect()
    },
  }
}
