import {S3cError} from '../base/errors.js'

export interface S3Location {
  bucket: string
  /** Key prefix without leading slash; '' for the whole bucket. */
  prefix: string
}

export function isS3Url(s: string): boolean {
  return /^s3:\/\//i.test(s)
}

/** Parses `s3://bucket/prefix`. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(url)
  if (!m || !m[1]) throw new S3cError(`"${url}" is not an S3 URL: write it as s3://bucket/prefix`)
  return {bucket: m[1], prefix: m[2]}
}

/** Joins a prefix and a relative path into a key: `mirror/pypi` + `a/b.txt` → `mirror/pypi/a/b.txt`. */
export function joinKey(prefix: string, rel: string): string {
  const p = prefix.replace(/^\/+/, '')
  if (!p) return rel
  return p.endsWith('/') ? p + rel : `${p}/${rel}`
}

/** The listing prefix for a "folder" prefix: `a/b` → `a/b/`, '' stays ''. */
export function folderPrefix(prefix: string): string {
  const p = prefix.replace(/^\/+/, '')
  return p && !p.endsWith('/') ? `${p}/` : p
}

/**
 * Resolves bucket and prefix from flags and an optional s3:// argument.
 * The URL wins; then --bucket / S3C_BUCKET with --prefix.
 */
export function resolveLocation(opts: {url?: string; bucket?: string; prefix?: string}): S3Location {
  if (opts.url) {
    const loc = parseS3Url(opts.url)
    if (opts.bucket && opts.bucket !== loc.bucket)
      throw new S3cError(`--bucket ${opts.bucket} contradicts ${opts.url}: give the bucket once`)
    return opts.prefix ? {bucket: loc.bucket, prefix: joinKey(loc.prefix, opts.prefix)} : loc
  }
  const bucket = opts.bucket || process.env.S3C_BUCKET
  if (!bucket) throw new S3cError('no bucket given: pass s3://bucket/prefix, --bucket NAME, or set S3C_BUCKET')
  return {bucket, prefix: opts.prefix ?? ''}
}
