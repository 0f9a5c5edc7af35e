import type {S3Location} from '../base/location.js'
import type {TarFormat} from '../tar/header.js'
import type {TarRef} from '../s3ci/ref.js'
import type {CopyConditions, CopySettings} from '../jobs/types.js'

/** The options every verb keeps for a retry: those that shape the plan (never credentials or endpoints). */
export interface CommonStoredOptions {
  location: S3Location
  /** Requests in flight (s3concurrent's thread_count). */
  threadCount: number
  /** Retries per request after the first attempt. */
  maxRetry: number
  /** Files at or above this size move in parts. */
  multipartThreshold: number
  partSize: number
  force: boolean
  checksum: boolean
  include?: string[]
  exclude?: string[]
  /** Upload, download: read and write the sync state (default true). */
  state?: boolean
  /** Upload, download: where sync states live. */
  stateUrl?: string
}

/**
 * What `s3c retry` needs to run a command again: its verb and its own plan-shaping options, as
 * JSON in the run's hash. Paths are absolute, so a retry from another folder does the same.
 */
export type StoredCommand =
  | {verb: 'upload'; options: CommonStoredOptions & {localFolder: string; storageClass?: string; followSymlinks?: boolean}}
  | {verb: 'download'; options: CommonStoredOptions & {localFolder: string}}
  | {verb: 'bundle'; options: CommonStoredOptions & {localFolder: string; bundleId: string; format: TarFormat; storageClass?: string; followSymlinks?: boolean}}
  | {verb: 'download-all' | 'tar-extract'; options: CommonStoredOptions & {ref: TarRef; dest: string; select?: string[]}}
  | {verb: 'copy'; options: CommonStoredOptions & {source: string; destination: string; settings: CopySettings; conditions?: CopyConditions; flatten: boolean;
      removeSource?: boolean; copyThreshold: number; copyPartSize: number; label: string}}
  | {verb: 'tar-create'; options: CommonStoredOptions & {archive: string; source?: string; manifest?: string; mode: 'auto' | 'copy' | 'memory'; format: TarFormat;
      toc: boolean; sizeLimit?: number; storageClass?: string; mtimeMetadata?: boolean}}
  /** rm, rb --force: the URLs as given; a retry deletes only the keys that failed (their s3:// URLs, `only`). */
  | {verb: 'rm'; options: CommonStoredOptions & {urls: string[]}}
  /** sync --delete's pass (its own run, after the copies): the comparison again, limited to the keys that failed. */
  | {verb: 'sync-delete'; options: CommonStoredOptions & {source: string; destination: string; followSymlinks?: boolean}}

export function commonStoredOptions(o: CommonStoredOptions): CommonStoredOptions {
  return {location: o.location, multipartThreshold: o.multipartThreshold, partSize: o.partSize, checksum: o.checksum,
    include: o.include, exclude: o.exclude, maxRetry: o.maxRetry, threadCount: o.threadCount, force: o.force, state: o.state, stateUrl: o.stateUrl}
}
