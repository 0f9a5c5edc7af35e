import type {JobData, UploadFilesJob} from '../../src/jobs/types.js'

// Jobs as a planner makes them, of files that are never read: for tests of the runners alone.
const file = (key: string, size = 10) => ({key, path: `/nowhere/${key}`, size, mtimeNs: '0'})
export const uploadFiles = (key: string, size = 10, bucket = 'b'): UploadFilesJob => ({kind: 'upload-files', bucket, files: [file(key, size)]})
export const part = (key: string, n: number): JobData => ({kind: 'upload-part', bucket: 'b', key, uploadId: 'u', path: `/nowhere/${key}`, partNumber: n, offset: (n - 1) * 8, length: 8})
export const complete = (key: string): JobData => ({kind: 'complete-upload', bucket: 'b', key, uploadId: 'u', path: `/nowhere/${key}`, size: 1, mtimeNs: '0'} as JobData)
/** A job's first key (a part: key#n), to tell jobs apart in the order they ran or were queued. */
export const keyOf = (job: JobData) => ('key' in job ? job.key : 'files' in job ? job.files[0].key : job.kind) + (job.kind === 'upload-part' ? `#${job.partNumber}` : '')
