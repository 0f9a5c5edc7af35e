/**
 * What every job kind shares: outcomes, results, the handler's context and signature, and the
 * shape of a kind's definition (JobKindDefinition). Kind modules (upload.ts, download.ts, …)
 * import this, never types.ts or registry.ts, so the registry can list them without a circle.
 */
import {describeError, FatalError} from '../base/errors.js'
import type {ObjectSettings, CompletedPart, S3Store} from '../base/storage.js'
import type {LocalStat} from '../state/state.js'
import type {PartMember} from '../tar/layout.js'

/** How to decide that a file with a same-size counterpart is unchanged. */
export type CompareMode = 'mtime' | 'checksum'

/** What every object a copy writes gets (cp's flags); without `replace` the source's metadata and content type are kept. */
export interface CopySettings extends ObjectSettings {
  replace?: boolean
}

export interface FileOutcome {
  key: string
  path: string
  bytes: number
  status: 'done' | 'skipped' | 'failed'
  error?: string
  /** Why a file was skipped ('unchanged' when absent): 'symlink', 'not a regular file', … */
  reason?: string
  /** What the sync state records of a file that is in sync after this job (docs/DESIGN-state.md); absent: nothing known. */
  state?: FileSyncInfo
}

/** The object's side as the request that wrote, read or checked it answered, and the local file after the job. */
export interface FileSyncInfo {
  etag?: string
  /** The object's `mtime` metadata as stored. */
  mtime?: string
  /** SHA-256 (hex) of the content, when computed or verified. */
  sha256?: string
  /** Download: `lstat` of the file once in place (upload: the planner has the walk's). */
  local?: LocalStat
}

export interface JobResult {
  files?: FileOutcome[]
  /** upload-part: what CompleteMultipartUpload needs. */
  part?: CompletedPart
  /** tar-copy, tar-temp: the parts they added. */
  parts?: CompletedPart[]
  /** download-range: the object's metadata headers, from the first range. */
  meta?: Record<string, string>
  /** tar-part: the members whose header starts in the part, and CRC-32s of the data pieces in it. */
  tar?: {members: PartMember[]; pieces: {ordinal: number; at: number; length: number; crc: number}[]; copied?: number[]}
}

/** What a parent job learns about its children. */
export interface ChildrenOutcome {
  results: JobResult[]
  /** One line per child that failed after its retries. */
  failures: string[]
}

/** What a handler may use. Handlers know nothing about who runs them. */
export interface JobContext {
  /** S3, with the run's retry policy (--max-retry) and its signal. */
  s3: S3Store
  signal?: AbortSignal
  /** Live byte progress. */
  onBytes(n: number): void
  /** Stop the whole run (set by the in-process runner). */
  abort?(reason: unknown): void
  /**
   * Runs one file of a batch job in one of the runner's request slots (a worker's
   * --concurrency, src/run/slots.ts); absent, the job's own slot covers its files. Batch
   * handlers go through eachFile, which calls it.
   */
  perFile?<T>(transfer: () => Promise<T>): Promise<T>
}

/** A batch job's files, each through ctx.perFile when the runner gives one, at once otherwise. */
export function eachFile<F, R>(files: F[], ctx: JobContext, one: (f: F) => Promise<R>): Promise<R[]> {
  const slot = ctx.perFile
  const run = slot ? (f: F) => slot(() => one(f)) : one
  return files.length === 1 ? run(files[0]).then(r => [r]) : Promise.all(files.map(run))
}

export type JobHandler<J> = (job: J, ctx: JobContext, children?: ChildrenOutcome) => Promise<JobResult>

/** A file a job is about, as its failure is reported. */
export interface JobFile {
  key: string
  path: string
  bytes: number
}

/**
 * Everything the runners need to know about a kind of job, declared beside its job type and
 * listed in registry.ts. The members are methods so that a kind's definition stands for
 * JobKindDefinition<JobData> in the registry: it is only ever handed jobs of its own kind.
 */
export interface JobKindDefinition<J extends {kind: string}> {
  readonly kind: J['kind']
  /** Runs the job; a handler whose module is costly to load is wrapped in onFirstJob. */
  handler(job: J, ctx: JobContext, children?: ChildrenOutcome): Promise<JobResult>
  /** The keys the job is about, hashed into its id (run/envelope.ts). Never change what a kind returns: runs in Redis keep their ids. */
  idKeys(job: J): string
  /** The files the job is about, reported failed when it fails as a whole; none for a child (its parent reports). */
  files?(job: J): JobFile[]
  /**
   * Every local path the job reads, writes or deletes (files, folders, temporary files, local
   * sources); [] for a kind that touches no local file. A worker refuses a job naming one outside
   * its --root folders (run/trust.ts): required, so a new kind cannot forget it.
   */
  localPaths(job: J): string[]
  /**
   * A part of one large file whose bytes pass through this machine (an upload part, a download
   * range): its bytes, held against the part budget while it runs (src/run/slots.ts, PartBudget).
   */
  partBytes?(job: J): number
  /** A flow's parent: it runs after its children and is told their outcome. */
  parent?: boolean
  /**
   * Small-file kinds (the job has `files` with sizes): jobs with the same batch key differ only
   * in their files, and the BullMQ runner sends consecutive ones as one job.
   */
  batchKey?(job: J): string
}

/**
 * What upload-files and download-files share: a bucket's small files, named by their keys, one
 * job's files being the same whichever way they go. Jobs of one run differ only in their files.
 */
export function smallFiles<J extends {kind: string; bucket: string; files: {key: string; path: string; size: number}[]}>(): Pick<JobKindDefinition<J>, 'idKeys' | 'files' | 'batchKey' | 'localPaths'> {
  return {
    idKeys: job => job.files.map(f => f.key).join('\n'),
    files: job => job.files.map(f => ({key: f.key, path: f.path, bytes: f.size})),
    localPaths: job => job.files.map(f => f.path),
    batchKey: job => job.bucket,
  }
}

/**
 * A handler whose module is imported for its first job. The tar handlers load node-tar and the
 * index code, which runs that copy, upload, download or delete never use: importing them at start
 * cost every command ~10 ms.
 */
export function onFirstJob<J>(load: () => Promise<JobHandler<J>>): JobHandler<J> {
  let handler: Promise<JobHandler<J>> | undefined
  return async (job, ctx, children) => (await (handler ??= load()))(job, ctx, children)
}

/** A file's failed outcome (a FatalError is thrown on: it stops the run, not one file). */
export function failed(ref: {key: string; path: string; size: number}, error: unknown): FileOutcome {
  if (error instanceof FatalError) throw error
  return {key: ref.key, path: ref.path, bytes: ref.size, status: 'failed', error: typeof error === 'string' ? error : describeError(error)}
}
