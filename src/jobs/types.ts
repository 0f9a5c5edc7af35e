/**
 * Jobs are plain data: a kind plus paths, keys and sizes. They are the same whether the
 * in-process runner or a BullMQ worker runs them, so they must stay JSON-serialisable.
 */

/** How to decide that a file with a same-size counterpart is unchanged. */
export type CompareMode = 'mtime' | 'checksum'

export interface LocalFileRef {
  path: string
  key: string
  size: number
  mtimeMs: number
  /** Set when the counterpart exists with the same size: check before transferring. */
  compare?: CompareMode
}

export interface RemoteFileRef {
  key: string
  path: string
  size: number
  lastModifiedMs: number
  etag?: string
  compare?: CompareMode
}

export interface UploadFilesJob {
  kind: 'upload-files'
  bucket: string
  files: LocalFileRef[]
  storageClass?: string
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
}

export interface DownloadFilesJob {
  kind: 'download-files'
  bucket: string
  /** Small objects are always verified against their stored checksum when there is one. */
  files: RemoteFileRef[]
}

export interface DownloadRangeJob {
  kind: 'download-range'
  bucket: string
  key: string
  etag?: string
  tmpPath: string
  offset: number
  length: number
}

/** Parent of the download-range jobs of one file: verifies, sets mtime, renames into place. */
export interface FinishDownloadJob {
  kind: 'finish-download'
  bucket: string
  key: string
  tmpPath: string
  path: string
  size: number
  lastModifiedMs: number
  /** Hash the finished file and compare it with the stored checksum (--checksum). */
  verify: boolean
}

export type JobData = UploadFilesJob | UploadPartJob | CompleteUploadJob | DownloadFilesJob | DownloadRangeJob | FinishDownloadJob
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
}

export interface JobResult {
  files?: FileOutcome[]
  /** upload-part: what CompleteMultipartUpload needs. */
  part?: {PartNumber: number; ETag: string}
  /** download-range: the object's metadata headers, from the first range. */
  meta?: Record<string, string>
}

/** What a parent job learns about its children. */
export interface ChildrenOutcome {
  results: JobResult[]
  /** One line per child that failed after its retries. */
  failures: string[]
}
