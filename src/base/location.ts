import {ExitCode, S3cError} from './errors.js'
import {excludesWholeFolder, hasWildcard, keyPattern, literalPrefix, type KeyPattern} from './wildcard.js'

/*
 * Locations: what a command-line argument, a stored command or a library call names. Every
 * `s3://` URL, local path and `-` is parsed here and nowhere else, so each verb, direction,
 * `run` line and library function reads an argument by the same rule:
 *   s3://b            the bucket (every object in it)
 *   s3://b/dir/       everything under the prefix (it ends with "/")
 *   s3://b/logs/*.gz  the keys the wildcard matches (base/wildcard.ts: * crosses "/"), listed
 *                     recursively from the folder before the first wildcard
 *   s3://b/key        that key, or the "folder" key/ when no such object exists
 *   dir, ./a/*.txt    a local path, or a wildcard matched against the names under its folder
 *   -                 standard input or output
 */

/** A bucket and a key prefix: where a run lists, and what names it in Redis. */
export interface S3Location {
  bucket: string
  /** Key prefix without leading slash; '' for the whole bucket. */
  prefix: string
}

/** What an s3:// URL names. */
export type S3UrlKind = 'bucket' | 'prefix' | 'wildcard' | 'key'

export interface S3Url {
  type: 's3'
  /** The argument as given. */
  url: string
  bucket: string
  /** The key, prefix or pattern as written ('' for the bucket). */
  key: string
  kind: S3UrlKind
  /** A wildcard's listing: where to list from and what to keep. */
  pattern?: KeyPattern
}

export interface LocalPath {
  type: 'local'
  path: string
  /** A quoted wildcard the shell left: the folder before it is walked, the names under it matched. */
  wildcard: boolean
}

export interface StdStream {
  type: 'stdio'
}

export type Location = S3Url | LocalPath | StdStream

/** What to use for `-` where a verb takes folders or prefixes (sync, upload, download, mv). */
export const STDIO_INSTEAD = 'for standard input or output use s3c cp - s3://BUCKET/KEY or s3c cp s3://BUCKET/KEY -'

function isS3Url(s: string): boolean {
  return /^s3:\/\//i.test(s)
}

/** Parses any argument that names where bytes are: an s3:// URL, `-`, or a local path. */
export function parseLocation(arg: string): Location {
  if (arg === '-') return {type: 'stdio'}
  if (isS3Url(arg)) return parseS3(arg)
  return {type: 'local', path: arg, wildcard: hasWildcard(arg)}
}

/** Parses an s3:// URL; anything else is refused in one line (`what`: the argument's role, for the message). */
export function parseS3(url: string, what = 'an S3 URL'): S3Url {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(url)
  if (!m || !m[1]) throw new S3cError(`"${url}" is not ${what}: write it as s3://bucket/prefix`, ExitCode.usage)
  const bucket = m[1]
  const raw = m[2]
  if (!raw) return {type: 's3', url, bucket, key: raw, kind: 'bucket'}
  if (hasWildcard(raw)) return {type: 's3', url, bucket, key: raw, kind: 'wildcard', pattern: keyPattern(raw)}
  // A backslash escapes only where a wildcard character could be meant (`what\?.txt` names the
  // key "what?.txt"); elsewhere it is part of the key (`a\b.txt`), as keys may hold any byte.
  const key = /[*?[]/.test(raw) ? literalPrefix(raw) : raw
  return {type: 's3', url, bucket, key, kind: key.endsWith('/') ? 'prefix' : 'key'}
}

/** Parses `s3://bucket/prefix` into the listing location (the key as written). */
export function parseS3Url(url: string): S3Location {
  const {bucket, key} = parseS3(url)
  return {bucket, prefix: key}
}

/**
 * A tree source's listing: where to list and, for a wildcard, the pattern its names (relative to
 * `base`) must match. S3: the prefix; local: the folder.
 */
export interface TreeRoot {
  /** S3: the key prefix listed (a wildcard's folder); local: the folder walked. */
  base: string
  /** The wildcard relative to `base`, matched against each name under it. */
  pattern?: string
}

/** Where a local path argument's files are found: the folder itself, or a wildcard's folder and pattern. */
export function localRoot(loc: LocalPath): TreeRoot {
  if (!loc.wildcard) return {base: loc.path}
  const literal = literalPrefix(loc.path)
  const slash = literal.lastIndexOf('/')
  return slash < 0 ? {base: '.', pattern: loc.path} : {base: literal.slice(0, slash + 1), pattern: loc.path.slice(slash + 1)}
}

/** Where an s3:// URL's objects are listed: the key as a prefix, or a wildcard's folder and pattern. */
export function s3Root(loc: S3Url): TreeRoot {
  if (!loc.pattern) return {base: loc.key}
  return {base: loc.pattern.relativeTo, pattern: loc.key.slice(loc.pattern.relativeTo.length)}
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

/**
 * The rule every verb that lists one tree and writes into another keeps: it never writes where
 * it reads. In one bucket, a destination folder inside the source's (or the source inside the
 * destination) would have the listing meet objects this run wrote: an mv into its own subfolder
 * moves them again or overwrites sources not read yet. Such a pair is refused before anything is
 * sent, unless an exclude pattern covers the destination folder whole (`--exclude 'archive/*'`),
 * which keeps the listing out of it. `src.base` and `dst.base` are the folders listed and
 * written ('' or ending with '/'); `src.listed`, the prefix the listing asks for (a wildcard's
 * text before its first wildcard: `logs/2024-*` reads only `logs/2024-…`). Local folders never
 * meet S3 keys: only S3 pairs can overlap.
 */
export function overlapError(verb: string, src: {bucket: string; base: string; listed?: string; url: string}, dst: {bucket: string; base: string; url: string},
  exclude?: string[]): S3cError | undefined {
  if (src.bucket !== dst.bucket) return undefined
  const listed = src.listed ?? src.base
  const dstInside = dst.base.startsWith(src.base) && (dst.base.startsWith(listed) || listed.startsWith(dst.base))
  if (dstInside && dst.base !== src.base && excludesWholeFolder(exclude)?.(dst.base.slice(src.base.length, -1))) return undefined
  if (!dstInside && !src.base.startsWith(dst.base)) return undefined
  const how = dst.base === src.base ? 'is the source itself' : dstInside ? `lies inside the source ${src.url}` : `holds the source ${src.url}`
  return new S3cError(`${verb}: the destination ${dst.url} ${how}: objects this run writes would be listed and read again; give folders apart` +
    (dstInside && dst.base !== src.base ? ` (or --exclude '${dst.base.slice(src.base.length)}*')` : ''), ExitCode.usage)
}
