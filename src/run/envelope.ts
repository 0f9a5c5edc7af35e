import {createHash} from 'node:crypto'
import {sourceName} from '../base/storage.js'
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
}

/** The keys a job is about, for its id. */
function keysOf(job: JobData): string {
  switch (job.kind) {
    case 'upload-files':
    case 'download-files':
      return job.files.map(f => f.key).join('\n')
    case 'upload-part':
    case 'tar-part':
      return `${job.key}\n${job.offset}`
    case 'download-range':
      return `${sourceName(job.source)}\n${job.offset}`
    case 'extract-members':
      return `${sourceName(job.source)}\n${job.start}`
    case 'tar-copy':
    case 'tar-temp':
      return `${job.key}\n${job.uploadId}\n${job.firstPart}`
    case 'copy-members':
      return job.members.map(m => m.destKey).join('\n')
    case 'copy-object':
      return job.files.map(f => f.key).join('\n')
    case 'copy-part':
      return `${job.key}\n${job.uploadId}\n${job.partNumber}`
    case 'delete-objects':
      return `${job.bucket}\n${job.keys.join('\n')}`
    default:
      return job.key
  }
}

/**
 * Job ids come from the run, its try and the files, so adding the same work twice in one try
 * runs it once, and a later try (whose multipart uploads have new ids) never collides with a
 * job BullMQ still keeps from an earlier one (failed jobs stay, removeOnFail).
 */
export function jobIdFor(runId: string, runTry: number, job: JobData): string {
  return `${runId}-${runTry}-${job.kind}-${createHash('sha1').update(keysOf(job)).digest('hex').slice(0, 20)}`
}
