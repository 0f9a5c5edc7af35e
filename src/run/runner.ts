import type {FatalError} from '../base/errors.js'
import {findKind} from '../jobs/registry.js'
import type {FileOutcome, JobData, JobFile, Work} from '../jobs/types.js'

/** Where the enqueuing side sends work: InProcessRunner (in-process.ts) or BullMQRunner (bullmq.ts). */
export interface Runner {
  /** Resolves once the work is accepted; waits while the queue is full (backpressure for the walker). */
  add(work: Work): Promise<void>
  /** Resolves when everything added has run; rejects with FatalError if the run was stopped. */
  drain(): Promise<void>
  /** Stops the run: nothing new starts; drain() rejects with this error. */
  stop(error: FatalError): void
}

/** Files a job was about, for reporting a job that failed as a whole (its kind's `files`; none for a kind unknown here). */
export function filesOfJob(job: JobData): JobFile[] {
  return findKind(job.kind)?.files?.(job) ?? []
}

export function failedOutcomes(job: JobData, error: string): FileOutcome[] {
  return filesOfJob(job).map(f => ({...f, status: 'failed' as const, error}))
}
