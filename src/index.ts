/**
 * s3c as a library: what README's "Library" section documents, and the types of its options and
 * results. Runners, handlers, jobs and S3Storage are the CLI's internals: not exported.
 */
export {upload, type UploadOptions} from './verbs/upload.js'
export {download, type DownloadOptions} from './verbs/download.js'
export {transferDefaults, type TransferOptions} from './run/session.js'
export type {RunSummary} from './run/stats.js'
export {S3cError, ExitCode, type ErrorCode} from './base/errors.js'
export {resolveS3Config, type S3Config} from './s3/config.js'
export {parseS3Url, type S3Location} from './base/location.js'
export type {ConnectOptions} from './api/connect.js'
export {connect, type S3cConnection, type CallOptions} from './api/session.js'
export {stat, exists, isDir, list, glob, readFile, createReadStream, remove, type FileEntry, type StatResult, type ListOptions, type ReadStreamOptions,
  type RemoveOptions} from './api/files.js'
export {listMembers, openMember, type ArchiveOptions, type IndexedMember} from './api/archives.js'
export type {RemoveSummary} from './verbs/rm.js'
export {writeFile, createWriteStream, copy, move, sync, type WriteOptions, type CopyApiOptions, type SyncApiOptions} from './api/write.js'
export type {SyncSummary} from './verbs/sync.js'
