import type {Redis} from 'ioredis'
import type {Queue} from 'bullmq'
import {readCounters, readFailures} from './counters.js'
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
  bytesPerSecond: number
  createdAt: string
  fatal?: string
  failures: {key: string; path: string; error: string}[]
}

/** What `s3c status` shows, from the run's counters in Redis; undefined for an unknown run. */
export async function runStatus(redis: Redis, runId: string): Promise<RunStatus | undefined> {
  const c = await readCounters(redis, runId)
  if (!c.createdAt) return undefined
  const created = Number(c.createdAt)
  const finished = c.jobsFinished >= c.jobsAdded && Number(c.enqueued ?? 0) === 1
  const state = c.status === 'interrupted' ? 'interrupted' : c.fatal || c.status === 'failed' ? 'failed'
    : finished ? 'done' : Number(c.enqueued ?? 0) === 1 ? 'running' : 'enqueuing'
  // A detached run has no finishedAt: its last finished job marks the end.
  const end = Number(c.finishedAt ?? (state === 'done' ? c.updatedAt ?? Date.now() : Date.now()))
  const bytes = Math.max(c.bytes, Number(c.bytesLive ?? 0))
  return {
    runId, description: String(c.description ?? ''), state,
    filesDone: c.filesDone, filesSkipped: c.filesSkipped, filesFailed: c.filesFailed,
    jobsPending: Math.max(0, c.jobsAdded - c.jobsFinished), bytes,
    bytesPerSecond: Math.round(bytes / Math.max(0.001, (end - created) / 1000)),
    createdAt: new Date(created).toISOString(), fatal: c.fatal, failures: await readFailures(redis, runId),
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
