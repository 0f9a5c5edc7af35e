import {isLocalSource, sourceName, type SourceRef} from '../base/storage.js'
import {onFirstJob, type JobKindDefinition} from './kind.js'
import type {CopyMembersJob, ExtractMembersJob} from './extract.js'

/*
 * The kinds that read members out of a tar: extract-members (to local files: tar extract,
 * download-all), copy-members (to objects). Their handlers (extract.ts) load node-tar: imported
 * for the first such job, never at start.
 */

const localSource = (ref: SourceRef) => (isLocalSource(ref) ? [ref.path] : [])

// The job types live with their handlers (extract.ts), imported only when a job comes.
export type {CopyMembersJob, ExtractMembersJob} from './extract.js'

export const extractMembersKind: JobKindDefinition<ExtractMembersJob> = {
  kind: 'extract-members',
  handler: onFirstJob(async () => (await import('./extract.js')).extractMembers),
  idKeys: job => `${sourceName(job.source)}\n${job.start}`,
  files: job => job.members.map(m => ({key: m.name, path: m.path, bytes: m.size})),
  localPaths: job => [job.root, ...job.members.map(m => m.path), ...localSource(job.source)],
}

export const copyMembersKind: JobKindDefinition<CopyMembersJob> = {
  kind: 'copy-members',
  handler: onFirstJob(async () => (await import('./extract.js')).copyMembers),
  idKeys: job => job.members.map(m => m.destKey).join('\n'),
  files: job => job.members.map(m => ({key: m.destKey, path: m.name, bytes: m.size})),
  localPaths: () => [],
}
