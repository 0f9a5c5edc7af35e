import {lastModifiedTime, parseMtime, type FileTime} from '../base/times.js'
import type {Headers} from '../base/storage.js'
import {etagDigest, META_SHA256} from '../s3/verify.js'

/**
 * What s3c stores in object metadata. `mtime` uses rclone's format (src/base/times.ts) so rclone
 * and s3c agree on modification times; `md5chksum` is rclone's base64 MD5 of a multipart
 * object's content (whose ETag is no MD5), written with --checksum so rclone can check it too.
 */
export const META_MTIME = 'mtime'
export {META_SHA256}
export const META_MD5 = 'md5chksum'

export {formatMtime, parseMtime} from '../base/times.js'

/** The object's `mtime` metadata as a time, or undefined when it has none (or none that parses). */
export function storedMtime(headers: Headers): FileTime | undefined {
  return parseMtime(headers[`x-amz-meta-${META_MTIME}`])
}

/**
 * The modification time of an object, by the one rule for every command: its `mtime` metadata,
 * else Last-Modified truncated to whole seconds (from the response, else from the listing).
 */
export function objectTime(headers: Headers, listedLastModifiedMs?: number): FileTime {
  return storedMtime(headers) ??
    lastModifiedTime(headers['last-modified'] ? headers['last-modified'] : listedLastModifiedMs ?? Date.now())
}

/** What an object's headers say about its bytes, strongest first. */
export interface ObjectDigests {
  /** s3c's SHA-256 (hex). */
  sha256?: string
  /** MD5 (hex) of the whole content: rclone's md5chksum, or a single-part ETag. */
  md5?: string
  /** A multipart ETag: MD5 of the parts' binary MD5s (hex), and the part count. */
  multipart?: {md5: string; parts: number}
}

/**
 * The digests an object's headers carry. A single-part ETag is the MD5 of the content, except
 * under SSE-KMS and SSE-C, where it is not (then it is not used).
 */
export function objectDigests(headers: Headers): ObjectDigests {
  const out: ObjectDigests = {}
  const sha256 = headers[`x-amz-meta-${META_SHA256}`]
  if (sha256 && /^[0-9a-f]{64}$/.test(sha256)) out.sha256 = sha256
  const md5b64 = headers[`x-amz-meta-${META_MD5}`]
  if (md5b64) {
    const hex = Buffer.from(md5b64, 'base64').toString('hex')
    if (hex.length === 32) out.md5 = hex
  }
  // The ETag's rule (an MD5 only for a single-part object, never under SSE-KMS or SSE-C) is src/s3/verify.ts's.
  const etag = etagDigest(headers)
  if (etag.md5) out.md5 ??= etag.md5
  if (etag.multipart) out.multipart = etag.multipart
  return out
}

/** The object carries something its content can be checked against. */
export function hasDigest(d: ObjectDigests): boolean {
  return d.sha256 !== undefined || d.md5 !== undefined || d.multipart !== undefined
}
