import {completeCopyKind, copyObjectKind, copyPartKind} from './copy.js'
import {deleteObjectsKind} from './delete.js'
import {downloadFilesKind, downloadRangeKind, finishDownloadKind} from './download.js'
import {copyMembersKind, extractMembersKind} from './members.js'
import {completeTarKind, tarCopyKind, tarPartKind, tarTempKind} from './tar.js'
import type {JobKindDefinition} from './kind.js'
import {completeUploadKind, uploadFilesKind, uploadPartKind} from './upload.js'

/* Every kind of job, from the modules that declare them (CONTRIBUTING.md, "Adding a job kind"): a new kind is one line here. */

const definitions = [
  uploadFilesKind, uploadPartKind, completeUploadKind,
  downloadFilesKind, downloadRangeKind, finishDownloadKind,
  tarPartKind, tarCopyKind, tarTempKind, completeTarKind,
  extractMembersKind, copyMembersKind,
  copyObjectKind, copyPartKind, completeCopyKind,
  deleteObjectsKind,
] as const

type DataOf<D> = D extends JobKindDefinition<infer J> ? J : never

/** Any job: the union of the job types of the kinds above. */
export type JobData = DataOf<typeof definitions[number]>

export const jobKinds: readonly JobKindDefinition<JobData>[] = definitions

const byKind = new Map<string, JobKindDefinition<JobData>>()
for (const d of jobKinds) {
  if (byKind.has(d.kind)) throw new Error(`job kind ${d.kind} is defined twice`)
  byKind.set(d.kind, d)
}

/** The definition of a kind, if this s3c has it (a job in Redis may come from another version). */
export function findKind(kind: string): JobKindDefinition<JobData> | undefined {
  return byKind.get(kind)
}

/** The definition of a job's kind. */
export function kindOf(job: {kind: string}): JobKindDefinition<JobData> {
  const definition = byKind.get(job.kind)
  if (!definition) throw new Error(`unknown job kind ${job.kind}`)
  return definition
}
