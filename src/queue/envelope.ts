import {createHash} from 'node:crypto'
import {sourceName, type JobData} from '../jobs/types.js'

/** What a BullMQ job carries: the plain job, plus the run it belongs to. */
export interface JobEnvelope {
  runId: string
  /** Retries per request inside the handler (the run's --max-retry). */
  maxRetry: number
  /** True for jobs the run counts (a job or a flow's parent); false for a flow's children. */
  top: boolean
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
    default:
      return job.key
  }
}

/** Job ids come from the run and the files, so adding the same work twice runs it once. */
export function jobIdFor(runId: string, job: JobData): string {
  return `${runId}-${job.kind}-${createHash('sha1').update(keysOf(job)).digest('hex').slice(0, 20)}`
}
