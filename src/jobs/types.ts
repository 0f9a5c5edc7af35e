/**
 * Jobs are plain data: a kind plus paths, keys and sizes. They are the same whether the
 * in-process runner or a BullMQ worker runs them, so they must stay JSON-serialisable.
 * Each kind is declared by one module (upload.ts, download.ts, copy.ts, delete.ts, tar.ts,
 * members.ts): its job type and its JobKindDefinition; registry.ts lists them (CONTRIBUTING.md, "Adding a job kind").
 * kind.ts holds what every kind shares; this file is what the rest of s3c imports.
 */
import type {JobData} from './registry.js'
import type {JobHandler} from './kind.js'

export * from './kind.js'
export type {JobData} from './registry.js'
export type {SourceRef, S3SourceRef, LocalSourceRef} from '../base/storage.js'
export type {CompletedPart, CopySource} from '../s3/storage.js'
export type {MemberSource, PartMember} from '../tar/layout.js'
export type {TempStep} from '../tar/plan.js'
export type {CompleteUploadJob, LocalFileRef, UploadFilesJob, UploadPartJob} from './upload.js'
export type {DownloadFilesJob, DownloadRangeJob, FinishDownloadJob, RemoteFileRef} from './download.js'
export type {CompleteCopyJob, CopyConditions, CopyFileRef, CopyObjectJob, CopyPartJob} from './copy.js'
export type {DeleteObjectsJob} from './delete.js'
export type {CompleteTarJob, TarCopyJob, TarPartJob, TarTempJob} from './tar.js'
export type {CopyMembersJob, ExtractMembersJob} from './members.js'

/** A job's kind: the name that picks its definition (registry.ts). */
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

export type Handlers = {[K in JobKind]: JobHandler<Extract<JobData, {kind: K}>>}
