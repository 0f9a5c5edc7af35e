import type {FileOutcome} from '../jobs/types.js'

/** Counters of one run; the walker, the handlers and the runner feed it, the progress reporter reads it. */
export class RunStats {
  readonly startedAt = Date.now()
  filesSeen = 0
  bytesSeen = 0
  filesDone = 0
  filesSkipped = 0
  filesFailed = 0
  /** Bytes moved so far, updated live while files transfer. */
  bytesDone = 0
  walkDone = false
  readonly failures: {key: string; path: string; error: string}[] = []

  seen(bytes: number): void {
    this.filesSeen++
    this.bytesSeen += bytes
  }

  record(outcome: FileOutcome): void {
    if (outcome.status === 'done') this.filesDone++
    else if (outcome.status === 'skipped') {
      this.filesSkipped++
      // Skipped bytes count as handled so the rate and ETA stay honest.
      this.bytesSeen -= outcome.bytes
    } else {
      this.filesFailed++
      this.failures.push({key: outcome.key, path: outcome.path, error: outcome.error ?? 'failed'})
    }
  }

  get filesHandled(): number {
    return this.filesDone + this.filesSkipped + this.filesFailed
  }

  get seconds(): number {
    return (Date.now() - this.startedAt) / 1000
  }
}

export interface RunSummary {
  filesDone: number
  filesSkipped: number
  filesFailed: number
  bytes: number
  seconds: number
  failures: {key: string; path: string; error: string}[]
}

export function summarize(stats: RunStats): RunSummary {
  return {
    filesDone: stats.filesDone, filesSkipped: stats.filesSkipped, filesFailed: stats.filesFailed,
    bytes: stats.bytesDone, seconds: Math.round(stats.seconds * 1000) / 1000, failures: stats.failures,
  }
}
