import {addAbortSignal, Readable} from 'node:stream'
import {ExitCode, S3cError} from '../base/errors.js'
import type {CompletedPart, MultipartTarget, S3Store, StreamWriteOptions} from '../base/storage.js'
import {GiB} from '../base/units.js'
import {MAX_PARTS, MIN_PART, streamDefaults} from './limits.js'

/** Part n's size: the first size, doubled after every 1,000 parts (at most 5 GiB). */
function partSizeAt(first: number, partNumber: number): number {
  return Math.min(5 * GiB, first * 2 ** Math.floor((partNumber - 1) / 1000))
}

/**
 * A stream of unknown length into one object (S3Storage.writeStream): bytes are cut into parts
 * as they come and up to `concurrency` parts upload at once, so memory stays bounded however long
 * the stream. A stream that ends within the first part is one PUT. Any failure (or the signal)
 * aborts the upload: nothing half-written stays. `headers` are the one PUT's (objectHeaders of
 * the settings); the multipart upload is created with the settings themselves.
 */
export async function uploadStream(s3: S3Store, signal: AbortSignal | undefined, bucket: string, key: string, input: AsyncIterable<Buffer | string>,
  headers: Record<string, string>, opts: StreamWriteOptions = {}): Promise<{bytes: number; parts: number}> {
  const first = opts.partSize ?? streamDefaults.partSize
  if (first < MIN_PART) throw new S3cError(`--part-size ${first} is below S3's 5 MiB minimum part: give 5MiB or more`, ExitCode.usage)
  const concurrency = Math.max(1, opts.concurrency ?? streamDefaults.concurrency)
  const url = `s3://${bucket}/${key}`
  const settings = opts.settings ?? {}
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
    if (!upload) upload = {bucket, key, uploadId: await s3.createMultipart(bucket, key, settings)}
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
  if (signal && input instanceof Readable) addAbortSignal(signal, input)
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
      if (signal?.aborted) throw signal.reason
    }
    if (!upload) {
      await s3.put(bucket, key, take(pendingBytes), {headers})
      return {bytes, parts: 0}
    }
    await send(take(pendingBytes))
    await Promise.all(inFlight)
    if (failure) throw failure
    parts.sort((a, b) => a.PartNumber - b.PartNumber)
    await s3.completeMultipart(upload, parts)
    return {bytes, parts: parts.length}
  } catch (error) {
    await Promise.allSettled(inFlight)
    if (upload) await s3.withoutSignal().abortMultipart(upload).catch(() => undefined)
    throw error
  }
}
