import type {FileOutcome} from '../jobs/types.js'

/** Skips named one by one in the summary (all are counted): a tree of links must not fill memory. */
export const MAX_LISTED_SKIPS = 10_000

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
  /**
   * Counts that workers elsewhere report (BullMQ runs); they add to the ones recorded here,
   * which then come from the planner alone.
   */
  readonly remote = {filesDone: 0, filesSkipped: 0, filesFailed: 0, bytes: 0}
  readonly failures: {key: string; path: string; error: string}[] = []
  /** Skips recorded here, by reason ('unchanged' for a file its counterpart already holds). */
  readonly skippedBy: Record<string, number> = {}
  /** The skips that are not 'unchanged' (links, loops, …), named, up to MAX_LISTED_SKIPS. */
  readonly skips: {key: string; path: string; reason: string}[] = []
  /** An in-process run without --thread-count: its moving limit (src/run/adaptive.ts). */
  concurrency?: {readonly limit: number; readonly peak: number}

  /** A dry run's changes by action (upload, download, copy, check, delete…), and their bytes. */
  readonly planned: Record<string, number> = {}
  plannedBytes = 0
  /** Set by a planner that counts its dry run's changes (upload, download, cp, sync): the summary then holds them. */
  planning = false

  /** One change a dry run would make (unchanged files are recorded as skipped, as in a run). */
  plan(action: string, bytes: number): void {
    this.planned[action] = (this.planned[action] ?? 0) + 1
    this.plannedBytes += bytes
  }

  seen(bytes: number): void {
    this.filesSeen++
    this.bytesSeen += bytes
  }

  record(outcome: FileOutcome): void {
    if (outcome.status === 'done') this.filesDone++
    else if (outcome.status === 'skipped') {
      this.filesSkipped++
      const reason = outcome.reason ?? 'unchanged'
      this.skippedBy[reason] = (this.skippedBy[reason] ?? 0) + 1
      if (reason !== 'unchanged' && this.skips.length < MAX_LISTED_SKIPS) this.skips.push({key: outcome.key, path: outcome.path, reason})
      // Skipped bytes count as handled so the rate and ETA stay honest.
      this.bytesSeen -= outcome.bytes
    } else {
      this.filesFailed++
      this.failures.push({key: outcome.key, path: outcome.path, error: outcome.error ?? 'failed'})
    }
  }

  get filesHandled(): number {
    return this.totalDone + this.totalSkipped + this.totalFailed
  }

  get totalDone(): number {
    return this.filesDone + this.remote.filesDone
  }

  get totalSkipped(): number {
    return this.filesSkipped + this.remote.filesSkipped
  }

  get totalFailed(): number {
    return this.filesFailed + this.remote.filesFailed
  }

  get totalBytes(): number {
    return this.bytesDone + this.remote.bytes
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
  /** Skipped files by reason: unchanged, symlink, symlink loop, folder loop, not a regular file. */
  skippedBy: Record<string, number>
  /** The skipped files other than unchanged ones, named (at most MAX_LISTED_SKIPS). */
  skips: {key: string; path: string; reason: string}[]
  /** Requests in flight the run found by itself (no --thread-count): the highest limit, and the last. */
  concurrency?: {peak: number; last: number}
  /** A dry run: what it would do, by action (empty: nothing would change), and the bytes. */
  planned?: Record<string, number>
  plannedBytes?: number
}

export function summarize(stats: RunStats): RunSummary {
  const skippedBy = {...stats.skippedBy}
  // Workers (BullMQ runs) only ever skip unchanged files; the walk's skips are counted here.
  if (stats.remote.filesSkipped) skippedBy.unchanged = (skippedBy.unchanged ?? 0) + stats.remote.filesSkipped
  return {
    filesDone: stats.totalDone, filesSkipped: stats.totalSkipped, filesFailed: stats.totalFailed,
    bytes: stats.totalBytes, seconds: Math.round(stats.seconds * 1000) / 1000, failures: stats.failures,
    skippedBy, skips: stats.skips,
    ...(stats.concurrency ? {concurrency: {peak: stats.concurrency.peak, last: stats.concurrency.limit}} : {}),
    ...(stats.planning ? {planned: {...stats.planned}, plannedBytes: stats.plannedBytes} : {}),
  }
}
