import {MIN_PART, splitRanges} from '../s3/limits.js'
import type {CompletedPart, MultipartTarget} from '../base/storage.js'
import {buildTarRange, deleteTemporary} from './tar-part.js'
import {abortUpload} from './upload.js'
import type {PartMember} from '../tar/layout.js'
import type {CopiedPart, TempPart} from '../tar/plan.js'

/** Parts of a tar copied server-side, and staged in a temporary object, as src/tar/plan.ts planned them. */
export type TarCopyJob = CopiedPart
export type TarTempJob = TempPart
import type {JobContext, JobResult} from './kind.js'

/* tar create's server-side handlers: tar-copy (an object copied into the archive), tar-temp (small steps joined in a temporary object). */

/** One object's data, copied into the archive in ranges: its bytes never leave S3. */
export async function tarCopy(job: TarCopyJob, ctx: JobContext): Promise<JobResult> {
  const {source} = job
  const ranges = splitRanges(source.end - source.start, job.maxRange)
  // A whole object is copied without a range: S3 refuses ranged copies of objects of 5 MiB or less.
  const whole = ranges.length === 1 && source.start === 0
  const parts = await Promise.all(ranges.map(([a, b], i) => ctx.s3.copyPart(job, job.firstPart + i,
    whole ? {bucket: source.bucket, key: source.key, etag: source.etag} : {...source, start: source.start + a, end: source.start + b})))
  ctx.onBytes(source.end - source.start)
  return {parts, tar: {members: [], pieces: [], copied: [job.ordinal]}}
}

/**
 * Builds a temporary object from its steps with as few multipart uploads as S3's rules allow
 * (every part but the last ≥ 5 MiB: a small step ends one upload, the next starts by copying the
 * object so far), copies its bytes after the padding into the archive's parts, deletes it.
 */
export async function tarTemp(job: TarTempJob, ctx: JobContext): Promise<JobResult> {
  const keys: string[] = []
  const pieces: NonNullable<JobResult['tar']>['pieces'] = []
  const starting: PartMember[] = []
  const copied: number[] = []
  const bytesOf = async (range: [number, number]) => {
    const {body, tar} = await buildTarRange({offset: range[0], length: range[1] - range[0], format: job.format, members: job.members}, ctx)
    pieces.push(...tar.pieces)
    starting.push(...tar.members)
    return body
  }
  try {
    const steps = job.steps.filter(s => ('bytes' in s ? s.bytes[1] > s.bytes[0] : true))
    let prev: string | undefined
    let total = 0
    for (let gen = 0; steps.length > 0 || !prev; gen++) {
      const key = `${job.tempKey}.${gen}`
      keys.push(key)
      // Not abortable: an upload created after Ctrl-C must still be known, to be aborted below.
      const target: MultipartTarget = {bucket: job.bucket, key, uploadId: await ctx.s3.createMultipart(job.bucket, key)}
      const parts: CompletedPart[] = []
      try {
        ctx.signal?.throwIfAborted()
        if (prev) {
          parts.push(await ctx.s3.copyPart(target, 1, {bucket: job.bucket, key: prev}))
        } else if (job.padKey && steps[0] && !('bytes' in steps[0])) {
          // The padding copied from the archive's zero object: nothing uploaded for it.
          parts.push(await ctx.s3.copyPart(target, 1, {bucket: job.bucket, key: job.padKey}))
          total = MIN_PART
        } else {
          // The padding, with the first run of built bytes when there is one.
          const s0 = steps[0]
          let first: Buffer = Buffer.alloc(0)
          if (s0 && 'bytes' in s0) {
            steps.shift()
            first = await bytesOf(s0.bytes)
          }
          parts.push(await ctx.s3.uploadPart(target, 1, Buffer.concat([Buffer.alloc(MIN_PART), first])))
          total = MIN_PART + first.length
        }
        while (steps.length > 0) {
          const step = steps.shift()!
          const n = parts.length + 1
          if ('bytes' in step) {
            const body = await bytesOf(step.bytes)
            parts.push(await ctx.s3.uploadPart(target, n, body))
            total += body.length
            if (body.length < MIN_PART) break
          } else {
            copied.push(step.ordinal)
            if (step.copy.size > job.maxRange) {
              for (const [a, b] of splitRanges(step.copy.size, job.maxRange)) parts.push(await ctx.s3.copyPart(target, parts.length + 1, {...step.copy, start: a, end: b}))
            } else {
              // The whole object in one part, with no range (S3 copies no range of an object of 5 MiB
              // or less); under 5 MiB it must be this upload's last part.
              parts.push(await ctx.s3.copyPart(target, n, {bucket: step.copy.bucket, key: step.copy.key, etag: step.copy.etag}))
            }
            total += step.copy.size
            if (step.copy.size < MIN_PART) break
          }
        }
        await ctx.s3.completeMultipart(target, parts)
      } catch (error) {
        await abortUpload(ctx, target)
        throw error
      }
      prev = key
    }
    const ranges = splitRanges(total - MIN_PART, job.maxRange)
    const parts = await Promise.all(ranges.map(([a, b], i) => ctx.s3.copyPart(job, job.firstPart + i, {bucket: job.bucket, key: prev!, start: MIN_PART + a, end: MIN_PART + b})))
    ctx.onBytes(total - MIN_PART)
    return {parts, tar: {members: starting.map(({source: _s, ...rest}) => rest), pieces, copied}}
  } finally {
    // All of them at once, as soon as the archive has its copy: one request, and the server does
    // not hold every temporary object of the archive until the end.
    await deleteTemporary(ctx, job.bucket, keys)
  }
}
