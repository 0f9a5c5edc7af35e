import {createHash} from 'node:crypto'
import {FlowProducer, Queue, type JobsOptions} from 'bullmq'
import type {Redis} from 'ioredis'
import {ExitCode, S3cError} from '../core/errors.js'
import {FatalError} from '../core/retry.js'
import {newRunId} from '../core/ids.js'
import type {Runner} from '../engine/runner.js'
import type {RunStats} from '../engine/stats.js'
import type {DownloadFilesJob, JobData, UploadFilesJob, Work} from '../jobs/types.js'
import {isFlow} from '../jobs/types.js'
import {readCounters, readFailures} from './counters.js'
import {jobIdFor, type JobEnvelope} from './envelope.js'
import {QUEUE_NAME, RUNS_KEY, checkRedis, connectRedis, resumeKey, runDoneKey, runJobsKey, runKey} from './redis.js'

export interface BullMQRunnerOptions {
  redisUrl: string
  runId: string
  maxRetry: number
  stats: RunStats
  /** What the run is, for `s3c runs` / `s3c status`. */
  description: string
  /** How to run the command again (`s3c retry`): JSON of its options. */
  command: string
  /** Small files per job: Redis round trips must not dominate. */
  batchFiles?: number
  batchBytes?: number
  /** Jobs in Redis not yet finished before add() waits. */
  maxPending?: number
  /** Return once everything is enqueued; `s3c status RUN_ID` follows the run. */
  detach?: boolean
}

type FileBatch = UploadFilesJob | DownloadFilesJob

/** Done, or (detached) fully enqueued with every job finished: a new try starts a new run. */
async function runFinished(redis: Redis, runId: string): Promise<boolean> {
  const c = await readCounters(redis, runId)
  return c.status === 'done' || (Number(c.enqueued ?? 0) === 1 && c.jobsFinished >= c.jobsAdded)
}

/** Sends the run's jobs to BullMQ; any number of `s3c worker` processes run them. */
export class BullMQRunner implements Runner {
  private readonly queue: Queue
  private readonly flows: FlowProducer
  private bulk: {name: string; data: JobEnvelope; opts: JobsOptions}[] = []
  private batch?: FileBatch
  private batchBytes = 0
  /** Jobs added since Redis was last asked how many are unfinished. */
  private unfinished = 0
  private fatal?: FatalError

  /** Used by the queue and the flow producer; BullMQ does not close a connection it was given. */
  private readonly connection: Redis

  private constructor(private readonly redis: Redis, private readonly opts: BullMQRunnerOptions) {
    this.connection = connectRedis(opts.redisUrl)
    this.queue = new Queue(QUEUE_NAME, {connection: this.connection})
    this.flows = new FlowProducer({connection: this.connection})
  }

  /**
   * Opens the run: the given --run-id, else the unfinished run of the same command line (so
   * running a killed command again resumes it), else a new run.
   */
  static async open(opts: Omit<BullMQRunnerOptions, 'runId'> & {runId?: string; onRunId?: (id: string, resumed: boolean) => void}): Promise<BullMQRunner> {
    const redis = connectRedis(opts.redisUrl)
    try {
      await checkRedis(redis, opts.redisUrl)
    } catch (error) {
      redis.disconnect()
      throw error
    }
    const pointer = resumeKey(createHash('sha1').update(opts.description).digest('hex'))
    let runId = opts.runId
    if (!runId) {
      const previous = await redis.get(pointer)
      if (previous && !(await runFinished(redis, previous))) runId = previous
    }
    const resumed = runId !== undefined && (await redis.exists(runKey(runId))) === 1
    runId ??= newRunId()
    const now = Date.now()
    const tx = redis.multi().hset(runKey(runId), {description: opts.description, command: opts.command, status: 'running'}).hdel(runKey(runId), 'fatal', 'finishedAt', 'enqueued')
    if (!resumed) tx.hset(runKey(runId), 'createdAt', now).zadd(RUNS_KEY, now, runId)
    await tx.set(pointer, runId).exec()
    opts.onRunId?.(runId, resumed)
    // The earlier try's queued jobs finish first; the walk that follows then sees their files in
    // S3 and skips them, so no file goes twice even though batches may be cut differently.
    if (resumed) {
      for (let c = await readCounters(redis, runId); c.jobsFinished < c.jobsAdded; c = await readCounters(redis, runId))
        await new Promise(r => setTimeout(r, 200))
    }
    return new BullMQRunner(redis, {...opts, runId})
  }

  private envelope(job: JobData, top: boolean): JobEnvelope {
    return {runId: this.opts.runId, maxRetry: this.opts.maxRetry, top, job}
  }

  private jobOpts(job: JobData): JobsOptions {
    // Finished jobs leave Redis; the run keeps its own counters.
    return {jobId: jobIdFor(this.opts.runId, job), removeOnComplete: true, removeOnFail: 1000}
  }

  async add(work: Work): Promise<void> {
    if (this.fatal) throw this.fatal
    if (isFlow(work)) {
      await this.flushBatch()
      await this.flushBulk()
      const parentOpts = this.jobOpts(work.parent)
      // Finished in an earlier try of this run: not again.
      if (await this.redis.sismember(runDoneKey(this.opts.runId), parentOpts.jobId!)) return
      await this.flows.add({
        name: work.parent.kind, queueName: QUEUE_NAME, data: this.envelope(work.parent, true), opts: parentOpts,
        children: work.children.map(c => ({
          name: c.kind, queueName: QUEUE_NAME, data: this.envelope(c, false),
          // A child that fails for good is handed to the parent, which aborts the upload. Its
          // requests already retry --max-retry times in the handler; BullMQ's attempts add a
          // second layer for what a request retry cannot fix (a worker dying mid-part), and
          // follow --max-retry 0 ("no retries") too.
          opts: {...this.jobOpts(c), ignoreDependencyOnFailure: true, attempts: this.opts.maxRetry > 0 ? 3 : 1, backoff: {type: 'exponential', delay: 500}},
        })),
      })
      await this.redis.sadd(runJobsKey(this.opts.runId), parentOpts.jobId!)
    } else if (work.kind === 'upload-files' || work.kind === 'download-files') {
      await this.addToBatch(work)
    } else {
      this.push(work)
    }
    if (this.bulk.length >= 200) await this.flushBulk()
    await this.waitForRoom()
  }

  /** Consecutive small-file jobs of the same kind and bucket become one job. */
  private async addToBatch(job: FileBatch): Promise<void> {
    const bytes = job.files.reduce((n, f) => n + f.size, 0)
    const b = this.batch
    if (b && (b.kind !== job.kind || b.bucket !== job.bucket || b.files.length >= (this.opts.batchFiles ?? 64) ||
        this.batchBytes + bytes > (this.opts.batchBytes ?? 8 << 20))) await this.flushBatch()
    if (!this.batch) {
      this.batch = {...job, files: [...job.files]} as FileBatch
      this.batchBytes = bytes
    } else {
      (this.batch.files as unknown[]).push(...job.files)
      this.batchBytes += bytes
    }
  }

  private async flushBatch(): Promise<void> {
    if (!this.batch) return
    this.push(this.batch)
    this.batch = undefined
    this.batchBytes = 0
  }

  private push(job: JobData): void {
    this.bulk.push({name: job.kind, data: this.envelope(job, true), opts: this.jobOpts(job)})
  }

  private async flushBulk(): Promise<void> {
    if (this.bulk.length === 0) return
    const ids = this.bulk.map(j => j.opts.jobId!)
    const done = await this.redis.smismember(runDoneKey(this.opts.runId), ids)
    const jobs = this.bulk.filter((_, i) => !done[i])
    this.bulk = []
    // Into the queue first, then into the run's set: a kill in between leaves a queued job that
    // the next try adds again under the same id (a no-op), never a counted job that is missing.
    if (jobs.length) await this.queue.addBulk(jobs)
    await this.redis.sadd(runJobsKey(this.opts.runId), ...ids)
    this.unfinished += jobs.length
  }

  /** Keeps Redis memory bounded: the walk waits while too many jobs are unfinished. */
  private async waitForRoom(): Promise<void> {
    const max = this.opts.maxPending ?? 5000
    if (this.unfinished < max) return
    for (;;) {
      const c = await this.poll()
      this.unfinished = c.jobsAdded - c.jobsFinished
      if (this.fatal) throw this.fatal
      if (this.unfinished < max) return
      await new Promise(r => setTimeout(r, 100))
    }
  }

  /** Reads the run's counters from Redis into the local stats (the progress bar reads those). */
  private async poll() {
    const c = await readCounters(this.redis, this.opts.runId)
    const s = this.opts.stats
    s.remote.filesDone = c.filesDone
    s.remote.filesSkipped = c.filesSkipped
    s.remote.filesFailed = c.filesFailed
    s.remote.bytes = Math.max(c.bytes, Number(c.bytesLive ?? 0))
    if (c.fatal && !this.fatal) this.fatal = new FatalError(new S3cError(c.fatal, ExitCode.fatal))
    return c
  }

  async drain(): Promise<void> {
    if (this.closed) {
      if (this.fatal) throw this.fatal
      return
    }
    try {
      if (!this.fatal) {
        await this.flushBatch()
        await this.flushBulk()
        await this.redis.hset(runKey(this.opts.runId), 'enqueued', 1)
      }
      if (this.opts.detach && !this.fatal) return
      for (;;) {
        const c = await this.poll()
        if (this.fatal) throw this.fatal
        if (c.jobsFinished >= c.jobsAdded) break
        await new Promise(r => setTimeout(r, 200))
      }
      this.opts.stats.failures.push(...(await readFailures(this.redis, this.opts.runId)))
      await this.redis.hset(runKey(this.opts.runId), {status: 'done', finishedAt: Date.now()})
    } catch (error) {
      await this.redis.hset(runKey(this.opts.runId), {status: 'failed', finishedAt: Date.now()})
      throw error
    } finally {
      await this.close()
    }
  }

  stop(error: FatalError): void {
    if (this.fatal) return
    this.fatal = error
    // Workers drop the jobs of a stopped run.
    void this.redis.hset(runKey(this.opts.runId), 'fatal', error.message || 'stopped')
  }

  private closed = false
  private async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([this.queue.close(), this.flows.close()])
    this.connection.disconnect()
    this.redis.disconnect()
  }
}
