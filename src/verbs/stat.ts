import {formatSeconds, lastModifiedTime, parseMtime} from '../base/times.js'
import type {S3Store} from '../base/storage.js'
import {missingObjectError, userError} from './expand.js'

/** What `s3c head` / `stat` tell of an object (and the library's stat of an s3:// URL). */
export interface ObjectInfo {
  url: string
  bucket: string
  key: string
  size: number
  etag: string
  /** The server's Last-Modified (ISO 8601). */
  lastModified: string
  /**
   * The object's modification time by s3c's time rule (src/base/times.ts): its `mtime` metadata
   * (s3c's and rclone's), else Last-Modified in whole seconds; decimal seconds since the epoch.
   */
  mtime: string
  /** Where `mtime` came from. */
  mtimeFrom: 'metadata' | 'last-modified'
  contentType?: string
  storageClass: string
  /** x-amz-meta-* headers, without the prefix. */
  metadata: Record<string, string>
}

/** One HEAD; a missing key or bucket is one line, exit 2. */
export async function statObject(s3: S3Store, bucket: string, key: string): Promise<ObjectInfo> {
  let h
  try {
    h = await s3.head(bucket, key)
  } catch (error) {
    throw userError(error, bucket, s3)
  }
  if (!h) throw await missingObjectError(s3, bucket, key)
  const metadata: Record<string, string> = {}
  for (const [name, value] of Object.entries(h)) if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = value
  const stored = parseMtime(metadata.mtime)
  const lastModified = h['last-modified'] ?? ''
  const time = stored ?? lastModifiedTime(lastModified)
  return {
    url: `s3://${bucket}/${key}`, bucket, key, size: Number(h['content-length'] ?? 0), etag: h.etag ?? '',
    lastModified: lastModified ? new Date(lastModified).toISOString() : '', mtime: formatSeconds(time.ns), mtimeFrom: stored ? 'metadata' : 'last-modified',
    contentType: h['content-type'], storageClass: h['x-amz-storage-class'] ?? 'STANDARD', metadata,
  }
}
