import {uploadFiles, uploadPart, completeUpload} from './upload.js'
import {downloadFiles, downloadRange, finishDownload} from './download.js'
import {completeCopy, copyObjects, copyPart} from './copy.js'
import {deleteObjects} from './delete.js'
import type {Handlers, JobHandler, JobKind} from './types.js'

export type {Handlers, JobContext, JobHandler} from './types.js'

/**
 * A handler whose module is imported for its first job. The tar handlers load node-tar and the
 * index code, which runs that copy, upload, download or delete never use: importing them at start
 * cost every command ~10 ms.
 */
function onFirstJob<K extends JobKind>(load: () => Promise<Handlers[K]>): Handlers[K] {
  let handler: Promise<Handlers[K]> | undefined
  const run: JobHandler<Parameters<Handlers[K]>[0]> = async (job, ctx, children) => (await (handler ??= load()) as JobHandler<typeof job>)(job, ctx, children)
  return run as Handlers[K]
}

/** The job handlers, by kind: the single code path for the work, whoever runs it. */
export const handlers: Handlers = {
  'upload-files': uploadFiles,
  'upload-part': uploadPart,
  'complete-upload': completeUpload,
  'download-files': downloadFiles,
  'download-range': downloadRange,
  'finish-download': finishDownload,
  'tar-part': onFirstJob(async () => (await import('./tar-part.js')).tarPart),
  'complete-tar': onFirstJob(async () => (await import('./tar-part.js')).completeTar),
  'extract-members': onFirstJob(async () => (await import('./extract.js')).extractMembers),
  'tar-copy': onFirstJob(async () => (await import('./tar-copy.js')).tarCopy),
  'tar-temp': onFirstJob(async () => (await import('./tar-copy.js')).tarTemp),
  'copy-members': onFirstJob(async () => (await import('./extract.js')).copyMembers),
  'copy-object': copyObjects,
  'copy-part': copyPart,
  'complete-copy': completeCopy,
  'delete-objects': deleteObjects,
}
