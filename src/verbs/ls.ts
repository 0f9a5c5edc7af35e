import {parseS3} from '../base/location.js'
import {ExitCode, S3cError} from '../base/errors.js'
import type {BucketInfo, S3Store} from '../base/storage.js'
import {noMatchError, userError} from './expand.js'

/** One line of `s3c ls`: a folder (common prefix) or an object (one version of it with --all-versions). */
export type LsEntry = LsFolder | LsObject

export interface LsFolder {
  type: 'dir'
  /** The whole prefix, ending with '/'. */
  key: string
  /** What ls prints: the prefix relative to the listed folder. */
  name: string
}

export interface LsObject {
  type: 'object'
  key: string
  name: string
  size: number
  lastModifiedMs: number
  etag?: string
  storageClass: string
  versionId?: string
  isLatest?: boolean
  deleteMarker?: boolean
}

export interface LsOptions {
  /** Every version and delete marker (ListObjectVersions), under the prefix at every depth. */
  allVersions?: boolean
}

/** The buckets (ls without an argument). */
export async function listBuckets(s3: S3Store): Promise<BucketInfo[]> {
  try {
    return await s3.listBuckets()
  } catch (error) {
    throw userError(error, '', s3)
  }
}

/**
 * `s3c ls URL`, one page at a time. s3://b and s3://b/prefix list one level (folders first as
 * S3 gives them, then objects; a prefix that does not end with "/" also shows `prefix…`
 * siblings, as s5cmd and aws s3 ls). A wildcard anywhere in the key lists recursively from the
 * text before the first wildcard and keeps what matches. Names are relative to the last "/"
 * before the listing starts. Nothing found (but in a bucket's root) is an error: exit 2.
 */
export async function* listUrl(s3: S3Store, url: string, opts: LsOptions = {}): AsyncGenerator<LsEntry[]> {
  const p = parseS3(url)
  const prefix = p.kind === 'wildcard' ? p.pattern!.listPrefix : p.key
  const base = prefix.slice(0, prefix.lastIndexOf('/') + 1)
  const keep = p.kind === 'wildcard' ? p.pattern!.matches : () => true
  let found = 0
  try {
    if (opts.allVersions) {
      let versions = 0
      for await (const page of s3.listVersions(p.bucket, prefix)) {
        versions += page.length
        const out: LsEntry[] = page.filter(v => keep(v.key)).map(v => ({
          type: 'object', key: v.key, name: v.key.slice(base.length), size: v.size, lastModifiedMs: v.lastModifiedMs, etag: v.etag,
          storageClass: v.storageClass ?? 'STANDARD', versionId: v.versionId, isLatest: v.isLatest, deleteMarker: v.deleteMarker,
        }))
        found += out.length
        if (out.length) yield out
      }
      // Every object has at least one version ("null" in an unversioned bucket): none where objects are means the server does not list versions (fauxqs answers an object listing).
      if (versions === 0 && !(await s3.checkBucket(p.bucket, prefix)).empty)
        throw new S3cError(`the server at ${s3.endpointLabel} does not list object versions (ListObjectVersions answered without any): ls without --all-versions`, ExitCode.fatal)
    } else {
      // A wildcard lists everything under its literal prefix: in parallel past the first page
      // (src/s3/list.ts; someone waits for it: a few requests more than ⌈N/1000⌉, for time); one level is one delimiter listing.
      const pages = p.kind === 'wildcard'
        ? (async function* () { for await (const entries of s3.listObjectPages(p.bucket, prefix, undefined, {sequentialPages: 1})) yield {entries, prefixes: [] as string[]} })()
        : s3.list(p.bucket, prefix, {delimiter: '/'})
      for await (const page of pages) {
        const out: LsEntry[] = [
          ...page.prefixes.map((d): LsFolder => ({type: 'dir', key: d, name: d.slice(base.length)})),
          ...page.entries.filter(o => keep(o.key)).map((o): LsObject => ({
            type: 'object', key: o.key, name: o.key.slice(base.length), size: o.size, lastModifiedMs: o.lastModifiedMs, etag: o.etag, storageClass: o.storageClass ?? 'STANDARD',
          })),
        ]
        found += out.length
        if (out.length) yield out
      }
    }
  } catch (error) {
    throw userError(error, p.bucket, s3)
  }
  if (found === 0 && p.kind !== 'bucket') throw noMatchError(url)
}

const pad2 = (n: number) => String(n).padStart(2, '0')

/** s5cmd's date column: `2006/01/02 15:04:05`, UTC. */
export function lsDate(ms: number): string {
  const d = new Date(ms)
  return `${d.getUTCFullYear()}/${pad2(d.getUTCMonth() + 1)}/${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
}

/** s5cmd's short storage-class column: blank for STANDARD. */
const CLASS_CODES: Record<string, string> = {
  STANDARD: '', REDUCED_REDUNDANCY: 'R', GLACIER: 'G', STANDARD_IA: 'I', ONEZONE_IA: 'O', INTELLIGENT_TIERING: 'T',
  DEEP_ARCHIVE: 'D', GLACIER_IR: 'N', OUTPOSTS: 'P', EXPRESS_ONEZONE: 'E',
}

export function classCode(storageClass: string): string {
  return CLASS_CODES[storageClass] ?? storageClass.slice(0, 1)
}
