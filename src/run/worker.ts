import {UnrecoverableError, Worker, type Job} from 'bullmq'
import {describeError, FatalError} from '../base/errors.js'
import {failedOutcomes} from './runner.js'
import {retryPolicy} from '../base/retry.js'
import {kindOf} from '../jobs/registry.js'
import type {ChildrenOutcome, JobContext, JobData, JobResult} from '../jobs/types.js'
import type {S3Store} from '../base/storage.js'
import type {S3Config} from '../s3/config.js'
import {markStarted, recordResult} from './counters.js'
import type {JobEnvelope} from './envelope.js'
import {refusalOf} from './trust.js'
import {QUEUE_NAME, checkRedis, connectRedis, redactUrl, runDoneKey, runEventsChannel, runJobsKey, runKey} from './redis.js'
import {openStore} from '../storage/open.js'
import {AdaptiveLimit} from './adaptive.js'
import {transferDefaults} from './defaults.js'
import {PartBudget, RequestSlots} from './slots.js'

export interface WorkerOptions {
  redisUrl: string
  /**
   * Requests in flight at most (files or parts being transferred at once); undefined: the
   * limit moves with the link as an in-process run's does (src/run/adaptive.ts).
   */
  concurrency?: number
  s3: S3Config
  /** The folders the worker's jobs may name local paths under (absolute; trust.ts workerRoots). */
  roots: string[]
  /** The shared secret jobs must be signed with (trust.ts jobKey); none: jobs are not checked for a signature. */
  jobKey?: Buffer
  /** How soon the jobs of a worker that died return to the queue (lock lifetime ≈ 2×). */
  stalledSeconds?: number
  /** Called once per finished job (for logs). */
  onJob?: (job: JobData, result: JobResult) => void
  /** Aborted (SIGTERM) while Redis has not answered yet: give up at once. */
  signal?: AbortSignal
  /** One line when the Redis connection is lost and when it is back. */
  onWarning?: (line: string) => void
}

export interface StopOutcome {
  /** The worker did not close cleanly (Redis gone, or the grace period ran out). */
  forced: boolean
  /** Redis could not be reached when the worker stopped (why): the jobs in hand could not report. */
  redisLost?: string
  /** Jobs still in hand when the worker stopped without finishing them. */
  abandoned: number
}

export interface RunningWorker {
  /** Why Redis cannot be reached now, or undefined when it can. */
  redisLost(): string | undefined
  /** Jobs in hand now. */
  active(): number
  /** The worker's request slots (tests, logs): the limit now and the most in flight so far. */
  slots: RequestSlots
  /**
   * Stops taking jobs and waits up to `graceMs` for the ones in hand; at once when Redis is
   * gone (they could not report anyway: their locks lapse and they return to the queue).
   */
  close(graceMs?: number): Promise<StopOutcome>
}

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
  try {
    await checkRedis(redis, opts.redisUrl, opts.signal)
  } catch (error) {
    redis.disconnect()
    throw error
  }
  // Without --concurrency the limit moves with the link, as in-process (session.ts).
  const limit = opts.concurrency ? undefined
    : new AdaptiveLimit({start: transferDefaults.adaptiveStart, min: 4, max: transferDefaults.adaptiveMax})
  // Parts of large files bounded in bytes as in-process (a fixed --concurrency fixes them too).
  const slots = new RequestSlots(opts.concurrency ?? 0, limit, limit ? new PartBudget() : undefined)
  const s3 = await openStore({...opts.s3, maxSockets: Math.max(opts.s3.maxSockets, opts.concurrency ?? transferDefaults.adaptiveMax)}, retryPolicy(0))
  if (limit) s3.onThrottle(() => limit.throttled())
  let active = 0
  // Transfers in hand not started yet (files of the jobs in hand, a part job counts one).
  let waiting = 0

  // Live byte counts go to Redis twice a second, not once per file.
  const liveBytes = new Map<string, number>()
  const flushBytes = async () => {
    const pending = [...liveBytes]
    liveBytes.clear()
    await Promise.all(pending.map(([runId, n]) => redis.hincrby(runKey(runId), 'bytesLive', n))).catch(() => undefined)
  }
  const flushTimer = setInterval(() => void flushBytes(), 500)

  /**
   * Jobs in hand (BullMQ's concurrency) follow the transfers waiting for a slot: one more job is
   * taken while fewer are waiting than the slots, none while enough are. So a slot seldom waits on
   * Redis for work, and a worker never takes more than it can start soon: ten batches of 64 in
   * one worker's hand would leave the others idle at the end of a run. BullMQ reads it when it
   * takes a job and when a job finishes, and calls this function in between (synchronously).
   * Parts held back by the part budget wait on it, not on a slot; with as many of them waiting as
   * run, the worker takes no more (the rest of a large file stays in Redis for other workers).
   */
  const takeMore = () => {
    const n = Math.max(1, active + (waiting - slots.queuedParts < slots.limit && !slots.enoughPartsWaiting ? 1 : 0))
    if (worker.concurrency !== n) worker.concurrency = n
  }

  async function process(job: Job<JobEnvelope>): Promise<JobResult> {
    const transfers = (job.data.job as {files?: unknown[]} | undefined)?.files?.length ?? 1
    let left = transfers
    const started = () => {
      if (left > 0) {
        left--
        waiting--
      }
    }
    active++
    waiting += transfers
    takeMore()
    try {
      return await run(job, started)
    } finally {
      active--
      waiting -= left
      takeMore()
    }
  }

  async function run(job: Job<JobEnvelope>, started: () => void): Promise<JobResult> {
    const {runId, maxRetry, top, job: data} = job.data
    const runTry = job.data.try ?? 0
    // The run's first job to begin marks its startedAt, in the same round trip (markStarted checks the try and fatal itself).
    const replies = await markStarted(redis.multi().hmget(runKey(runId), 'fatal', 'try').exists(runKey(runId)).sismember(runDoneKey(runId), job.id!), runId, runTry).exec()
    const [fatal, currentTry] = (replies?.[0]?.[1] ?? []) as (string | null)[]
    const known = replies?.[1]?.[1] === 1
    // A stopped run's jobs are dropped, not run; a later try of the run adds them again.
    if (fatal) {
      if (top) await redis.srem(runJobsKey(runId), job.id!)
      return {}
    }
    // A job of a run Redis no longer holds (expired, removed): nobody waits for it, and its
    // files may have changed since; a job already recorded done (its worker died after the work,
    // before BullMQ heard, and the stall check handed it on, maybe after the run ended): done once.
    if (!known || (top && replies?.[2]?.[1] === 1)) return {}
    // A job of an earlier try (resumed or retried since): that try's work was planned again.
    if (runTry !== Number(currentTry ?? 0)) return {}
    // Redis is outside input: a job naming a path outside --root, or unsigned with a job key, is refused unread.
    const refusal = refusalOf(job.data, opts.roots, opts.jobKey)
    if (refusal) {
      if (!top) throw new UnrecoverableError(refusal)
      let files: JobResult['files'] = []
      try {
        files = failedOutcomes(data, refusal)
      } catch {} // a job too malformed to name its files: counted as a job, no file
      const result = {files}
      await recordResult(redis, runId, runTry, job.id!, result, job.data.outcomes === true)
      opts.onJob?.(data, result)
      return result
    }
    const ctx: JobContext = {
      // Each job carries its run's --max-retry.
      s3: s3.with({retry: retryPolicy(maxRetry)}),
      onBytes: n => {
        liveBytes.set(runId, (liveBytes.get(runId) ?? 0) + n)
        limit?.moved(n)
      },
    }
    let result: JobResult
    try {
      const kind = kindOf(data)
      const children = kind.parent ? await childrenOf(job) : undefined
      // A batch's files take a slot each (eachFile); any other job takes one for itself.
      const inSlot = <T>(transfer: () => Promise<T>, partBytes?: number) => slots.run(() => {
        started()
        return transfer()
      }, partBytes)
      if (kind.batchKey) result = await kind.handler(data, {...ctx, perFile: inSlot}, children)
      else result = await inSlot(() => kind.handler(data, ctx, children), kind.partBytes?.(data))
    } catch (error) {
      if (error instanceof FatalError) {
        const message = describeError(error.original, {endpoint: s3.endpointLabel})
        await redis.multi().hset(runKey(runId), 'fatal', message).publish(runEventsChannel(runId), 'fatal').exec()
        throw new UnrecoverableError(message)
      }
      // A child's failure goes to its parent (after BullMQ's attempts); a top job reports its files.
      if (!top) throw error
      result = {files: failedOutcomes(data, describeError(error))}
    }
    if (top) await recordResult(redis, runId, runTry, job.id!, result, job.data.outcomes === true)
    opts.onJob?.(data, result)
    // A top job's outcomes are in the run's counters now; returned to BullMQ they would stay in
    // its event stream (10,000 events, ~13 KB for a batch of 64 files) long after the job left.
    // A child's result is its parent's input.
    return top ? {} : result
  }

  const connection = connectRedis(opts.redisUrl)
  const worker = new Worker<JobEnvelope, JobResult>(QUEUE_NAME, process, {
    connection,
    // Jobs in hand: see takeMore.
    concurrency: 1,
    // Locks are renewed while a job runs, so long parts keep theirs; a killed worker's locks
    // lapse and the stalled check hands its jobs to others.
    lockDuration: 2 * (opts.stalledSeconds ?? 15) * 1000,
    stalledInterval: (opts.stalledSeconds ?? 15) * 1000,
    maxStalledCount: 5,
  })
  // Connection trouble: one line each way, and the reason for close().
  let lastError = ''
  let lost = false
  let shuttingDown = false
  const onError = (e: Error) => {
    if (shuttingDown) return
    lastError = (e as {code?: string}).code ?? e.message.split('\n')[0]
    if (!lost) opts.onWarning?.(`s3c worker: lost Redis at ${redactUrl(opts.redisUrl)} (${lastError}); reconnecting`)
    lost = true
  }
  const onReady = () => {
    if (lost && redis.status === 'ready' && connection.status === 'ready') opts.onWarning?.('s3c worker: Redis is back')
    lost = !(redis.status === 'ready' && connection.status === 'ready')
  }
  for (const c of [redis, connection]) {
    c.on('error', onError)
    c.on('close', () => { if (!lost) onError(Object.assign(new Error('connection closed'), {code: 'connection closed'})) })
    c.on('ready', onReady)
  }
  worker.on('error', () => undefined) // the same connection errors, reported above
  // A signal meanwhile: close() below does the rest (Redis may have gone since checkRedis).
  await Promise.race([worker.waitUntilReady().catch(() => undefined), new Promise(resolve => opts.signal?.addEventListener('abort', resolve, {once: true}))])
  const redisLost = () => (redis.status === 'ready' && connection.status === 'ready' ? undefined : lastError || redis.status)
  let closing: Promise<StopOutcome> | undefined
  return {
    redisLost,
    active: () => active,
    slots,
    close: (graceMs = 30_000) => closing ??= (async () => {
      shuttingDown = true
      clearInterval(flushTimer)
      let outcome: StopOutcome = {forced: false, abandoned: 0}
      const force = () => { void worker.close(true).catch(() => undefined) }
      if (redisLost()) {
        outcome = {forced: true, redisLost: redisLost(), abandoned: active}
        force()
      } else {
        let timer: NodeJS.Timeout | undefined
        const inTime = await Promise.race([
          worker.close().then(() => true, () => true),
          new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(false), graceMs) }),
        ])
        clearTimeout(timer)
        if (inTime) await flushBytes()
        else {
          outcome = {forced: true, redisLost: redisLost(), abandoned: active}
          force()
        }
      }
      // Forced: jobs still in hand hold requests that closing the pool would wait for.
      if (outcome.forced) void s3.close().catch(() => undefined)
      else await s3.close()
      connection.disconnect()
      redis.disconnect()
      return outcome
    })(),
  }
}
