import type {CompleteTarJob, TarPartJob} from './tar-part.js'
import type {TarCopyJob, TarTempJob} from './tar-copy.js'
import {onFirstJob, type JobKindDefinition} from './kind.js'
import type {PartMember} from '../tar/layout.js'

/** The local files a part's members are read from. */
const memberPaths = (members: PartMember[]) => members.flatMap(m => (m.source && 'path' in m.source ? [m.source.path] : []))

/*
 * The kinds that write a tar (bundle, tar create): tar-part, tar-copy and tar-temp are its parts
 * as src/tar planned them, complete-tar their parent. Their handlers (tar-part.ts, tar-copy.ts)
 * load node-tar and the index code: imported for the first such job, never at start.
 */

// The job types live with their handlers, which this module imports only when a job comes.
export type {CompleteTarJob, TarPartJob} from './tar-part.js'
export type {TarCopyJob, TarTempJob} from './tar-copy.js'

export const tarPartKind: JobKindDefinition<TarPartJob> = {
  kind: 'tar-part',
  handler: onFirstJob(async () => (await import('./tar-part.js')).tarPart),
  idKeys: job => `${job.key}\n${job.offset}`,
  localPaths: job => memberPaths(job.members),
}

export const tarCopyKind: JobKindDefinition<TarCopyJob> = {
  kind: 'tar-copy',
  handler: onFirstJob(async () => (await import('./tar-copy.js')).tarCopy),
  idKeys: job => `${job.key}\n${job.uploadId}\n${job.firstPart}`,
  localPaths: () => [],
}

export const tarTempKind: JobKindDefinition<TarTempJob> = {
  kind: 'tar-temp',
  handler: onFirstJob(async () => (await import('./tar-copy.js')).tarTemp),
  idKeys: job => `${job.key}\n${job.uploadId}\n${job.firstPart}`,
  localPaths: job => memberPaths(job.members),
}

export const completeTarKind: JobKindDefinition<CompleteTarJob> = {
  kind: 'complete-tar',
  handler: onFirstJob(async () => (await import('./tar-part.js')).completeTar),
  parent: true,
  idKeys: job => job.key,
  files: job => [{key: job.key, path: job.source, bytes: job.size}],
  // source only names the archive's input in messages: nothing local is read.
  localPaths: () => [],
}
