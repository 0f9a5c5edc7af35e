import type {Readable} from 'node:stream'
import {ExitCode, FatalError, S3cError, statusOf} from '../base/errors.js'
import type {S3Store} from '../base/storage.js'
import {missingObjectError, userError} from './expand.js'

/** A byte range: [start, end] inclusive (HTTP's), `end` absent for "to the end"; or the last `suffix` bytes. */
export type ByteRange = {start: number; end?: number} | {suffix: number}

/**
 * `--range`: `START-END` (inclusive, as HTTP and Node's createReadStream), `START-`, `-N` (the
 * last N bytes), each also as `bytes=…`. Anything else is bad input (exit 2).
 */
export function parseRange(text: string): ByteRange {
  const m = /^\s*(?:bytes=)?(\d*)-(\d*)\s*$/i.exec(text)
  const bad = (why: string) => new S3cError(`--range ${text}: ${why}; write START-END (inclusive bytes, e.g. 0-99), START- or -LAST_N, optionally as bytes=…`, ExitCode.usage)
  if (!m || (m[1] === '' && m[2] === '')) throw bad('not a byte range')
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) throw bad('the last 0 bytes are nothing')
    return {suffix}
  }
  const start = Number(m[1])
  const end = m[2] === '' ? undefined : Number(m[2])
  if (!Number.isSafeInteger(start) || (end !== undefined && !Number.isSafeInteger(end))) throw bad('a number is too large')
  if (end !== undefined && end < start) throw bad('END is before START')
  return {start, end}
}

export function rangeHeader(r: ByteRange): string {
  return 'suffix' in r ? `bytes=-${r.suffix}` : `bytes=${r.start}-${r.end ?? ''}`
}

/**
 * The object (or a range of it) as a stream: one GET, retried until its answer's headers come.
 * A missing bucket or key, and a range that starts beyond the end, are one line, exit 2.
 */
export async function openObject(s3: S3Store, bucket: string, key: string, range?: ByteRange): Promise<Readable> {
  try {
    return (await s3.streamObject(bucket, key, range ? rangeHeader(range) : undefined)).body
  } catch (error) {
    const original = error instanceof FatalError ? error.original : error
    const status = statusOf(original)
    if ((original as Error)?.name === 'NoSuchKey' || (status === 404 && (original as Error)?.name !== 'NoSuchBucket')) throw await missingObjectError(s3, bucket, key)
    if (status === 416) {
      const head = await s3.head(bucket, key).catch(() => undefined)
      throw new S3cError(`--range ${rangeHeader(range!)} starts beyond the end of s3://${bucket}/${key} (${head?.['content-length'] ?? '?'} bytes)`, ExitCode.usage)
    }
    throw userError(error, bucket, s3)
  }
}
