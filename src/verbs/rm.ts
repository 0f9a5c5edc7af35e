import {parseS3, type S3Url} from '../base/location.js'
import {ExitCode, FatalError, S3cError} from '../base/errors.js'
import {retryPolicy} from '../base/retry.js'
import {handlers, type JobContext} from '../jobs/handlers.js'
import type {DeleteObjectsJob, FileOutcome} from '../jobs/types.js'
import {InProcessRunner} from '../run/in-process.js'
import {openRun, runWalk, type RunContext, type TransferOptions} from '../run/session.js'
import {RunStats, summarize, type RunSummary} from '../run/stats.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {transferDefaults} from '../run/defaults.js'
import type {S3Store} from '../base/storage.js'
import {matchingObjects, userError} from './expand.js'
import {openStore} from '../storage/open.js'

/** S3's DeleteObjects limit. */
export const DELETE_BATCH = 1000

export interface RemoveOptions {
  /** DeleteObjects requests in flight at once (--thread-count). */
  threadCount?: number
  /** List what would go; send no delete. */
  dryRun?: boolean
  /** Each URL removed (or, with dryRun, that would be); a run on BullMQ workers reports none. */
  onRemoved?: (url: string) => void
}

export interface RemoveSummary {
  removed: number
  failed: number
  /** Up to 10,000 keys S3 did not delete, each with its one-line reason. */
  failures: {url: string; error: string}[]
  /** Arguments that matched nothing (a wildcard, a prefix; a plain key is not checked). */
  unmatched: string[]
  /** DeleteObjects requests sent (with --redis: the jobs of 1,000 keys this run enqueued). */
  requests: number
  dryRun: boolean
}

const MAX_FAILURES = 10_000

/** The arguments, checked: at least one, every one an s3:// URL, none a whole bucket. */
function parseArguments(urls: string[]): S3Url[] {
  if (urls.length === 0) throw new S3cError('rm needs at least one s3:// URL', ExitCode.usage)
  const parsed = urls.map(u => parseS3(u))
  const whole = parsed.find(p => p.kind === 'bucket')
  if (whole) throw new S3cError(`rm ${whole.url} would empty the whole bucket: write s3://${whole.bucket}/* to mean that (or s3c rb --force to remove the bucket too)`, ExitCode.usage)
  return parsed
}

/** What the planner learns besides the jobs. */
interface PlanState {
  unmatched: string[]
  requests: number
  /** Keys named (dry run: that would be removed). */
  keys: number
}

/**
 * rm's planner: the keys the arguments name, streamed from the listings into DeleteObjects jobs
 * of up to 1,000 keys of one bucket (consecutive arguments share a batch: 10,000 keys named one by
 * one are 10 requests, not 10,000). `only` (a retry) keeps the s3:// URLs that failed; an argument
 * that matches nothing is then no error (what it named is gone).
 */
async function* deleteJobs(s3: S3Store, parsed: S3Url[], state: PlanState,
  o: {dryRun?: boolean; only?: Set<string>; onKey?: (url: string) => void}): AsyncGenerator<DeleteObjectsJob> {
  // A Set: a key two arguments name goes once per request (a DeleteObjects lists each key once).
  let batch: {bucket: string; keys: Set<string>} | undefined
  const take = (): DeleteObjectsJob => {
    const job: DeleteObjectsJob = {kind: 'delete-objects', bucket: batch!.bucket, keys: [...batch!.keys]}
    batch = undefined
    state.requests++
    return job
  }
  for (const p of parsed) {
    if (batch && batch.bucket !== p.bucket) yield take()
    let matched = 0
    for await (const obj of matchingObjects(s3, p, 'asKey')) {
      matched++
      const url = `s3://${p.bucket}/${obj.key}`
      if (o.only && !o.only.has(url)) continue
      state.keys++
      o.onKey?.(url)
      if (o.dryRun) continue
      batch ??= {bucket: p.bucket, keys: new Set()}
      batch.keys.add(obj.key)
      if (batch.keys.size === DELETE_BATCH) yield take()
    }
    if (matched === 0 && !o.only) state.unmatched.push(p.url)
  }
  if (batch) yield take()
}

function removeSummary(run: RunSummary, state: PlanState, dryRun: boolean): RemoveSummary {
  return {
    removed: dryRun ? state.keys : run.filesDone, failed: run.filesFailed,
    failures: run.failures.slice(0, MAX_FAILURES).map(f => ({url: f.path, error: f.error})),
    unmatched: state.unmatched, requests: state.requests, dryRun,
  }
}

/**
 * `s3c rm URL…` on a connection the caller holds (the library's remove, `s3c run` lines): the
 * rule of base/wildcard.ts and verbs/expand.ts. A plain key is deleted as it is (S3 deletes
 * idempotently, as aws s3 rm and s5cmd: it is not checked first); a prefix ending in "/" removes
 * everything under it; a wildcard what it matches. A bucket alone is refused (s3://b/* says
 * "everything" explicitly; rb --force removes the bucket too). Keys stream from the listings
 * into DeleteObjects of 1,000 keys (the delete-objects job, run in this process), `threadCount`
 * of them in flight; a request that fails for good fails its keys (exit 1), a refusal of the
 * whole run (403, …) stops it. `rm()` below is the same as a run (--redis: on workers).
 */
export async function removeObjects(s3: S3Store, urls: string[], opts: RemoveOptions = {}): Promise<RemoveSummary> {
  const parsed = parseArguments(urls)
  const state: PlanState = {unmatched: [], requests: 0, keys: 0}
  const stats = new RunStats()
  const ctx: JobContext = {s3, onBytes: () => undefined}
  const record = (f: FileOutcome) => {
    stats.record(f)
    if (f.status === 'done') opts.onRemoved?.(f.path)
  }
  // One job waiting at most: the listing goes no faster than the deletes (memory stays flat).
  const runner = new InProcessRunner(handlers, ctx, {concurrency: Math.max(1, opts.threadCount ?? transferDefaults.threadCount), maxQueued: 1,
    onResult: r => { for (const f of r.files ?? []) record(f) }})
  try {
    for await (const job of deleteJobs(s3, parsed, state, {dryRun: opts.dryRun, onKey: opts.dryRun ? opts.onRemoved : undefined})) await runner.add(job)
    await runner.drain()
  } catch (error) {
    runner.stop(error instanceof FatalError ? error : new FatalError(error))
    await runner.drain().catch(() => undefined)
    throw userError(error, parsed[0].bucket, s3)
  }
  return removeSummary(summarize(stats), state, opts.dryRun ?? false)
}

/** rm as a run: the options of a transfer (S3, --redis, --thread-count, …) and the URLs. */
export interface RmOptions extends Omit<TransferOptions, 'location'> {
  urls: string[]
  /** Each URL removed (or, in a dry run, that would be); not told of keys removed on workers. */
  onRemoved?: (url: string) => void
  /** How the run is described (`s3c runs`, and the same command resumes it): 'rm' unless given ('rb --force'). */
  label?: string
}

/**
 * `s3c rm` (and rb --force's emptying) as a run: the planner lists in this process, the
 * delete-objects jobs run in-process or, with `redisUrl`, on `s3c worker` processes (with their
 * retries, resume and counters; `s3c retry` deletes only the keys that failed). A dry run opens
 * no run: it only lists. Returns rm's summary, and the run's (what `s3c retry` reports).
 */
export async function rm(opts: RmOptions): Promise<{summary: RemoveSummary; run: RunSummary}> {
  const parsed = parseArguments(opts.urls)
  if (opts.dryRun) {
    const s3 = await openStore(opts.s3, retryPolicy(opts.maxRetry), opts.signal)
    try {
      const summary = await removeObjects(s3, opts.urls, {dryRun: true, onRemoved: opts.onRemoved})
      return {summary, run: summarize(opts.stats ?? new RunStats())}
    } finally {
      await s3.close()
    }
  }
  const location = {bucket: parsed[0].bucket, prefix: ''}
  const state: PlanState = {unmatched: [], requests: 0, keys: 0}
  const run = await openRun({...opts, location}, `${opts.label ?? 'rm'} ${opts.urls.join(' ')}`,
    {verb: 'rm', options: {...commonStoredOptions({...opts, location}), urls: opts.urls}})
  const only = opts.only && new Set(opts.only)
  const backlog = keyBacklog(run, opts.threadCount, opts.onRemoved)
  async function* plan(): AsyncGenerator<DeleteObjectsJob> {
    for await (const job of deleteJobs(run.s3, parsed, state, {only, onKey: () => run.stats.seen(0)})) {
      yield job
      await backlog.room()
    }
  }
  const summary = await runWalk(run, location, plan)
  return {summary: removeSummary(summary, state, false), run: summary}
}

/**
 * An in-process run's runner would take thousands of jobs of 1,000 keys before making the
 * listing wait; here the listing waits once `threadCount + 1` batches are unfinished, as the
 * requests in flight allow (a BullMQ run is bounded by the runner's pending jobs instead).
 * Also hands each key removed in this process to `onRemoved`.
 */
export function keyBacklog(run: RunContext, threadCount: number, onRemoved?: (url: string) => void): {room(): Promise<void>} {
  const cap = (Math.max(1, threadCount) + 1) * DELETE_BATCH
  const backlog = () => run.stats.filesSeen - run.stats.filesHandled
  let wake: (() => void) | undefined
  const wakeUp = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  // Only an in-process run's outcomes come back one by one (a BullMQ run's stay on the workers: no Redis records for deletes).
  const inProcess = run.runner instanceof InProcessRunner
  if (inProcess) void run.collectOutcomes(f => {
    if (f.status === 'done') onRemoved?.(f.path)
    if (wake && backlog() < cap) wakeUp()
  })
  // A stopped run finishes no more jobs: the listing must not wait for them.
  run.signal.addEventListener('abort', wakeUp, {once: true})
  return {
    async room() {
      while (inProcess && !run.signal.aborted && backlog() >= cap) await new Promise<void>(resolve => { wake = resolve })
    },
  }
}
