import type {S3Location} from '../base/location.js'
import type {S3Store} from '../base/storage.js'
import type {CopyConditions} from '../jobs/types.js'
import type {S3Config} from '../s3/config.js'
import type {RunStats} from './stats.js'

/**
 * What a run needs, whatever its verb plans: the connection, how many requests at once, where
 * jobs run (this process or Redis), how it reports, and how it is stopped.
 */
export interface RunOptions {
  s3: S3Config
  /** A connection the caller keeps open (the library's connect()): the run uses it instead of opening one (src/storage/open.ts openStore). */
  lent?: S3Store
  /** Requests in flight (s3concurrent's thread_count): fixed, or with `adaptive` where the limit starts. */
  threadCount: number
  /**
   * The user fixed no thread count: the run measures and moves the limit from `threadCount` up
   * while the rate grows with it, and down when the server throttles (src/run/adaptive.ts).
   */
  adaptive?: boolean
  /** Retries per request after the first attempt. */
  maxRetry: number
  dryRun: boolean
  /** Called with one line per planned transfer in a dry run. */
  onPlan?: (line: string) => void
  /** Called with a line for the user that is not a result (e.g. "nothing under s3://…"); stderr in the CLI. */
  onNotice?: (line: string) => void
  /** Counters the caller may watch (progress); created when absent. */
  stats?: RunStats
  /** Run the jobs on BullMQ workers through this Redis instead of in this process. */
  redisUrl?: string
  /** Names the run in Redis (`s3c status`); a new one when absent. */
  runId?: string
  /** With redisUrl: return once all jobs are enqueued. */
  detach?: boolean
  /** Told the run id once the run is open (BullMQ runs), and whether it resumes an earlier try. */
  onRunId?: (runId: string, resumed: boolean) => void
  /** Aborting it (Ctrl-C) stops the run: nothing new starts, unfinished files are cleaned up. */
  signal?: AbortSignal
  /**
   * `s3c retry`: only these keys (the run's failed files, or failed archives of tar create);
   * everything else was counted in an earlier try and is neither sent nor counted again.
   */
  only?: string[]
  /** `s3c retry`: only the failed work again (`failed`, with `only`/a selection) or the whole command (`all`). */
  retrying?: 'failed' | 'all'
  /** Upload, download: read and write the sync state (default true; --no-state, S3C_NO_STATE=1: false). */
  state?: boolean
  /** Upload, download: keep sync states in S3 under this `s3://bucket/prefix/` (shared by every machine) instead of stateDir. */
  stateUrl?: string
  /** Upload, download: the local folder of sync states; default S3C_STATE_DIR, else the XDG state folder (src/state/local-storage.ts). */
  stateDir?: string
}

/** What shapes one verb's plan: where, which names, and the rules that decide each file. */
export interface PlanOptions {
  location: S3Location
  /** Files at or above this size move in parts. */
  multipartThreshold: number
  partSize: number
  force: boolean
  checksum: boolean
  include?: string[]
  exclude?: string[]
  /** cp/mv/sync: the source's own wildcard, matched against relative names (with include/exclude). */
  pattern?: string
  /** cp/mv --flatten: every file keeps only its base name. */
  flatten?: boolean
  /** cp -n / --if-size-differ / --if-source-newer: decided against the destination (instead of the size + time rule). */
  conditions?: CopyConditions
  /** mv: remove each source once its destination holds it. */
  removeSource?: boolean
  /** sync --size-only: a counterpart of the same size is unchanged. */
  sizeOnly?: boolean
}
