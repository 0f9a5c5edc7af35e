/**
 * Jobs are plain data: a kind plus paths, keys and sizes. They are the same whether the
 * in-process runner or a BullMQ worker runs them, so they must stay JSON-serialisable.
 */
import {describeError, FatalError} from '../base/errors.js'
import type {ObjectSettings, SourceRef} from '../base/storage.js'
import type {CompletedPart, CopySource, S3Storage} from '../s3/storage.js'
import type {LocalStat} from '../state/state.js'
import type {BuiltPart, PartMember} from '../tar/layout.js'
import type {CopiedPart, TempPart} from '../tar/plan.js'

export type {SourceRef, S3SourceRef, LocalSourceRef} from '../base/storage.js'
export type {CompletedPart, CopySource} from '../s3/storage.js'
export type {MemberSource, PartMember} from '../tar/layout.js'
export type {TempStep} from '../tar/plan.js'

/** How to decide that a file with a same-size counterpart is unchanged. */
export type CompareMode = 'mtime' | 'checksum'

export interface LocalFileRef {
  path: string
  key: string
  size: number
  /** Modification time in nanoseconds since the epoch, as a decimal string (jobs are JSON; see src/base/times.ts). */
  mtimeNs: string
  /** Set when the counterpart exists with the same size: check before transferring. */
  compare?: CompareMode
  /** The object's content is known to have this SHA-256 (sync state): a file that hashes to it is skipped without a request. */
  expectSha256?: string
}

export interface RemoteFileRef {
  key: string
  path: string
  size: number
  lastModifiedMs: number
  etag?: string
  compare?: CompareMode
  /** The object's content is known to have this SHA-256 (sync state): a local file that hashes to it is kept, no request. */
  expectSha256?: string
}

export interface UploadFilesJob {
  kind: 'upload-files'
  bucket: string
  files: LocalFileRef[]
  storageClass?: string
  /** mv: delete each local file once its object is stored. */
  removeSource?: boolean
  /** cp: the content type, metadata, encryption and ACL the objects get (storage class above). */
  settings?: CopySettings
}

export interface UploadPartJob {
  kind: 'upload-part'
  bucket: string
  key: string
  uploadId: string
  path: string
  partNumber: number
  offset: number
  length: number
}

/** Parent of the upload-part jobs of one file: completes (or aborts) the multipart upload. */
export interface CompleteUploadJob {
  kind: 'complete-upload'
  bucket: string
  key: string
  uploadId: string
  path: string
  size: number
  /** The file's mtime (ns, decimal) as the walk saw it: a file changed while its parts were read fails. */
  mtimeNs?: string
  /** mv: delete the local file once the upload is complete. */
  removeSource?: boolean
}

export interface DownloadFilesJob {
  kind: 'download-files'
  bucket: string
  /** The download folder: the handler writes nothing outside it, and nothing through a symlink below it. */
  root: string
  /** Small objects are always verified against their stored checksum when there is one. */
  files: RemoteFileRef[]
  /** mv: delete the objects once their files are written (one DeleteObjects per job). */
  removeSource?: boolean
}

export interface DownloadRangeJob {
  kind: 'download-range'
  source: SourceRef
  /** The destination folder the temporary file lies under. */
  root: string
  tmpPath: string
  offset: number
  length: number
  /** Offset in the object of the file's first byte (a tar member); 0 when the object is the file. */
  base?: number
  /**
   * A sparse tar member: where the bytes of this range go, as [offset in the range, length,
   * offset in the file] (base is then unused); the file's holes get nothing.
   */
  scatter?: [number, number, number][]
}

/** Parent of the download-range jobs of one file: verifies, sets mtime, renames into place. */
export interface FinishDownloadJob {
  kind: 'finish-download'
  bucket: string
  key: string
  /** The destination folder (see DownloadFilesJob.root). */
  root: string
  tmpPath: string
  path: string
  size: number
  lastModifiedMs: number
  /** The object's ETag, which the ranged GETs were pinned to (If-Match): recorded in the sync state. */
  etag?: string
  /** A tar member: its time (ns, decimal) from the archive; an object's time comes from its headers (src/base/times.ts). */
  mtimeNs?: string
  /** Hash the finished file and compare it with the stored checksum (--checksum). */
  verify: boolean
  /** A tar member: its CRC-32 from the index, and its mode. */
  crc?: number
  mode?: number
  /** A sparse member: its data runs ([offset, length]); the CRC-32 covers them in order. */
  sparse?: [number, number][]
  /** mv: delete the object once the file is in place. */
  removeSource?: boolean
}

/** tar create's parts are planned in src/tar (layout.ts, plan.ts): a part as planned is its job. */
export type TarPartJob = BuiltPart
export type TarCopyJob = CopiedPart
export type TarTempJob = TempPart

/** Parent of a tar's part jobs: completes the upload and writes the index (or aborts). */
export interface CompleteTarJob {
  kind: 'complete-tar'
  bucket: string
  key: string
  uploadId: string
  /** The archive's size, and how many members it has (to check every part reported). */
  size: number
  memberCount: number
  /** What the summary names on failure (the local folder or the source). */
  source: string
  /** Objects to delete once the archive is complete or has failed (the TOC's staging copy). */
  tempKeys?: string[]
}

/**
 * A run of adjacent tar members fetched with one ranged GET and written to their files.
 * `size` is what the tar stores; a sparse member also has its real size and data runs.
 */
export interface ExtractMembersJob {
  kind: 'extract-members'
  /** The tar, pinned to the version its index describes. */
  source: SourceRef
  /** The destination folder (see DownloadFilesJob.root). */
  root: string
  start: number
  end: number
  /**
   * The members' mode and mtime are not known (the list came from an s3tar TOC): the range
   * starts one block early and each member's header block, right before its data, gives them.
   */
  headers?: boolean
  members: {name: string; path: string; dataOffset: number; size: number; mode: number; mtime: number; crc?: number; realSize?: number; sparse?: [number, number][]}[]
}

export type JobData = UploadFilesJob | UploadPartJob | CompleteUploadJob | DownloadFilesJob | DownloadRangeJob | FinishDownloadJob |
  TarPartJob | CompleteTarJob | ExtractMembersJob | TarCopyJob | TarTempJob | CopyMembersJob | CopyObjectJob | CopyPartJob | CompleteCopyJob |
  DeleteObjectsJob

/** What every object a copy writes gets (cp's flags); without `replace` the source's metadata and content type are kept. */
export interface CopySettings extends ObjectSettings {
  replace?: boolean
}

/** cp's conditions, checked against the destination object (a HEAD) before copying. */
export interface CopyConditions {
  /** -n: never overwrite. */
  noClobber?: boolean
  /** Copy only when the sizes differ. */
  ifSizeDiffer?: boolean
  /** Copy only when the source is newer than the destination (Last-Modified). */
  ifSourceNewer?: boolean
}

/** One object copied server-side. */
export interface CopyFileRef {
  srcKey: string
  /** The destination key. */
  key: string
  size: number
  /** The listed ETag of the source: the copy is If-Match it, so a source replaced meanwhile fails instead of mixing. */
  etag?: string
  /**
   * sync: the destination holds an object of the same size and another ETag; HEAD both and skip
   * it when its time is the source's (the time rule, src/base/times.ts).
   */
  compare?: boolean
}

/** Objects copied server-side by CopyObject (S3→S3 cp, mv, sync), up to the copy threshold each. */
export interface CopyObjectJob {
  kind: 'copy-object'
  /** The destination bucket (the runner batches jobs by it). */
  bucket: string
  srcBucket: string
  files: CopyFileRef[]
  settings: CopySettings
  conditions?: CopyConditions
  /** sync --exact-timestamps: a same-size object is unchanged only when its time is the source's. */
  exactTimestamps?: boolean
  /** mv: delete the sources that were copied (one DeleteObjects per job). */
  removeSource?: boolean
}

/** One part of a large object copied server-side (UploadPartCopy of a range of the source). */
export interface CopyPartJob {
  kind: 'copy-part'
  bucket: string
  key: string
  uploadId: string
  partNumber: number
  source: CopySource & {start: number; end: number}
}

/** Parent of the copy-part jobs of one object: completes (or aborts) the multipart upload. */
export interface CompleteCopyJob {
  kind: 'complete-copy'
  bucket: string
  key: string
  uploadId: string
  size: number
  srcBucket: string
  srcKey: string
  /** mv: delete the source once the copy is complete. */
  removeSource?: boolean
}

/** Members of a tar copied out to S3 objects: server-side ranged copies, or GET+PUT for small ones. */
export interface CopyMembersJob {
  kind: 'copy-members'
  bucket: string
  key: string
  etag: string
  /** Copy server-side (the archive allows ranged copies) or fetch and put. */
  serverSide: boolean
  maxRange: number
  destBucket: string
  /** `size` is what the tar stores; a sparse member (fetched, never copied) also has its real size and data runs. */
  members: {name: string; destKey: string; dataOffset: number; size: number; crc?: number; realSize?: number; sparse?: [number, number][]}[]
}

/**
 * Keys of one bucket removed by one DeleteObjects request (rm, rb --force, sync --delete): at
 * most 1,000, S3's limit. Deleting is idempotent, so a job run twice (its worker died) is harmless.
 */
export interface DeleteObjectsJob {
  kind: 'delete-objects'
  bucket: string
  keys: string[]
}
export type JobKind = JobData['kind']

/** A parent job that runs once all its children have run (BullMQ calls this a flow). */
export interface Flow {
  parent: JobData
  children: JobData[]
}

export type Work = JobData | Flow

export function isFlow(work: Work): work is Flow {
  return (work as Flow).parent !== undefined
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
  s3: S3Storage
  signal?: AbortSignal
  /** Live byte progress. */
  onBytes(n: number): void
  /** Stop the whole run (set by the in-process runner). */
  abort?(reason: unknown): void
}

export type JobHandler<J extends JobData> = (job: J, ctx: JobContext, children?: ChildrenOutcome) => Promise<JobResult>
export type Handlers = {[K in JobKind]: JobHandler<Extract<JobData, {kind: K}>>}

/** A file's failed outcome (a FatalError is thrown on: it stops the run, not one file). */
export function failed(ref: {key: string; path: string; size: number}, error: unknown): FileOutcome {
  if (error instanceof FatalError) throw error
  return {key: ref.key, path: ref.path, bytes: ref.size, status: 'failed', error: typeof error === 'string' ? error : describeError(error)}
}
