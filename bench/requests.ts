/**
 * The S3 operation of a request the counting proxy (test/harness/proxy.ts) recorded, from its
 * method, path and query alone (path-style addressing: /bucket/key). Shared by the benches that
 * count requests by kind.
 */
import type {RecordedRequest} from '../test/harness/proxy.js'

export const KINDS = ['ListObjectsV2', 'ListObjects', 'HeadObject', 'GetObject', 'PutObject', 'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy',
  'CompleteMultipartUpload', 'AbortMultipartUpload', 'DeleteObject', 'DeleteObjects', 'CopyObject', 'other'] as const
export type Kind = typeof KINDS[number]
export type Counts = Record<Kind, number>
export const zero = (): Counts => Object.fromEntries(KINDS.map(k => [k, 0])) as Counts

/** Bucket sub-resources that are not listings (GET /bucket?location and the like). */
const BUCKET_SUBRESOURCES = ['location', 'versioning', 'acl', 'policy', 'cors', 'lifecycle', 'tagging', 'uploads', 'versions', 'encryption', 'object-lock']

export function classify(r: RecordedRequest): Kind {
  const copy = r.copySource !== undefined
  const q = new URLSearchParams(r.query)
  const hasKey = r.path.replace(/^\/+/, '').includes('/') && !r.path.endsWith('/')
  switch (r.method) {
    case 'GET':
      if (q.has('list-type')) return 'ListObjectsV2'
      if (!hasKey) return BUCKET_SUBRESOURCES.some(k => q.has(k)) ? 'other' : 'ListObjects'
      return ![...q.keys()].some(k => k !== 'x-id') ? 'GetObject' : 'other'
    case 'HEAD': return hasKey ? 'HeadObject' : 'other'
    case 'PUT': return q.has('partNumber') ? (copy ? 'UploadPartCopy' : 'UploadPart') : hasKey ? (copy ? 'CopyObject' : 'PutObject') : 'other'
    case 'POST': return q.has('uploads') ? 'CreateMultipartUpload' : q.has('uploadId') ? 'CompleteMultipartUpload' : q.has('delete') ? 'DeleteObjects' : 'other'
    case 'DELETE': return q.has('uploadId') ? 'AbortMultipartUpload' : hasKey ? 'DeleteObject' : 'other'
    default: return 'other'
  }
}

/** Requests by kind. */
export function countByKind(requests: RecordedRequest[]): Counts {
  const counts = zero()
  for (const r of requests) counts[classify(r)]++
  return counts
}
