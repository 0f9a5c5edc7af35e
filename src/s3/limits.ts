import {GiB, MiB} from '../base/units.js'

/** S3's smallest part (all but the last part of a multipart upload). */
export const MIN_PART = 5 * MiB
/** S3's most parts in one multipart upload. */
export const MAX_PARTS = 10_000

/** A streamed write's first parts' size and parts in flight (pipe's defaults: src/s3/upload-stream.ts). */
export const streamDefaults = {partSize: 8 * MiB, concurrency: 4}

/** Part size for a file: the requested size, grown so the file fits in S3's 10,000 parts. */
export function partSizeFor(size: number, requested: number): number {
  const min = Math.ceil(size / MAX_PARTS / MiB) * MiB
  return Math.max(requested, min, MIN_PART)
}

/** The largest range one UploadPartCopy may copy (5 GiB); tests lower it with S3C_MAX_COPY_RANGE (≥ 10 MiB). */
export function maxCopyRange(env = process.env): number {
  const v = Number(env.S3C_MAX_COPY_RANGE ?? 5 * GiB)
  return Math.max(2 * MIN_PART, Math.min(5 * GiB, v))
}

/** Splits [0, length) into equal pieces of at most maxRange (the ranges of a copy larger than S3 copies at once). */
export function splitRanges(length: number, maxRange: number): [number, number][] {
  const n = Math.max(1, Math.ceil(length / maxRange))
  const size = Math.ceil(length / n)
  const out: [number, number][] = []
  for (let at = 0; at < length; at += size) out.push([at, Math.min(length, at + size)])
  return out
}
