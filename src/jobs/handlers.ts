import {uploadFiles, uploadPart, completeUpload} from './upload.js'
import {downloadFiles, downloadRange, finishDownload} from './download.js'
import {completeTar, tarPart} from './tar-part.js'
import {tarCopy, tarTemp} from './tar-copy.js'
import {copyMembers, extractMembers} from './extract.js'
import {completeCopy, copyObjects, copyPart} from './copy.js'
import {deleteObjects} from './delete.js'
import type {Handlers} from './types.js'

export type {Handlers, JobContext, JobHandler} from './types.js'

/** The job handlers, by kind: the single code path for the work, whoever runs it. */
export const handlers: Handlers = {
  'upload-files': uploadFiles,
  'upload-part': uploadPart,
  'complete-upload': completeUpload,
  'download-files': downloadFiles,
  'download-range': downloadRange,
  'finish-download': finishDownload,
  'tar-part': tarPart,
  'complete-tar': completeTar,
  'extract-members': extractMembers,
  'tar-copy': tarCopy,
  'tar-temp': tarTemp,
  'copy-members': copyMembers,
  'copy-object': copyObjects,
  'copy-part': copyPart,
  'complete-copy': completeCopy,
  'delete-objects': deleteObjects,
}
