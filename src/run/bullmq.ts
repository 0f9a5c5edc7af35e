import {createHash, randomBytes} from 'node:crypto'
import {hostname} from 'node:os'
import {FlowProducer, Queue, type JobsOptions} from 'bullmq'
import type {Redis} from 'ioredis'
import {ExitCode, S3cError, FatalError} from '../base/errors.js'
import {newRunId} from '../base/ids.js'
import type {Runner} from './runner.js'
import type {RunStats} from './stats.js'
import {kindOf} from '../jobs/registry.js'
import type {FileOutcome, JobData, Work} from '../jobs/types.js'
import {isFlow} from '../jobs/types.js'
import {batchSize} from './batching.js'
import {parseFileRecord, readCounters, readFailures, recordPlannerOutcomes, resetForRetry} from './counters.js'
import {jobIdFor, type JobEnvelope} from './envelope.js'
import {signCommand, signEnvelope} from './trust.js'
import {workersConnected} from './status.js'
import {QUEUE_NAME, RUNS_KEY, checkRedis, connectRedis, redactUrl, resumeKey, runDoneKey, runJobsKey, runEventsChannel, runKey, runLockKey, runOutcomesKey} from './redis.js'

export interface BullMQRunnerOptions {
  redisUrl: string
  runId: string
  /** Which try of the run this is (1 for a new run; resumes and retries count up). */
  runTry: number
  maxRetry: number
  stats: RunStats
  /** What the run is, for `s3c runs` / `s3c status`. */
  description: string
  /** How to run the command again (`s3c retry`): JSON of its verb and options. */
  command: string
  /** Small files per job at most: Redis round trips must not dominate (batchSizes). */
  batchFiles?: number
  batchBytes?: number
  /** Jobs in Redis not yet finished before add() waits. */
  maxPending?: number
  /** Return once everything is enqueued; `s3c status RUN_ID` follows the run. */
  detach?: boolean
  /** One line for the user (stderr in the CLI): no worker has been seen for a while. */
  onNotice?: (line: string) => void
  /** A retry: of the failed files only, the run keeps the first walk's total (filesFound); of all, it counts afresh. */
  retrying?: 'failed' | 'all'
}

/** A job of a kind with a batch key: such a kind has files (JobKindDefinition.batchKey). */
type FileBatch = Extract<JobData, {files: {size: number}[]}>
type BatchFile = FileBatch['files'][number]

/** Files held back before batches are cut (files per batch × this): the run's tail is cut small. */
export const LOOKAHEAD_BATCHES = 16
/** Jobs sent to Redis in one bulk at most: the walk checks for room between bulks, so the run may hold this many jobs beyond maxPending. */
export const MAX_BULK = 200
/** The walk gave nothing for this long: what it gave goes to Redis (workers must not wait on a slow walk). */
const SEND_IDLE_MS = 20
/** Jobs wait at most this long to be sent with others (a walk that never pauses). */
const SEND_MAX_AGE_MS = 100


/**
 * A run that ended (done, or failed for a reason other than Ctrl-C), or (detached) is fully
 * enqueued with every job finished: the same command later starts a new run. An interrupted run,
 * or one whose CLI was killed, is resumed.
 */
async function runFinished(redis: Redis, runId: string): Promise<boolean> {
  const c = await readCounters(redis, runId)
  return c.status === 'done' || c.status === 'failed' || (Number(c.enqueued ?? 0) === 1 && c.jobsFinished >= c.jobsAdded)
}

/** The enqueuer lock: renewed while the CLI lives, so a killed CLI's lock lapses. */
const LOCK_TTL_MS = 15_000
const REFRESH_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`
const STEAL_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0`
/** Forgets the resume pointer of a run that failed, so the same command starts a new run. */
const FORGET_POINTER = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

/** A lock holder on this machine whose process is gone: its lock can be taken at once. */
function holderGone(holder: string): boolean {
  const [host, pid] = holder.split(' ')
  if (host !== hostname() || !/^\d+$/.test(pid ?? '')) return false // another machine: wait for its lock to lapse
  try {
    process.kill(Number(pid), 0)
    return false
  } catch (error) {
    return (error as {code?: string}).code === 'ESRCH'
  }
}

/**
 * The one CLI enqueuing a run: a second concurrent command on the same run would walk the same
 * files into differently cut batches and count them twice, so it is refused. The lock of a CLI
 * killed on this machine is taken over at once; of one on another machine, once it lapses.
 */
async function takeLock(redis: Redis, runId: string): Promise<string> {
  const key = runLockKey(runId)
  const value = `${hostname()} ${process.pid} ${randomBytes(6).toString('hex')}`
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await redis.set(key, value, 'PX', LOCK_TTL_MS, 'NX')) return value
    const holder = await redis.get(key)
    if (holder === null) continue
    if (holderGone(holder)) {
      if (await redis.eval(STEAL_LOCK, 1, key, holder, value, LOCK_TTL_MS) === 1) return value
      continue
    }
    const [host, pid] = holder.split(' ')
    throw new S3cError(`run ${runId} is being enqueued by another s3c (host ${host}, pid ${pid}): wait for it to finish (s3c status ${runId}) or stop it first`, ExitCode.usage)
  }
  throw new S3cError(`run ${runId}: could not become its enqueuer (another s3c keeps taking it): try again`, ExitCode.usage)
}

/**
 * The run a command belongs to: the given id, else the unfinished run of the same command line
 * (so running a killed command again resumes it), else a new run. The pointer is claimed in a
 * transaction, so two identical commands started at once land on the same run (and the second is
 * refused by the lock) instead of racing.
 */
async function claimRun(redis: Redis, pointer: string, given?: string): Promise<{runId: string; resumed: boolean}> {
  for (let attempt = 0; attempt < 10; attempt++) {
    await redis.watch(pointer)
    let runId = given
    if (!runId) {
      const previous = await redis.get(pointer)
      if (previous && !(await runFinished(redis, previous))) runId = previous
    }
    const resumed = runId !== undefined && (await redis.exists(runKey(runId))) === 1
    runId ??= newRunId()
    if (await redis.multi().set(pointer, runId).exec()) return {runId, resumed}
  }
  throw new S3cError('could not open the run: Redis kept changing under it; try again', ExitCode.fatal)
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/**
 * Unfinished jobs at most while the CLI collects file outcomes (instead of maxPending's 5,000):
 * every file in them waits in the sync state's reorder buffer, which must stay bounded in memory.
 */
const COLLECTING_MAX_PENDING = 256
/** Outcome records taken per pop, and how often (ms) the list is emptied. */
const OUTCOMES_PER_POP = 1000
const OUTCOMES_POLL_MS = 200
/** Waits at most `ms` for a promise (closing a queue on a dead Redis may never end). */
async function atMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p.catch(() => undefined), new Promise(resolve => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}

/**
 * How long a run may see no worker before it says so (S3C_WORKER_WAIT_MS, default 4 s): long
 * enough for workers started with the run to connect, short enough that a forgotten worker is
 * not taken for a hang.
 */
export function workerWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.S3C_WORKER_WAIT_MS)
  return env.S3C_WORKER_WAIT_MS && Number.isFinite(n) && n >= 0 ? n : 4000
}

/** Sends the run's jobs to BullMQ; any number of `s3c worker` processes run them. */
export class BullMQRunner implements Runner {
  private readonly queue: Queue
  private readonly flows: FlowProducer
  private bulk: {name: string; data: JobEnvelope; opts: JobsOptions}[] = []
  /** When the oldest job of `bulk` was cut. */
  private bulkSince = 0
  /** Small files held back for batches (one kind and batch key), the oldest first, and the job they came in. */
  private held: BatchFile[] = []
  private heldFirst = 0
  private heldJob?: FileBatch
  /** The held files' kind and batch key: a job with others is not added to them. */
  private heldKey = ''
  /** Batch jobs cut so far (the ramp of batchSize). */
  private batches = 0
  /** Workers seen connected (batchSize's tail); 4 until counted. */
  private workers = 4
  /** Sends to Redis, one after another (a timer may send while the walk adds). */
  private sending: Promise<void> = Promise.resolve()
  private sendTimer?: NodeJS.Timeout
  private lastAdd = 0
  /** Subscribed to the run's events: a job recorded wakes waitEvent. */
  private events?: Redis
  private eventSeen = false
  private wakeEvent?: () => void
  /**
   * Unfinished jobs as the run's events count them down: soon, but anyone who can publish on the
   * channel can send one, so this only decides when to look (the tail, a read of the counters).
   */
  private unfinished = 0
  /**
   * Unfinished jobs as the run's counters in Redis last said, plus every job sent since: an upper
   * bound (jobs only finish), which alone lets the walk past maxPending (waitForRoom).
   */
  private unfinishedRead = 0
  /** Jobs counted as sent, and of those the ones whose ids are in the run's job set (counted by a read of the counters). */
  private sentJobs = 0
  private savedJobs = 0
  private fatal?: FatalError
  private readonly heartbeat: NodeJS.Timeout
  /** Set by collectOutcomes: told each file outcome the workers report (the sync state). */
  private onFile?: (outcome: FileOutcome) => void
  private outcomeTimer?: NodeJS.Timeout
  /** The pops in flight, one after another. */
  private popping: Promise<void> = Promise.resolve()
  private workerTimer?: NodeJS.Timeout

  /** Used by the queue and the flow producer; BullMQ does not close a connection it was given. */
  private readonly connection: Redis
  private readonly maxBatch: number
  private readonly lookahead: number

  private constructor(private readonly redis: Redis, private readonly opts: BullMQRunnerOptions, private readonly lock: string, private readonly pointer: string) {
    this.connection = connectRedis(opts.redisUrl, {failFast: true})
    this.maxBatch = opts.batchFiles ?? 64
    this.lookahead = this.maxBatch * LOOKAHEAD_BATCHES
    this.queue = new Queue(QUEUE_NAME, {connection: this.connection})
    this.flows = new FlowProducer({connection: this.connection})
    this.queue.on('error', () => undefined)
    this.flows.on('error', () => undefined)
    this.heartbeat = setInterval(() => {
      void redis.eval(REFRESH_LOCK, 1, runLockKey(opts.runId), lock, LOCK_TTL_MS).catch(() => undefined)
    }, LOCK_TTL_MS / 3)
    this.heartbeat.unref()
    this.watchWorkers()
  }

  /**
   * A run no worker takes would wait at 0% with no word: once no worker has been seen for
   * workerWaitMs(), one line says what to start (and again if every worker goes later). The run
   * keeps waiting: the user may start one. Workers are counted by BullMQ (its named connections).
   */
  private watchWorkers(): void {
    const wait = workerWaitMs()
    let lastSeen = performance.now()
    let told = false
    let checking = false
    const check = () => {
      if (checking) return
      checking = true
      void workersConnected(this.queue).then(n => {
        // Unknown (a Redis without CLIENT LIST): nothing can be said.
        if (n === undefined) return clearInterval(this.workerTimer)
        if (n > 0) {
          lastSeen = performance.now()
          told = false
          this.workers = n
        } else if (!told && performance.now() - lastSeen >= wait) {
          told = true
          this.opts.onNotice?.(`waiting for a worker: start one with \`s3c worker --redis ${redactUrl(this.opts.redisUrl)}\``)
        }
      }, () => undefined).finally(() => { checking = false })
    }
    // Counted at once too: the tail of a short run is cut by it.
    check()
    this.workerTimer = setInterval(check, Math.max(50, Math.min(1000, wait / 2)))
    this.workerTimer.unref()
  }

  /**
   * Opens the run (see claimRun) as its only enqueuer. A resumed run first waits for the jobs
   * its earlier try queued, then starts counting afresh: the new walk sees every file again
   * (those that arrived are skipped), so each file is counted once. A retry (`retrying`) keeps
   * the counts when it only adds the failed work (`failed`: their failures are taken off), and
   * counts afresh when it runs the whole command again (`all`).
   */
  static async open(opts: Omit<BullMQRunnerOptions, 'runId' | 'runTry'> & {runId?: string; retrying?: 'failed' | 'all'; signal?: AbortSignal; onRunId?: (id: string, resumed: boolean) => void}): Promise<BullMQRunner> {
    const redis = connectRedis(opts.redisUrl, {failFast: true})
    let runner: BullMQRunner | undefined
    let lock: {key: string; value: string} | undefined
    try {
      await checkRedis(redis, opts.redisUrl, opts.signal)
      const pointer = resumeKey(createHash('sha1').update(opts.description).digest('hex'))
      const {runId, resumed} = await claimRun(redis, pointer, opts.runId)
      lock = {key: runLockKey(runId), value: await takeLock(redis, runId)}
      const now = Date.now()
      // With a job key the stored command is signed (s3c retry checks it); without, an old signature goes.
      const commandSig = signCommand(opts.command)
      const stored = {description: opts.description, command: opts.command, ...(commandSig && {commandSig})}
      if (!resumed) await redis.multi().hset(runKey(runId), {...stored, status: 'running', createdAt: now}).zadd(RUNS_KEY, now, runId).exec()
      opts.onRunId?.(runId, resumed)
      // The earlier try's queued jobs finish first; the walk that follows then sees their files in
      // S3 and skips them, so no file goes twice even though batches may be cut differently.
      if (resumed && !opts.retrying) {
        for (let c = await readCounters(redis, runId); c.jobsFinished < c.jobsAdded; c = await readCounters(redis, runId)) {
          if (opts.signal?.aborted) throw opts.signal.reason
          await sleep(200)
        }
      }
      const tx = redis.multi()
        .hset(runKey(runId), {...stored, status: 'running'})
        .hdel(runKey(runId), 'fatal', 'finishedAt', 'enqueued', 'outcomes', ...(commandSig ? [] : ['commandSig']))
        .hincrby(runKey(runId), 'try', 1)
        // Outcomes an earlier try's jobs reported are not this try's: its files are planned again.
        .del(runOutcomesKey(runId))
      if (opts.retrying) resetForRetry(tx, runId, opts.retrying === 'all')
      else if (resumed) resetForRetry(tx, runId, true)
      const replies = await tx.exec()
      const runTry = Number(replies?.[2]?.[1] ?? 1)
      runner = new BullMQRunner(redis, {...opts, runId, runTry}, lock.value, pointer)
      await runner.listen()
      return runner
    } catch (error) {
      if (runner) await runner.end(error)
      else {
        if (lock) await redis.eval(RELEASE_LOCK, 1, lock.key, lock.value).catch(() => undefined)
        redis.disconnect()
      }
      throw error
    }
  }

  /**
   * Subscribes to the run's events (a job recorded, a fatal error: counters.ts, worker.ts), so
   * the end of a run is noticed within a round trip instead of at the next poll. The polls stay,
   * less often, for what an event could miss (a reconnection).
   */
  private async listen(): Promise<void> {
    const events = this.redis.duplicate()
    events.on('error', () => undefined)
    this.events = events
    events.on('message', () => {
      // One message per job recorded (and one for a fatal error): the count of unfinished jobs
      // stays current between polls, which correct it. The message itself is not read: a forged
      // or malformed one costs a wake-up and a read of the counters, never room in Redis.
      this.unfinished = Math.max(0, this.unfinished - 1)
      this.eventSeen = true
      this.wakeEvent?.()
    })
    await events.subscribe(runEventsChannel(this.opts.runId))
  }

  /** Returns at the run's next event (or one seen since the last call), or after `ms`. */
  private async waitEvent(ms: number): Promise<void> {
    if (!this.eventSeen) {
      await new Promise<void>(resolve => {
        const timer = setTimeout(done, ms)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.wakeEvent = done
      })
      this.wakeEvent = undefined
    }
    this.eventSeen = false
  }

  private envelope(job: JobData, top: boolean): JobEnvelope {
    return signEnvelope<JobEnvelope>({runId: this.opts.runId, try: this.opts.runTry, maxRetry: this.opts.maxRetry, top, job, ...(this.onFile && top && {outcomes: true})})
  }

  /**
   * The sync state of an attached run (docs/DESIGN-state.md, "Detached and --redis runs"): from
   * now on workers push each file's outcome to the run's list with its counts, and this pops
   * them every 200 ms (and at the end) into `onFile`, as an in-process run hands them over.
   * Returns the files the run holds unfinished at most (the reorder buffer's bound), or undefined
   * for a detached run, whose outcomes nobody stays to collect. Call it before adding jobs.
   */
  async collectOutcomes(onFile: (outcome: FileOutcome) => void): Promise<number | undefined> {
    if (this.opts.detach) return undefined
    await this.redis.hset(runKey(this.opts.runId), 'outcomes', 1)
    this.onFile = onFile
    this.outcomeTimer = setInterval(() => {
      this.popping = this.popping.then(() => this.popOutcomes()).catch(() => undefined)
    }, OUTCOMES_POLL_MS)
    this.outcomeTimer.unref()
    // Jobs in Redis, the ones waiting to be sent in bulk, and the files held back for batches.
    return (COLLECTING_MAX_PENDING + MAX_BULK + 1) * this.maxBatch + this.lookahead
  }

  /** Hands the outcomes reported so far to onFile, in chunks (the list holds only what was not popped yet). */
  private async popOutcomes(): Promise<void> {
    const onFile = this.onFile
    if (!onFile) return
    const key = runOutcomesKey(this.opts.runId)
    for (;;) {
      // LPOP key 1000, spelled so that Redis 5 to 6.0 (which BullMQ still runs on) can do it.
      const replies = await this.redis.multi().lrange(key, 0, OUTCOMES_PER_POP - 1).ltrim(key, OUTCOMES_PER_POP, -1).exec()
      const [error, records] = replies?.[0] ?? [new Error('Redis discarded the transaction'), []]
      if (error) throw error
      for (const r of records as string[]) onFile(parseFileRecord(r))
      if ((records as string[]).length < OUTCOMES_PER_POP) return
    }
  }

  private jobOpts(job: JobData): JobsOptions {
    // Finished jobs leave Redis; the run keeps its own counters.
    return {jobId: jobIdFor(this.opts.runId, this.opts.runTry, job), removeOnComplete: true, removeOnFail: 1000}
  }

  async add(work: Work): Promise<void> {
    if (this.fatal) throw this.fatal
    this.lastAdd = performance.now()
    if (isFlow(work)) {
      this.cutHeld(true)
      await this.send()
      const parentOpts = this.jobOpts(work.parent)
      // Finished earlier in this try: not again.
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
      this.sent(1)
      await Promise.all([this.redis.sadd(runJobsKey(this.opts.runId), parentOpts.jobId!), this.noteFound()])
      this.savedJobs++
    } else {
      const batchKey = kindOf(work).batchKey?.(work)
      if (batchKey === undefined) {
        this.cutHeld(true)
        this.push(work)
      } else this.hold(work as FileBatch, `${work.kind}\n${batchKey}`)
    }
    if (this.bulk.length >= MAX_BULK || (this.bulk.length > 0 && this.lastAdd - this.bulkSince >= SEND_MAX_AGE_MS)) await this.send()
    else if (this.bulk.length > 0 || this.heldFirst < this.held.length) this.sendWhenIdle()
    await this.waitForRoom()
  }

  /** Consecutive small-file jobs of the same kind and batch key (its bucket, …) are held back, then cut into batch jobs (batchSize). */
  private hold(job: FileBatch, key: string): void {
    if (this.heldKey !== key) this.cutHeld(true)
    if (this.heldFirst === this.held.length) {
      this.heldJob = job
      this.heldKey = key
    }
    for (const f of job.files) this.held.push(f)
    this.cutHeld(false)
  }

  /** Cuts batch jobs from the held files: those beyond the look-ahead, or (`end`) all of them, the last ones small. */
  private cutHeld(end: boolean): void {
    const maxBytes = this.opts.batchBytes ?? 8 << 20
    while (this.heldFirst < this.held.length && (end || this.held.length - this.heldFirst > this.lookahead)) {
      const size = batchSize({emitted: this.batches, remaining: this.held.length - this.heldFirst, end, workers: this.workers, max: this.maxBatch})
      const files: BatchFile[] = []
      let bytes = 0
      while (this.heldFirst < this.held.length && files.length < size && (files.length === 0 || bytes + this.held[this.heldFirst].size <= maxBytes)) {
        bytes += this.held[this.heldFirst].size
        files.push(this.held[this.heldFirst++])
      }
      this.push({...this.heldJob!, files} as FileBatch)
      this.batches++
    }
    if (this.heldFirst === this.held.length) {
      this.held = []
      this.heldFirst = 0
      this.heldKey = ''
      this.heldJob = undefined
    } else if (this.heldFirst > 4096 && this.heldFirst * 2 > this.held.length) {
      this.held = this.held.slice(this.heldFirst)
      this.heldFirst = 0
    }
  }

  private push(job: JobData): void {
    if (this.bulk.length === 0) this.bulkSince = performance.now()
    this.bulk.push({name: job.kind, data: this.envelope(job, true), opts: this.jobOpts(job)})
  }

  /**
   * Once the walk has given nothing for SEND_IDLE_MS (a slow listing, the planner waiting), the
   * jobs cut so far go to the workers; the held files too, cut as a tail, but only when the
   * workers could run out of work (fewer unfinished jobs than two per worker): a walk that only
   * waits for room in Redis must not cut its batches small. Counted by the events: a forged one
   * cuts at most the look-ahead's files early, into jobs the cap then counts.
   */
  private sendWhenIdle(): void {
    if (this.sendTimer || this.closed) return
    this.sendTimer = setTimeout(() => {
      this.sendTimer = undefined
      if (performance.now() - this.lastAdd < SEND_IDLE_MS) return this.sendWhenIdle()
      if (this.unfinished + this.bulk.length < 2 * this.workers) this.cutHeld(true)
      // A failure surfaces at the next add() or drain(), which wait on the same chain.
      void this.send().catch(() => undefined)
      if (this.heldFirst < this.held.length) this.sendWhenIdle()
    }, SEND_IDLE_MS)
  }

  /** Sends the jobs cut so far, after the sends before it. */
  private send(): Promise<void> {
    const jobs = this.bulk
    this.bulk = []
    if (jobs.length > 0) this.sending = this.sending.then(() => this.sendBulk(jobs))
    return this.sending
  }

  private async sendBulk(bulk: {name: string; data: JobEnvelope; opts: JobsOptions}[]): Promise<void> {
    const ids = bulk.map(j => j.opts.jobId!)
    const done = await this.redis.smismember(runDoneKey(this.opts.runId), ids)
    const jobs = bulk.filter((_, i) => !done[i])
    // Counted before they can finish (a worker's event counts one down).
    this.sent(jobs.length)
    // Into the queue first, then into the run's set: a kill in between leaves a queued job that
    // the next try adds again under the same id (a no-op), never a counted job that is missing.
    if (jobs.length) await this.queue.addBulk(jobs)
    await Promise.all([this.redis.sadd(runJobsKey(this.opts.runId), ...ids), this.noteFound()])
    this.savedJobs += jobs.length
  }

  private sent(n: number): void {
    this.unfinished += n
    this.unfinishedRead += n
    this.sentJobs += n
  }

  /**
   * What the walk found so far, for the runs page's share (done ÷ found once the walk is done):
   * written as jobs go to Redis and with \`enqueued\` at the end. A retry of the failed files walks
   * only those: the run keeps its first walk's total, as it keeps its counts.
   */
  private noteFound(): Promise<unknown> {
    if (this.opts.retrying === 'failed') return Promise.resolve()
    return this.redis.hset(runKey(this.opts.runId), 'filesFound', this.opts.stats.filesSeen)
  }

  /**
   * Keeps Redis memory bounded: the walk waits while too many jobs are unfinished. It passes on
   * the counters read from Redis, never on the events alone (a forged event would let it add
   * jobs past the cap): once the jobs sent since the last read could fill it, it reads again. When
   * the workers keep up that is one round trip per (maxPending − unfinished) jobs sent; at the cap,
   * one per event (or 500 ms), as before: a forged event costs one read.
   */
  private async waitForRoom(): Promise<void> {
    const max = Math.min(this.opts.maxPending ?? 5000, this.onFile ? COLLECTING_MAX_PENDING : Infinity)
    if (this.unfinishedRead < max) return
    for (;;) {
      await this.readUnfinished()
      if (this.fatal) throw this.fatal
      if (this.unfinishedRead < max) return
      await this.waitEvent(500)
    }
  }

  /** Reads the counters (poll) and from them the unfinished jobs, with the sends whose ids the read may have missed. */
  private async readUnfinished(): Promise<void> {
    const saved = this.savedJobs
    const c = await this.poll()
    // Jobs added and finished are sizes of sets: whole numbers, whatever else the hash holds.
    const read = Math.max(0, c.jobsAdded - c.jobsFinished)
    this.unfinishedRead = read + (this.sentJobs - saved)
    this.unfinished = this.unfinishedRead
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

  /**
   * What the planner decided itself (a large file found unchanged, a key refused) goes into the
   * run's counters too, so `s3c status` and `s3c retry` see every file; the local counts are then
   * the run's, read back by poll().
   */
  private async flushPlannerOutcomes(): Promise<void> {
    const s = this.opts.stats
    await recordPlannerOutcomes(this.redis, this.opts.runId, {done: s.filesDone, skipped: s.filesSkipped, failures: s.failures})
    s.filesDone = 0
    s.filesSkipped = 0
    s.filesFailed = 0
    s.failures.length = 0
  }

  async drain(): Promise<void> {
    if (this.closed) {
      if (this.fatal) throw this.fatal
      return
    }
    try {
      clearTimeout(this.sendTimer)
      this.sendTimer = undefined
      if (!this.fatal) {
        this.cutHeld(true)
        await this.send()
        await this.flushPlannerOutcomes()
        await Promise.all([this.noteFound(), this.redis.hset(runKey(this.opts.runId), 'enqueued', 1)])
      }
      if (this.opts.detach && !this.fatal) return
      for (;;) {
        const c = await this.poll()
        if (this.fatal) throw this.fatal
        if (c.jobsFinished >= c.jobsAdded) break
        await this.waitEvent(500)
      }
      if (this.onFile) {
        // Every job has reported: the last outcomes, then the list and the flag go.
        clearInterval(this.outcomeTimer)
        await this.popping
        await this.popOutcomes()
        await this.redis.multi().del(runOutcomesKey(this.opts.runId)).hdel(runKey(this.opts.runId), 'outcomes').exec()
      }
      this.opts.stats.failures.push(...(await readFailures(this.redis, this.opts.runId)))
      await this.redis.hset(runKey(this.opts.runId), {status: 'done', finishedAt: Date.now()})
    } catch (error) {
      await this.end(error)
      throw error
    } finally {
      await this.close()
    }
  }

  /**
   * Marks a run that stopped: interrupted (Ctrl-C: the same command resumes it) or failed (the
   * same command starts a new run). Its remaining jobs are dropped by the workers.
   */
  private async end(error: unknown): Promise<void> {
    const original = error instanceof FatalError ? error.original : error
    const interrupted = original instanceof S3cError && original.exitCode === ExitCode.interrupted
    const message = (original instanceof Error ? original.message : String(original)).split('\n')[0] || 'stopped'
    const tx = this.redis.multi().hset(runKey(this.opts.runId), {status: interrupted ? 'interrupted' : 'failed', finishedAt: Date.now(), fatal: message})
      // The state of a stopped run is not written: its outcomes are of no use.
      .hdel(runKey(this.opts.runId), 'outcomes').del(runOutcomesKey(this.opts.runId))
    if (!interrupted) tx.eval(FORGET_POINTER, 1, this.pointer, this.opts.runId)
    await atMost(tx.exec(), 5000)
    await this.close()
  }

  stop(error: FatalError): void {
    if (this.fatal) return
    this.fatal = error
    // Workers drop the jobs of a stopped run.
    void this.redis.hset(runKey(this.opts.runId), 'fatal', error.message || 'stopped').catch(() => undefined)
  }

  private closed = false
  private async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.heartbeat)
    clearInterval(this.outcomeTimer)
    clearInterval(this.workerTimer)
    clearTimeout(this.sendTimer)
    this.wakeEvent?.()
    this.events?.disconnect()
    await atMost(this.redis.eval(RELEASE_LOCK, 1, runLockKey(this.opts.runId), this.lock), 5000)
    await atMost(Promise.allSettled([this.queue.close(), this.flows.close()]), 5000)
    this.connection.disconnect()
    this.redis.disconnect()
  }
}
