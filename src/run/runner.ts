import type {FatalError} from '../base/errors.js'
import type {FileOutcome, JobData, Work} from '../jobs/types.js'

/** Where the enqueuing side sends work: InProcessRunner (in-process.ts) or BullMQRunner (bullmq.ts). */
export interface Runner {
  /** Resolves once the work is accepted; waits while the queue is full (backpressure for the walker). */
  add(work: Work): Promise<void>
  /** Resolves when everything added has run; rejects with FatalError if the run was stopped. */
  drain(): Promise<void>
  /** Stops the run: nothing new starts; drain() rejects with this error. */
  stop(error: FatalError): void
}

/** Files a job was about, for reporting a job that failed as a whole. */
export function filesOfJob(job: JobData): {key: string; path: string; bytes: number}[] {
  switch (job.kind) {
    case 'upload-files':
      return job.files.map(f => ({key: f.key, path: f.path, bytes: f.size}))
    case 'download-files':
      return job.files.map(f => ({key: f.key, path: f.path, bytes: f.size}))
    case 'complete-upload':
    case 'finish-download':
      return [{key: job.key, path: job.path, bytes: job.size}]
    case 'complete-tar':
      return [{key: job.key, path: job.source, bytes: job.size}]
    case 'extract-members':
      return job.members.map(m => ({key: m.name, path: m.path, bytes: m.size}))
    case 'copy-members':
      return job.members.map(m => ({key: m.destKey, path: m.name, bytes: m.size}))
    case 'copy-object':
      return job.files.map(f => ({key: f.key, path: `s3://${job.srcBucket}/${f.srcKey}`, bytes: f.size}))
    case 'complete-copy':
      return [{key: job.key, path: `s3://${job.srcBucket}/${job.srcKey}`, bytes: job.size}]
    case 'delete-objects':
      return job.keys.map(key => ({key, path: `s3://${job.bucket}/${key}`, bytes: 0}))
    default:
      return []
  }
}

export function failedOutcomes(job: JobData, error: string): FileOutcome[] {
  return filesOfJob(job).map(f => ({...f, status: 'failed' as const, error}))
}
