import type {ChainableCommander, Redis} from 'ioredis'
import type {FileOutcome, JobResult} from '../jobs/types.js'
import {runDoneKey, runEventsChannel, runFailuresKey, runJobsKey, runKey, runLockKey, runOutcomesKey} from './redis.js'

/** Counters of a run as kept in Redis (the hash fields). */
export interface RunCounters {
  jobsAdded: number
  jobsFinished: number
  filesDone: number
  filesSkipped: number
  filesFailed: number
  bytes: number
  fatal?: string
}

/**
 * Counts a finished job once: only for the run's current try (a job left over from an earlier
 * try is stale: that try's counts were reset), and only the first time its id finishes (a job
 * that ran twice, picked up again after its worker stalled, counts once). One script, so two
 * workers finishing the same job at once cannot both count it.
 * The files' outcomes (the sync state's records, see FileRecord) go to the run's outcome list in
 * the same step, only while the attached CLI collects them (the run hash's \`outcomes\`, set by
 * it for this try) and lives (its enqueuer lock): a CLI that died leaves no list growing.
 * The run's events channel hears of it (the CLI waiting for the end wakes at once).
 * KEYS: run hash, done set, failures list, outcome list, enqueuer lock, events channel.
 * ARGV: job id, try, done, skipped, failed, bytes, now, number of failures n, n failure JSONs, outcome records…
 */
const RECORD_SCRIPT = `
local try = redis.call('HGET', KEYS[1], 'try') or '0'
if try ~= ARGV[2] then return 0 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
if ARGV[3] ~= '0' then redis.call('HINCRBY', KEYS[1], 'filesDone', ARGV[3]) end
if ARGV[4] ~= '0' then redis.call('HINCRBY', KEYS[1], 'filesSkipped', ARGV[4]) end
if ARGV[5] ~= '0' then redis.call('HINCRBY', KEYS[1], 'filesFailed', ARGV[5]) end
if ARGV[6] ~= '0' then redis.call('HINCRBY', KEYS[1], 'bytes', ARGV[6]) end
local records = 9 + tonumber(ARGV[8])
for i = 9, records - 1 do redis.call('RPUSH', KEYS[3], ARGV[i]) end
if #ARGV >= records and redis.call('HGET', KEYS[1], 'outcomes') == '1' and redis.call('EXISTS', KEYS[5]) == 1 then
  for i = records, #ARGV, 1000 do redis.call('RPUSH', KEYS[4], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[7])
redis.call('PUBLISH', KEYS[6], '1')
return 1
`

function tally(files: FileOutcome[]) {
  let done = 0, skipped = 0, failed = 0, bytes = 0
  const failures: string[] = []
  for (const f of files) {
    if (f.status === 'done') {
      done++
      bytes += f.bytes
    } else if (f.status === 'skipped') skipped++
    else {
      failed++
      failures.push(JSON.stringify({key: f.key, path: f.path, error: f.error}))
    }
  }
  return {done, skipped, failed, bytes, failures}
}

/**
 * What the attached CLI's sync state needs of one file a worker handled: the FileOutcome the
 * handler returned, without what only the summary uses (a failed file: key and status only).
 */
export type FileRecord = Pick<FileOutcome, 'key' | 'status' | 'state'>

export function fileRecord(f: FileOutcome): string {
  return JSON.stringify(f.status === 'failed' || !f.state ? {key: f.key, status: f.status} : {key: f.key, status: f.status, state: f.state})
}

export function parseFileRecord(record: string): FileOutcome {
  const r = JSON.parse(record) as FileRecord
  return {key: r.key, status: r.status, state: r.state, path: '', bytes: 0}
}

/**
 * Adds a finished top-level job's outcomes to its run, atomically and once per job id; false when
 * not counted. With `outcomes` (an attached run that writes a sync state) each file's record goes
 * to the run's outcome list as well.
 */
export async function recordResult(redis: Redis, runId: string, runTry: number, jobId: string, result: JobResult, outcomes = false): Promise<boolean> {
  const files = result.files ?? []
  const t = tally(files)
  const records = outcomes ? files.map(fileRecord) : []
  const counted = await redis.eval(RECORD_SCRIPT, 6, runKey(runId), runDoneKey(runId), runFailuresKey(runId), runOutcomesKey(runId), runLockKey(runId), runEventsChannel(runId),
    jobId, String(runTry), t.done, t.skipped, t.failed, t.bytes, Date.now(), t.failures.length, ...t.failures, ...records)
  return counted === 1
}

/** Outcomes the planner decided itself (a large file found unchanged, a key refused): added to the run's counters. */
export async function recordPlannerOutcomes(redis: Redis, runId: string, counts: {done: number; skipped: number; failures: {key: string; path: string; error: string}[]}): Promise<void> {
  if (counts.done + counts.skipped + counts.failures.length === 0) return
  const tx = redis.multi()
  if (counts.done) tx.hincrby(runKey(runId), 'filesDone', counts.done)
  if (counts.skipped) tx.hincrby(runKey(runId), 'filesSkipped', counts.skipped)
  if (counts.failures.length) tx.hincrby(runKey(runId), 'filesFailed', counts.failures.length).rpush(runFailuresKey(runId), ...counts.failures.map(f => JSON.stringify(f)))
  await tx.exec()
}

export async function readCounters(redis: Redis, runId: string): Promise<RunCounters & Record<string, string | number | undefined>> {
  // One transaction: a job a worker records between separate reads would show as finished with
  // its files not yet counted (a run ending one file short).
  const replies = await redis.multi().hgetall(runKey(runId)).scard(runJobsKey(runId)).scard(runDoneKey(runId)).exec()
  const value = <T>(i: number): T => {
    const [error, v] = replies?.[i] ?? [new Error('Redis discarded the transaction'), undefined]
    if (error) throw error
    return v as T
  }
  const h = value<Record<string, string>>(0)
  const jobsAdded = value<number>(1)
  const jobsFinished = value<number>(2)
  const n = (k: string) => Number(h[k] ?? 0)
  return {
    ...h,
    jobsAdded, jobsFinished, filesDone: n('filesDone'), filesSkipped: n('filesSkipped'),
    filesFailed: n('filesFailed'), bytes: n('bytes'), fatal: h.fatal || undefined,
  }
}

export async function readFailures(redis: Redis, runId: string): Promise<{key: string; path: string; error: string}[]> {
  return (await redis.lrange(runFailuresKey(runId), 0, -1)).map(s => JSON.parse(s))
}

/**
 * The run's \`startedAt\`: when its first job of the current try began on a worker, set once
 * (HSETNX-like) and only for a live run of that try, so a stale or dropped job marks nothing and
 * a removed run is not recreated. The runs page measures elapsed time and a finished run's
 * average rate from it, not from when the run was queued.
 * KEYS: run hash. ARGV: try, now.
 */
const START_SCRIPT = `
if redis.call('HGET', KEYS[1], 'try') ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'startedAt') == 1 then return 0 end
local fatal = redis.call('HGET', KEYS[1], 'fatal')
if fatal and fatal ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'startedAt', ARGV[2])
return 1
`

/** Adds "this job has started" (START_SCRIPT) to a transaction a worker sends as a job begins: no extra round trip. */
export function markStarted<T extends ChainableCommander>(tx: T, runId: string, runTry: number, now = Date.now()): T {
  tx.eval(START_SCRIPT, 1, runKey(runId), String(runTry), now)
  return tx
}

/**
 * Makes the run ready for its retry (in the transaction that starts the new try): the failures
 * go (the retry counts the failed files again) and every job may be added again; a whole rerun
 * (`all`) counts everything afresh.
 */
export function resetForRetry(tx: ChainableCommander, runId: string, all: boolean): void {
  tx.del(runFailuresKey(runId), runDoneKey(runId), runJobsKey(runId)).hset(runKey(runId), 'filesFailed', 0)
  // Counted afresh: timed afresh too (a retry of the failed files keeps the first start, as it keeps the counts).
  if (all) tx.hset(runKey(runId), {filesDone: 0, filesSkipped: 0, bytes: 0, bytesLive: 0}).hdel(runKey(runId), 'startedAt', 'filesFound')
}
