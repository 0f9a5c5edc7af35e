import type {Redis} from 'ioredis'
import type {Queue} from 'bullmq'
import {readCounters, readFailures} from './counters.js'
import {averageRate} from './progress.js'
import {QUEUE_NAME, RUNS_KEY} from './redis.js'

export interface RunStatus {
  runId: string
  description: string
  /** `interrupted`: stopped by Ctrl-C/SIGTERM (the same command resumes it); `failed`: stopped by an error. */
  state: 'enqueuing' | 'running' | 'done' | 'failed' | 'interrupted'
  filesDone: number
  filesSkipped: number
  filesFailed: number
  jobsPending: number
  bytes: number
  /** Files the walk found: so far while `walkDone` is false, the run's total after. */
  filesFound: number
  /** The walk has ended and every job is queued. */
  walkDone: boolean
  /** The average while the run ran: from its first job started to its end (or now); 0 before any job started. */
  bytesPerSecond: number
  /** When the run was queued (its command started). */
  createdAt: string
  /** When its first job started on a worker; absent while none has. */
  startedAt?: string
  /** When it ended (done, failed, interrupted); absent while it runs. */
  finishedAt?: string
  fatal?: string
  failures: {key: string; path: string; error: string}[]
}

/** What `s3c status` shows, from the run's counters in Redis; undefined for an unknown run. */
export async function runStatus(redis: Redis, runId: string): Promise<RunStatus | undefined> {
  const c = await readCounters(redis, runId)
  if (!c.createdAt) return undefined
  const created = Number(c.createdAt)
  const walkDone = Number(c.enqueued ?? 0) === 1
  const finished = c.jobsFinished >= c.jobsAdded && walkDone
  const state = c.status === 'interrupted' ? 'interrupted' : c.fatal || c.status === 'failed' ? 'failed'
    : finished ? 'done' : walkDone ? 'running' : 'enqueuing'
  // A detached run has no finishedAt: its last finished job marks the end.
  const finishedAt = c.finishedAt ?? (state === 'done' ? c.updatedAt : undefined)
  const startedAt = c.startedAt === undefined ? undefined : Number(c.startedAt)
  const bytes = Math.max(c.bytes, Number(c.bytesLive ?? 0))
  const files = c.filesDone + c.filesSkipped + c.filesFailed
  const iso = (t: number | string | undefined) => (t === undefined ? undefined : new Date(Number(t)).toISOString())
  return {
    runId, description: String(c.description ?? ''), state,
    filesDone: c.filesDone, filesSkipped: c.filesSkipped, filesFailed: c.filesFailed,
    jobsPending: Math.max(0, c.jobsAdded - c.jobsFinished), bytes,
    filesFound: Number(c.filesFound ?? 0), walkDone,
    bytesPerSecond: Math.round(averageRate(files, bytes, startedAt, Number(finishedAt ?? Date.now()))?.bytesPerSecond ?? 0),
    createdAt: new Date(created).toISOString(),
    ...(startedAt !== undefined && {startedAt: iso(startedAt)}), ...(finishedAt !== undefined && {finishedAt: iso(finishedAt)}),
    fatal: c.fatal, failures: await readFailures(redis, runId),
  }
}

/** The most recent runs, newest first. */
export async function recentRuns(redis: Redis, count: number): Promise<RunStatus[]> {
  const ids = await redis.zrevrange(RUNS_KEY, 0, count - 1)
  const all = await Promise.all(ids.map(id => runStatus(redis, id)))
  return all.filter((s): s is RunStatus => s !== undefined)
}

/**
 * `s3c worker` processes connected to the queue now (BullMQ's count of its workers' named
 * connections, CLIENT LIST), or undefined where Redis does not tell (CLIENT disabled).
 */
export async function workersConnected(queue: Queue): Promise<number | undefined> {
  const workers = await queue.getWorkers()
  // BullMQ answers one nameless entry when CLIENT LIST is refused.
  return workers.some(w => w.id === undefined) ? undefined : workers.length
}

/** workersConnected on a connection of the caller's (status, runs): BullMQ loaded for it, the connection left open. */
export async function workersOn(redis: Redis): Promise<number | undefined> {
  const {Queue} = await import('bullmq')
  const queue = new Queue(QUEUE_NAME, {connection: redis})
  queue.on('error', () => undefined)
  try {
    return await workersConnected(queue)
  } catch {
    return undefined
  } finally {
    await queue.close().catch(() => undefined)
  }
}
