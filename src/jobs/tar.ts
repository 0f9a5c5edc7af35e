import type {BuiltPart} from '../tar/layout.js'
import type {CopiedPart, TempPart} from '../tar/plan.js'
import {onFirstJob, type JobKindDefinition} from './types.js'

/*
 * The kinds that write a tar (bundle, tar create): tar-part, tar-copy and tar-temp are its parts
 * as src/tar planned them, complete-tar their parent. Their handlers (tar-part.ts, tar-copy.ts)
 * load node-tar and the index code: imported for the first such job, never at start.
 */

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

export const tarPartKind: JobKindDefinition<TarPartJob> = {
  kind: 'tar-part',
  handler: onFirstJob(async () => (await import('./tar-part.js')).tarPart),
  idKeys: job => `${job.key}\n${job.offset}`,
}

export const tarCopyKind: JobKindDefinition<TarCopyJob> = {
  kind: 'tar-copy',
  handler: onFirstJob(async () => (await import('./tar-copy.js')).tarCopy),
  idKeys: job => `${job.key}\n${job.uploadId}\n${job.firstPart}`,
}

export const tarTempKind: JobKindDefinition<TarTempJob> = {
  kind: 'tar-temp',
  handler: onFirstJob(async () => (await import('./tar-copy.js')).tarTemp),
  idKeys: job => `${job.key}\n${job.uploadId}\n${job.firstPart}`,
}

export const completeTarKind: JobKindDefinition<CompleteTarJob> = {
  kind: 'complete-tar',
  handler: onFirstJob(async () => (await import('./tar-part.js')).completeTar),
  parent: true,
  idKeys: job => job.key,
  files: job => [{key: job.key, path: job.source, bytes: job.size}],
}
