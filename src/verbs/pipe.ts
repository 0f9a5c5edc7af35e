import {addAbortSignal, Readable} from 'node:stream'
import {ExitCode, S3cError, fatalToUserError} from '../base/errors.js'
import {retryPolicy} from '../base/retry.js'
import {contentTypeOf} from '../base/content-type.js'
import {GiB, MiB} from '../base/units.js'
import type {CopySettings} from '../jobs/types.js'
import {MAX_PARTS, MIN_PART} from '../s3/limits.js'
import type {S3Config} from '../s3/config.js'
import {readableStdin} from '../local/stdin.js'
import {S3Storage, objectHeaders, type CompletedPart, type MultipartTarget} from '../s3/storage.js'

export interface PipeOptions {
  s3: S3Config
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

export const pipeDefaults = {partSize: 8 * MiB, concurrency: 4}

/** Part n's size: the first size, doubled after every 1,000 parts (at most 5 GiB). */
function partSizeAt(first: number, partNumber: number): number {
  return Math.min(5 * GiB, first * 2 ** Math.floor((partNumber - 1) / 1000))
}

/**
 * Standard input into one object (`s3c pipe`, `s3c cp - s3://b/key`), checked readable first
 * (local/stdin.ts: a closed input or a folder is refused, not stored as 0 bytes).
 */
export function pipeStdin(target: {bucket: string; key: string}, opts: PipeOptions): Promise<PipeResult> {
  return pipeToS3(readableStdin('the bytes to store'), target, opts)
}

/**
 * A stream of unknown length into one object: bytes are cut into parts as they come and up to
 * `concurrency` parts upload at once, so memory stays bounded however long the stream. A stream
 * that ends within the first part is one PUT. Any failure (or the signal) aborts the upload:
 * nothing half-written stays.
 */
export async function pipeToS3(input: Readable | AsyncIterable<Buffer | string>, target: {bucket: string; key: string}, opts: PipeOptions): Promise<PipeResult> {
  const first = opts.partSize ?? pipeDefaults.partSize
  if (first < MIN_PART) throw new S3cError(`--part-size ${first} is below S3's 5 MiB minimum part: give 5MiB or more`, ExitCode.usage)
  const concurrency = Math.max(1, opts.concurrency ?? pipeDefaults.concurrency)
  const s3 = await S3Storage.open({...opts.s3, maxSockets: Math.max(opts.s3.maxSockets, concurrency)}, retryPolicy(opts.maxRetry), opts.signal)
  const url = `s3://${target.bucket}/${target.key}`
  const settings = opts.settings ?? {}
  const contentType = await contentTypeOf(target.key, settings.contentType)
  let upload: MultipartTarget | undefined
  const parts: CompletedPart[] = []
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  let pending: Buffer[] = []
  let pendingBytes = 0
  let bytes = 0
  let partNumber = 1

  const take = (n: number): Buffer => {
    const all = pending.length === 1 ? pending[0] : Buffer.concat(pending)
    pending = n < all.length ? [all.subarray(n)] : []
    pendingBytes = all.length - n
    // A copy: the part must not pin the whole concatenated buffer while it uploads.
    return Buffer.from(all.subarray(0, n))
  }
  const send = async (body: Buffer) => {
    if (!upload) {
      const uploadId = await s3.createMultipart(target.bucket, target.key, {contentType, metadata: settings.metadata, storageClass: settings.storageClass,
        sse: settings.sse, sseKmsKeyId: settings.sseKmsKeyId, acl: settings.acl})
      upload = {bucket: target.bucket, key: target.key, uploadId}
    }
    if (partNumber > MAX_PARTS) throw new S3cError(`${url}: the stream needs more than ${MAX_PARTS} parts: give a larger --part-size`, ExitCode.usage)
    const n = partNumber++
    const p = s3.uploadPart(upload, n, body).then(part => { parts.push(part) }, error => { failure ??= error })
    inFlight.add(p)
    void p.finally(() => inFlight.delete(p))
    while (inFlight.size >= concurrency) await Promise.race(inFlight)
    if (failure) throw failure
  }
  // Ctrl-C while the input is idle: the input is destroyed with the abort, so the loop below ends
  // at once and the upload is aborted, instead of waiting for a byte that may never come.
  if (opts.signal && input instanceof Readable) addAbortSignal(opts.signal, input)
  try {
    for await (const chunk of input) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      pending.push(buf)
      pendingBytes += buf.length
      bytes += buf.length
      opts.onBytes?.(buf.length)
      // More than one part's worth: the part is full and more follows.
      while (pendingBytes > partSizeAt(first, partNumber)) await send(take(partSizeAt(first, partNumber)))
      if (failure) throw failure
      if (opts.signal?.aborted) throw opts.signal.reason
    }
    if (!upload) {
      const body = take(pendingBytes)
      await s3.put(target.bucket, target.key, body, {headers: objectHeaders({...settings, contentType})})
      return {url, bytes, parts: 0}
    }
    await send(take(pendingBytes))
    await Promise.all(inFlight)
    if (failure) throw failure
    parts.sort((a, b) => a.PartNumber - b.PartNumber)
    await s3.completeMultipart(upload, parts)
    return {url, bytes, parts: parts.length}
  } catch (error) {
    await Promise.allSettled(inFlight)
    if (upload) await s3.withoutSignal().abortMultipart(upload).catch(() => undefined)
    throw fatalToUserError(error, {bucket: target.bucket, endpoint: s3.endpointLabel})
  } finally {
    await s3.close()
  }
}
