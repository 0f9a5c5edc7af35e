import {PassThrough, Writable, type Readable} from 'node:stream'
import {downloadSingle} from '../verbs/download-single.js'
import {listFiles} from '../verbs/list-files.js'
import type {IndexedMember} from '../s3ci/format.js'
import {resolveTarRef} from '../s3ci/ref.js'
import {CONNECT_KEYS, checkOptions, lentOf, libraryCall, libraryError, optionKeys, resolveConnection, type ConnectOptions, type Exact} from './connect.js'

/*
 * Bundles and indexed tars from the library: the same readers as `s3c list-files` and
 * `s3c download-single` (src/verbs/list-files.ts, download-single.ts), the same references
 * (s3://bucket/key.tar, a local tar, or a bundle id with `bucket`/`prefix`).
 */

export interface ArchiveOptions extends ConnectOptions {
  /** Where a bundle id lives (else S3C_BUCKET). */
  bucket?: string
  prefix?: string
  /** Use (and fill) the local index cache (~/.cache/s3c, S3C_CACHE_DIR). Default on. */
  cache?: boolean
}

export type {IndexedMember}

export const ARCHIVE_KEYS = optionKeys<ArchiveOptions>()(...CONNECT_KEYS as (keyof ConnectOptions)[], 'bucket', 'prefix', 'cache')

/** The members of a bundle or indexed tar, from its index alone (the tar is not read). */
export function listMembers<O extends ArchiveOptions = ArchiveOptions>(bundleOrTarUrl: string, options?: Exact<O, ArchiveOptions>): Promise<IndexedMember[]> {
  return libraryCall(async () => {
    const opts = checkOptions('listMembers', options, ARCHIVE_KEYS)
    const ref = resolveTarRef(bundleOrTarUrl, {bucket: opts.bucket, prefix: opts.prefix})
    return listFiles({s3: await resolveConnection(opts, 4), lent: lentOf(opts), maxRetry: opts.maxRetry ?? 10, ref, cache: opts.cache})
  })
}

/**
 * One member as a stream: one ranged GET of the tar when its index is in the local cache, two
 * when not (the index's front, then the member), its CRC-32 checked at the end (a mismatch is
 * the stream's 'error'). Returned at once; failures come as 'error'.
 */
export function openMember<O extends ArchiveOptions = ArchiveOptions>(bundleOrTarUrl: string, name: string, options?: Exact<O, ArchiveOptions>): Readable {
  const opts = checkOptions('openMember', options, ARCHIVE_KEYS)
  const out = new PassThrough()
  // downloadSingle ends the stream it writes into: a Writable that forwards to `out` and ends it.
  const sink = new Writable({
    write(chunk, _enc, done) {
      if (out.write(chunk)) done()
      else out.once('drain', () => done())
    },
    final(done) {
      out.end()
      done()
    },
  })
  void (async () => {
    const ref = resolveTarRef(bundleOrTarUrl, {bucket: opts.bucket, prefix: opts.prefix})
    await downloadSingle({s3: await resolveConnection(opts, 8), lent: lentOf(opts), maxRetry: opts.maxRetry ?? 10, ref, cache: opts.cache, member: name, stdout: sink})
  })().catch(error => out.destroy(libraryError(error)))
  return out
}
