import {dirname, resolve} from 'node:path'
import {ExitCode, S3cError} from '../base/errors.js'
import {retryPolicy} from '../base/retry.js'
import {SourceChangedError, type RangeSource, type S3Store} from '../base/storage.js'
import type {S3Config} from '../s3/config.js'
import {INDEX_CONTENT_TYPE, INDEX_SUFFIX, buildIndex} from '../s3ci/format.js'
import {isLocalTar, type TarRef} from '../s3ci/ref.js'
import {scanTar} from '../tar/scan.js'
import {writeFileSafely} from '../local/safe-path.js'
import {localSource, openStore} from '../storage/open.js'


export interface IndexResult {
  members: number
  indexedAt: string
  reads: number
  bytesRead: number
  tarSize: number
}

/**
 * `s3c index`: the s3c index of any uncompressed tar, in S3 (written next to it as KEY.s3ci)
 * or local (FILE.s3ci), reading headers rather than member data where members are large.
 */
export async function indexTar(opts: {target: string; s3: S3Config; maxRetry: number; ref?: TarRef}): Promise<IndexResult> {
  let s3: S3Store | undefined
  let src: RangeSource
  const ref = opts.ref && !isLocalTar(opts.ref) ? opts.ref : undefined
  if (ref) {
    s3 = await openStore(opts.s3, retryPolicy(opts.maxRetry))
    src = await s3.openSource(ref.bucket, ref.tarKey).catch(async error => {
      await s3!.close()
      throw error
    })
  } else {
    src = await localSource(opts.target)
  }
  try {
    const members = await scanTar(src).catch(error => {
      if (error instanceof SourceChangedError) throw new S3cError(`${src.label} changed while it was being indexed: run s3c index again`, error.exitCode)
      throw error
    })
    if (members.length === 0) throw new S3cError(`${src.label} holds no members: nothing to index`, ExitCode.usage)
    // A local tar's index records its mtime with its size: the readers refuse another version of the file.
    const {size, etag, mtimeUs} = await src.stat()
    const index = buildIndex(members, size, etag, mtimeUs)
    let indexedAt: string
    if (ref && s3) {
      await s3.put(ref.bucket, ref.indexKey, index, {headers: {'content-type': INDEX_CONTENT_TYPE}})
      indexedAt = `s3://${ref.bucket}/${ref.indexKey}`
    } else {
      indexedAt = resolve(opts.target + INDEX_SUFFIX)
      await writeFileSafely(dirname(indexedAt), indexedAt, index)
    }
    return {members: members.length, indexedAt, reads: src.reads, bytesRead: src.bytesRead, tarSize: size}
  } finally {
    await src.close()
    await s3?.close()
  }
}
