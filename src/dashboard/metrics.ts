import type {RunStatus} from '../run/status.js'

/** Job states BullMQ counts for a queue, as exported in s3c_queue_jobs{state=...}. */
export const QUEUE_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'waiting-children'] as const

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** The Prometheus text exposition (format 0.0.4) of the queue's job counts and the recent runs' counters. */
export function renderMetrics(counts: Record<string, number>, paused: boolean, runs: RunStatus[], workers?: number): string {
  const out: string[] = []
  const family = (name: string, help: string, samples: [labels: string, value: number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
    for (const [labels, value] of samples) out.push(`${name}{${labels}} ${Number.isFinite(value) ? value : 0}`)
  }
  family('s3c_queue_jobs', 'Jobs in the s3c BullMQ queue, by state.',
    QUEUE_STATES.map(s => [`state="${s}"`, counts[s] ?? 0]))
  out.push('# HELP s3c_queue_paused 1 while the s3c queue is paused (workers take no jobs).', '# TYPE s3c_queue_paused gauge', `s3c_queue_paused ${paused ? 1 : 0}`)
  // Left out where Redis does not tell (CLIENT LIST refused): absent, not 0.
  if (workers !== undefined) out.push('# HELP s3c_workers s3c worker processes connected to the queue now.', '# TYPE s3c_workers gauge', `s3c_workers ${workers}`)
  const perRun = (name: string, help: string, value: (r: RunStatus) => number) =>
    family(name, help, runs.map(r => [`run="${label(r.runId)}"`, value(r)]))
  family('s3c_run_info', 'A recent run: its state and description (value always 1).',
    runs.map(r => [`run="${label(r.runId)}",state="${r.state}",description="${label(r.description)}"`, 1]))
  perRun('s3c_run_files_done', 'Files transferred by the run.', r => r.filesDone)
  perRun('s3c_run_files_skipped', 'Files the run skipped (unchanged).', r => r.filesSkipped)
  perRun('s3c_run_files_failed', 'Files that failed after all retries.', r => r.filesFailed)
  perRun('s3c_run_bytes', 'Bytes transferred by the run.', r => r.bytes)
  perRun('s3c_run_files_found', 'Files the walk found (so far, while s3c_run_walk_done is 0).', r => r.filesFound)
  perRun('s3c_run_walk_done', '1 once the walk has ended (every job is queued).', r => (r.walkDone ? 1 : 0))
  perRun('s3c_run_bytes_per_second', 'Average rate while the run ran: from its first job started to its end (or now).', r => r.bytesPerSecond)
  perRun('s3c_run_jobs_pending', 'Top-level jobs of the run not finished yet.', r => r.jobsPending)
  perRun('s3c_run_created_timestamp_seconds', 'When the run started (Unix time).', r => Math.floor(Date.parse(r.createdAt) / 1000))
  return out.join('\n') + '\n'
}
