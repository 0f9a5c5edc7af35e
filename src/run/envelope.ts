import {createHash} from 'node:crypto'
import {kindOf} from '../jobs/registry.js'
import type {JobData} from '../jobs/types.js'

/** What a BullMQ job carries: the plain job, plus the run it belongs to. */
export interface JobEnvelope {
  runId: string
  /**
   * Which try of the run added the job (1, 2, … for resumes and retries; absent from jobs of
   * an older s3c: 0). A worker drops a job of an earlier try: that try's work was planned again.
   */
  try?: number
  /** Retries per request inside the handler (the run's --max-retry). */
  maxRetry: number
  /** True for jobs the run counts (a job or a flow's parent); false for a flow's children. */
  top: boolean
  /**
   * The attached CLI collects each file's outcome for the sync state: a top job's worker sends
   * them with its counts (recordResult). Absent for detached runs (nobody stays to collect).
   */
  outcomes?: boolean
  job: JobData
  /** With a job key: HMAC-SHA256 of the rest of the envelope (run/trust.ts); workers holding the key refuse a job without a valid one. */
  sig?: string
}

/**
 * Job ids come from the run, its try and the keys the job is about (its kind's idKeys), so adding
 * the same work twice in one try runs it once, and a later try (whose multipart uploads have new
 * ids) never collides with a job BullMQ still keeps from an earlier one (failed jobs stay, removeOnFail).
 */
export function jobIdFor(runId: string, runTry: number, job: JobData): string {
  return `${runId}-${runTry}-${job.kind}-${createHash('sha1').update(kindOf(job).idKeys(job)).digest('hex').slice(0, 20)}`
}
