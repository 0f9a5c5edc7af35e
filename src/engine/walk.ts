import {ListObjectsV2Command} from '@aws-sdk/client-s3'
import fg from 'fast-glob'
import picomatch from 'picomatch'
import {withRetry, type RetryPolicy} from '../core/retry.js'
import type {S3Handle} from '../s3/client.js'

export interface LocalEntry {
  /** Path relative to the walked root, '/'-separated. */
  rel: string
  path: string
  size: number
  mtimeMs: number
  mode: number
  /** Only with `dirs: true`: the entry is a folder. */
  dir?: boolean
}

export interface RemoteEntry {
  key: string
  size: number
  lastModifiedMs: number
  etag?: string
}

export interface WalkFilter {
  include?: string[]
  exclude?: string[]
}

/** Streams the files under `root` (fast-glob, stats included): memory stays flat however large the tree. */
export async function* walkLocal(root: string, filter: WalkFilter = {}, dirs = false): AsyncGenerator<LocalEntry> {
  const patterns = filter.include?.length ? filter.include : ['**']
  const stream = fg.stream(patterns, {
    cwd: root, absolute: false, dot: true, onlyFiles: !dirs, stats: true, followSymbolicLinks: true,
    ignore: filter.exclude ?? [], suppressErrors: false,
  })
  const base = root.endsWith('/') ? root : `${root}/`
  for await (const item of stream) {
    const entry = item as unknown as fg.Entry
    const st = entry.stats!
    const dir = st.isDirectory()
    yield {rel: entry.path, path: base + entry.path, size: dir ? 0 : st.size, mtimeMs: st.mtimeMs, mode: st.mode, dir}
  }
}

/** The same include/exclude rules as the local walk, for relative key names. */
export function keyFilter(filter: WalkFilter): (rel: string) => boolean {
  const opts = {dot: true}
  const include = filter.include?.length ? picomatch(filter.include, opts) : undefined
  const exclude = filter.exclude?.length ? picomatch(filter.exclude, opts) : undefined
  return rel => (!include || include(rel)) && !(exclude && exclude(rel))
}

/** Streams the objects under `prefix`, one ListObjectsV2 page at a time. */
export async function* walkS3(s3: S3Handle, bucket: string, prefix: string, retry: RetryPolicy, signal?: AbortSignal): AsyncGenerator<RemoteEntry> {
  let token: string | undefined
  do {
    const page = await withRetry(() => s3.client.send(new ListObjectsV2Command({
      Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token,
    }), {abortSignal: signal}), retry, signal)
    for (const o of page.Contents ?? []) {
      yield {key: o.Key!, size: o.Size ?? 0, lastModifiedMs: o.LastModified?.getTime() ?? 0, etag: o.ETag}
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
}
