import {sourceName, type SourceRef} from '../base/storage.js'
import {onFirstJob, type JobKindDefinition} from './types.js'

/*
 * The kinds that read members out of a tar: extract-members (to local files: tar extract,
 * download-all), copy-members (to objects). Their handlers (extract.ts) load node-tar: imported
 * for the first such job, never at start.
 */

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

export const extractMembersKind: JobKindDefinition<ExtractMembersJob> = {
  kind: 'extract-members',
  handler: onFirstJob(async () => (await import('./extract.js')).extractMembers),
  idKeys: job => `${sourceName(job.source)}\n${job.start}`,
  files: job => job.members.map(m => ({key: m.name, path: m.path, bytes: m.size})),
}

export const copyMembersKind: JobKindDefinition<CopyMembersJob> = {
  kind: 'copy-members',
  handler: onFirstJob(async () => (await import('./extract.js')).copyMembers),
  idKeys: job => job.members.map(m => m.destKey).join('\n'),
  files: job => job.members.map(m => ({key: m.destKey, path: m.name, bytes: m.size})),
}
