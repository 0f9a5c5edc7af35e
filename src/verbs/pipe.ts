import type {Readable} from 'node:stream'
import {ExitCode, S3cError, fatalToUserError} from '../base/errors.js'
import {retryPolicy} from '../base/retry.js'
import {contentTypeOf} from '../base/content-type.js'
import type {CopySettings} from '../jobs/types.js'
import {MIN_PART, streamDefaults} from '../s3/limits.js'
import type {S3Config} from '../s3/config.js'
import {readableStdin} from '../local/stdin.js'
import type {S3Store} from '../base/storage.js'
import {openStore} from '../storage/open.js'

export interface PipeOptions {
  s3: S3Config
  /** A connection the caller keeps open (the library's connect()), used instead of a new one. */
  lent?: S3Store
  maxRetry: number
  /** The first parts' size (≥ 5 MiB); it doubles every 1,000 parts, so a stream of any length fits S3's 10,000. */
  partSize?: number
  /** Parts uploading at once: memory holds at most this many parts plus the one being filled. */
  concurrency?: number
  settings?: CopySettings
  signal?: AbortSignal
  /** Bytes read so far (progress). */
  onBytes?: (n: number) => void
}

export interface PipeResult {
  url: string
  bytes: number
  /** 0 when the stream fitted in one PUT. */
  parts: number
}

/** The first parts' size and the parts in flight (the S3 store's streamed write: src/s3/upload-stream.ts). */
export const pipeDefaults = streamDefaults

/**
 * Standard input into one object (`s3c pipe`, `s3c cp - s3://b/key`), checked readable first
 * (local/stdin.ts: a closed input or a folder is refused, not stored as 0 bytes).
 */
export function pipeStdin(target: {bucket: string; key: string}, opts: PipeOptions): Promise<PipeResult> {
  return pipeToS3(readableStdin('the bytes to store'), target, opts)
}

/**
 * A stream of unknown length into one object: the store's streamed write (S3: parts cut as
 * bytes come, up to `concurrency` in flight, memory bounded however long the stream; one PUT when
 * it ends within the first part; any failure or the signal aborts the upload, nothing
 * half-written stays).
 */
export async function pipeToS3(input: Readable | AsyncIterable<Buffer | string>, target: {bucket: string; key: string}, opts: PipeOptions): Promise<PipeResult> {
  const first = opts.partSize ?? pipeDefaults.partSize
  if (first < MIN_PART) throw new S3cError(`--part-size ${first} is below S3's 5 MiB minimum part: give 5MiB or more`, ExitCode.usage)
  const concurrency = Math.max(1, opts.concurrency ?? pipeDefaults.concurrency)
  const s3 = await openStore({...opts.s3, maxSockets: Math.max(opts.s3.maxSockets, concurrency)}, retryPolicy(opts.maxRetry), opts.signal, undefined, opts.lent)
  const url = `s3://${target.bucket}/${target.key}`
  const settings = opts.settings ?? {}
  const contentType = await contentTypeOf(target.key, settings.contentType)
  try {
    const {bytes, parts} = await s3.writeStream(target.bucket, target.key, input, {
      settings: {...settings, contentType}, partSize: first, concurrency, onBytes: opts.onBytes,
    })
    return {url, bytes, parts}
  } catch (error) {
    throw fatalToUserError(error, {bucket: target.bucket, endpoint: s3.endpointLabel})
  } finally {
    await s3.close()
  }
}
