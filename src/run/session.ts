import {setMaxListeners} from 'node:events'
import {ExitCode, FatalError, fatalToUserError, S3cError} from '../base/errors.js'
import {retryPolicy, type RetryPolicy} from '../base/retry.js'
import type {S3Store} from '../base/storage.js'
import type {S3Config} from '../s3/config.js'
import {InProcessRunner} from './in-process.js'
import {AdaptiveLimit} from './adaptive.js'
import {transferDefaults} from './defaults.js'
import {PartBudget} from './slots.js'
import {kindOf} from '../jobs/registry.js'
import type {Runner} from './runner.js'
import type {BullMQRunner} from './bullmq.js'
import {RunStats, summarize, type RunSummary} from './stats.js'
import {type CommonStoredOptions, type StoredCommand} from './stored-command.js'
import type {PlanOptions, RunOptions} from './options.js'
import {openStore} from '../storage/open.js'
export type {PlanOptions, RunOptions} from './options.js'
import {handlers, type JobContext} from '../jobs/handlers.js'
import type {S3Location} from '../base/location.js'
import type {CopySettings, FileOutcome, JobData, JobResult, Work} from '../jobs/types.js'

/**
 * A transfer verb's options: the run's and its plan's (the plan-shaping ones, and the run's
 * thread count and retries, are what a run stores for a retry: stored-command.ts).
 */
export interface TransferOptions extends RunOptions, PlanOptions {}

export {transferDefaults} from './defaults.js'

export interface RunContext {
  /** S3 with the run's retry policy and signal. */
  s3: S3Store
  stats: RunStats
  runner: Runner
  retry: RetryPolicy
  signal: AbortSignal
  /**
   * Asks for every file outcome a job reports (the sync state's entries): in-process ones as they
   * come, BullMQ workers' through Redis (attached runs only). Returns how many files the runner
   * holds unfinished at most (the bound of the state's reorder buffer), or undefined when the
   * outcomes cannot reach this process (a detached run). Called before any job is added.
   */
  collectOutcomes(onFile: (outcome: FileOutcome) => void): Promise<number | undefined>
}

/** How a run stopped by Ctrl-C or SIGTERM ends. */
export const interruptedError = () => new S3cError('interrupted; unfinished files were cleaned up, run the same command again to resume', ExitCode.interrupted)

/**
 * Opens the S3 connection and the runner: in-process, or BullMQ when a Redis URL is given.
 * Either way the run's counters end up in `stats`. Everything the command does after this
 * (preflight, listing, checks) belongs inside its plan, so that runWalk closes the run and marks
 * it failed whatever throws.
 */
export async function openRun(opts: TransferOptions, description: string, command: StoredCommand): Promise<RunContext> {
  const stats = opts.stats ?? new RunStats()
  const controller = new AbortController()
  // Every request in flight listens to the run's signal: hundreds at once is expected, not a leak.
  setMaxListeners(0, controller.signal)
  // Ctrl-C stops whatever the run is doing (connecting, waiting for an earlier try, walking, draining).
  let runner: InProcessRunner | BullMQRunner | undefined
  const onSignal = () => {
    const error = new FatalError(interruptedError())
    controller.abort(error)
    runner?.stop(error)
  }
  if (opts.signal?.aborted) throw interruptedError()
  opts.signal?.addEventListener('abort', onSignal, {once: true})
  const retry = retryPolicy(opts.maxRetry)
  // In this process, without --thread-count: a limit that moves with the link. Workers size their own.
  const limit = opts.adaptive && !opts.redisUrl
    ? new AdaptiveLimit({start: transferDefaults.adaptiveStart, min: 4, max: Math.max(opts.threadCount, transferDefaults.adaptiveMax)}) : undefined
  const most = limit ? Math.max(opts.threadCount, transferDefaults.adaptiveMax) : opts.threadCount
  const s3 = await openStore({...opts.s3, maxSockets: Math.max(opts.s3.maxSockets, most)}, retry, controller.signal, opts.threadCount, opts.lent)
  if (limit) s3.onThrottle(() => limit.throttled())
  const ctx: JobContext = {
    s3, signal: controller.signal,
    onBytes: n => {
      stats.bytesDone += n
      limit?.moved(n)
    },
    abort: reason => controller.abort(reason),
  }
  // Set by collectOutcomes once the planner knows what to do with outcomes.
  const hooks: {onFile?: (outcome: FileOutcome) => void} = {}
  const onResult = (result: JobResult, _job: JobData) => {
    if (result.files) for (const f of result.files) {
      stats.record(f)
      hooks.onFile?.(f)
    }
  }
  try {
    if (opts.redisUrl) {
      // BullMQ and ioredis (~0.15 s to load) only for a run that uses them.
      const {BullMQRunner} = await import('./bullmq.js')
      runner = await BullMQRunner.open({redisUrl: opts.redisUrl, runId: opts.runId, maxRetry: opts.maxRetry, stats, description,
        command: JSON.stringify(command), retrying: opts.retrying, signal: controller.signal,
        detach: opts.detach, onRunId: opts.onRunId, onNotice: opts.onNotice})
    } else {
      if (opts.detach) throw new S3cError('--detach needs --redis (or S3C_REDIS_URL): an in-process run cannot outlive the command')
      // Parts of large files are bounded in bytes when the limit is measured (a fixed --thread-count fixes them too).
      runner = new InProcessRunner(handlers, ctx, {concurrency: most, limit, onResult,
        parts: limit ? new PartBudget() : undefined, partBytes: job => kindOf(job).partBytes?.(job)})
      if (limit) stats.concurrency = limit
    }
  } catch (error) {
    opts.signal?.removeEventListener('abort', onSignal)
    await s3.close()
    throw controller.signal.aborted ? interruptedError() : error
  }
  if (controller.signal.aborted) runner.stop(controller.signal.reason as FatalError)
  const active = runner
  const collectOutcomes = async (onFile: (outcome: FileOutcome) => void) => {
    if (active instanceof InProcessRunner) {
      hooks.onFile = onFile
      return active.admitted
    }
    return active.collectOutcomes(onFile)
  }
  return {s3, stats, runner, retry, signal: controller.signal, collectOutcomes}
}

/**
 * Feeds the walk into the runner and waits for the end; turns a stopped run into a user error.
 * `cleanup` runs when the run stops early: it removes what unfinished files left behind.
 * This is the one place a run ends: whatever the plan throws (a failed preflight, a refused
 * check, a listing that gives up), the runner is stopped and drained, so a BullMQ run is marked
 * failed and its connections are closed.
 */
export async function runWalk(run: RunContext, loc: S3Location, plan: () => AsyncGenerator<Work>, cleanup?: () => Promise<void>,
  finish?: () => Promise<void>): Promise<RunSummary> {
  try {
    try {
      for await (const work of plan()) await run.runner.add(work)
    } finally {
      run.stats.walkDone = true
    }
    await run.runner.drain()
    // Every result is in: what the run leaves for the next one (the sync state), before the connection closes.
    await finish?.()
    return summarize(run.stats)
  } catch (error) {
    // Ctrl-C (or a fatal error a job hit) aborted the run: that is the reason, not what the walk threw on seeing the abort.
    const reason = run.signal.aborted && run.signal.reason instanceof FatalError ? run.signal.reason : error
    // Stop, and let running jobs notice before the connection closes.
    run.runner.stop(reason instanceof FatalError ? reason : new FatalError(reason))
    await run.runner.drain().catch(() => undefined)
    await cleanup?.().catch(() => undefined)
    throw fatalToUserError(reason, {bucket: loc.bucket, endpoint: run.s3.endpointLabel})
  } finally {
    await run.s3.close()
  }
}
