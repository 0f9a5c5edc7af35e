import {selectPrefix} from './members.js'
import {retryPolicy} from '../base/retry.js'
import type {S3Store} from '../base/storage.js'
import type {S3Config} from '../s3/config.js'
import {type IndexedMember} from '../s3ci/format.js'
import {IndexReader} from '../s3ci/reader.js'
import {isLocalTar, type TarRef} from '../s3ci/ref.js'
import {openStore} from '../storage/open.js'


/* `s3c list-files`: an archive's members from its index. */

export interface ReadOptions {
  s3: S3Config
  /** A connection the caller keeps open (the library's connect()), used instead of a new one. */
  lent?: S3Store
  ref: TarRef
  maxRetry: number
  /** Use the local index cache (default on). */
  cache?: boolean
}


/** An index reader for the tar (and the S3 connection an S3 tar needs; none for a local tar). */
export async function withReader<T>(opts: ReadOptions, fn: (reader: IndexReader) => Promise<T>): Promise<T> {
  const s3 = isLocalTar(opts.ref) ? undefined : await openStore(opts.s3, retryPolicy(opts.maxRetry), undefined, undefined, opts.lent)
  const reader = new IndexReader(s3, opts.ref, opts.cache ?? true)
  try {
    return await fn(reader)
  } finally {
    await reader.close()
    await s3?.close()
  }
}

export async function listFiles(opts: ReadOptions & {prefix?: string}): Promise<IndexedMember[]> {
  return withReader(opts, async reader => {
    const members = await reader.members()
    // A local tar costs nothing to check (a stat): an index of another version of it is refused.
    if (isLocalTar(opts.ref)) await (await reader.openTar()).close()
    return opts.prefix ? selectPrefix(members, opts.prefix) : members
  })
}

