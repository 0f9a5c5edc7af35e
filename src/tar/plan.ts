import {MIN_PART, maxCopyRange} from '../s3/limits.js'
import type {CopySource} from '../s3/storage.js'
import type {TarFormat} from './header.js'
import {memberEnd, type BuiltPart, type PartMember, type TarLayout} from './layout.js'

/* tar create's part plan: archives of S3 objects, built by UploadPart, UploadPartCopy and temporary objects. */

/** Part(s) of a tar that are one object's data, copied server-side in ranges of at most maxRange (a tar-copy job). */
export interface CopiedPart {
  kind: 'tar-copy'
  bucket: string
  key: string
  uploadId: string
  firstPart: number
  source: CopySource & {start: number; end: number}
  ordinal: number
  maxRange: number
}

/** What a temporary object is made of, in order: archive bytes built here, or a copied object. */
export type TempStep = {bytes: [number, number]} | {copy: CopySource & {size: number}; ordinal: number}

/**
 * Part(s) of a tar that need a temporary object because S3 will not take them as parts
 * directly (headers between copied objects are below the 5 MiB part minimum): the temporary
 * object starts with 5 MiB of zeros so each of its multipart parts is large enough; its bytes
 * after the padding are then copied into the archive, and it is deleted (a tar-temp job).
 */
export interface TempPart {
  kind: 'tar-temp'
  bucket: string
  key: string
  uploadId: string
  firstPart: number
  tempKey: string
  steps: TempStep[]
  /** Members whose headers or data fall in the bytes steps. */
  members: PartMember[]
  format: TarFormat
  maxRange: number
  /**
   * A 5 MiB object of zeros in the archive's bucket: when the first step is a copy, the padding
   * is copied from it instead of uploaded (steps are then [copy ≥ 5 MiB, bytes]).
   */
  padKey?: string
}

/** The parts of an archive as planned; each is one job, by its kind. */
export type ArchivePart = BuiltPart | CopiedPart | TempPart

/** Requests an archive will cost, by kind, and the bytes it downloads (for --dry-run and --stats). */
export interface RequestCounts {
  /** One per source object, for its mtime metadata (and, from a manifest, to check it exists). */
  HeadObject: number
  CreateMultipartUpload: number
  UploadPart: number
  UploadPartCopy: number
  CompleteMultipartUpload: number
  GetObject: number
  PutObject: number
  /** Temporary objects deleted, up to 1,000 a request: by each tar-temp job, then by complete-tar. */
  DeleteObjects: number
  /** Temporary objects made and deleted (the staged TOC, the zero object, tar-temp generations). */
  temporaryObjects: number
  bytesDownloaded: number
}

function emptyCounts(): RequestCounts {
  return {HeadObject: 0, CreateMultipartUpload: 0, UploadPart: 0, UploadPartCopy: 0, CompleteMultipartUpload: 0, GetObject: 0, PutObject: 0, DeleteObjects: 0, temporaryObjects: 0, bytesDownloaded: 0}
}

/** Sizes of built parts for a byte range: ≤ partSize where possible, none below 5 MiB unless the range is. */
function builtChunks(start: number, end: number, partSize: number): [number, number][] {
  const len = end - start
  let n = Math.max(1, Math.ceil(len / partSize))
  if (n > 1 && len / n < MIN_PART) n = Math.max(1, Math.floor(len / MIN_PART))
  const size = Math.ceil(len / n)
  const out: [number, number][] = []
  for (let at = start; at < end; at += size) out.push([at, Math.min(end, at + size)])
  return out
}

function overlapping(members: PartMember[], start: number, end: number): PartMember[] {
  return members.filter(m => m.headerOffset < end && memberEnd(m) > start)
}

/**
 * Cuts an archive into jobs. Members for which `copy(m)` is true enter by UploadPartCopy; the
 * rest of the bytes (headers, padding, fetched members) are built. S3 takes a copied object as
 * parts directly when the built bytes before it reach 5 MiB; otherwise headers and object go
 * through a temporary object that starts with 5 MiB of padding (see TempPart).
 */
export function planArchive(layout: TarLayout, copy: (m: PartMember) => boolean,
  target: {bucket: string; key: string; uploadId: string; format: TarFormat; partSize: number; tempPrefix: string; padKey?: string}): {jobs: ArchivePart[]; parts: number} {
  const maxRange = maxCopyRange()
  const jobs: ArchivePart[] = []
  let part = 1
  let built = 0 // start of the built bytes not yet in a job
  let temp: TempPart | undefined
  let tempOut = 0
  const base = {bucket: target.bucket, key: target.key, uploadId: target.uploadId}
  const rangesOf = (len: number) => Math.max(1, Math.ceil(len / maxRange))
  const emitBuilt = (start: number, end: number) => {
    for (const [a, b] of builtChunks(start, end, target.partSize))
      jobs.push({kind: 'tar-part', ...base, partNumber: part++, offset: a, length: b - a, format: target.format, members: overlapping(layout.members, a, b)})
  }
  const closeTemp = () => {
    if (!temp) return
    temp.firstPart = part
    part += rangesOf(tempOut)
    temp.members = [...new Map(temp.steps.flatMap(s => ('bytes' in s ? overlapping(layout.members, s.bytes[0], s.bytes[1]) : [])).map(m => [m.ordinal, m])).values()]
    jobs.push(temp)
    temp = undefined
    tempOut = 0
  }
  const copied = layout.members.filter(m => m.type === 'file' && m.size > 0 && copy(m))
  // Every copied object ≥ 5 MiB (auto mode): pair each with the built bytes that FOLLOW it. An
  // object can stand as a part of its own, so [object][bytes after it] makes a temporary object
  // whose padding is copied from one zero object (target.padKey) instead of uploaded each time.
  const followPairs = target.padKey !== undefined && copied.length > 0 && copied.every(m => m.size >= MIN_PART)
  for (const [i, m] of copied.entries()) {
    const src = m.source as {bucket: string; key: string; etag?: string}
    const builtLen = m.dataOffset - built
    if (followPairs) {
      const end = m.dataOffset + m.size
      const next = i + 1 < copied.length ? copied[i + 1].dataOffset : layout.size
      // The bytes after the object, when too short to be parts of their own (the archive's
      // last bytes may be: the last part can be any size).
      const tail: TempStep[] = next - end < MIN_PART && i + 1 < copied.length ? [{bytes: [end, next]}] : []
      const stop = tail.length > 0 ? next : end
      const newTemp = (steps: TempStep[], padKey?: string) => {
        temp = {kind: 'tar-temp', ...base, firstPart: 0, tempKey: `${target.tempPrefix}${jobs.length}`, steps, members: [], format: target.format, maxRange, padKey}
        tempOut = stop - built
        closeTemp()
      }
      if (builtLen > 0 && builtLen < MIN_PART) {
        // Only before the first object (later bytes were paired): padding uploaded with them.
        newTemp([{bytes: [built, m.dataOffset]}, {copy: {...src, size: m.size}, ordinal: m.ordinal}, ...tail])
      } else {
        if (builtLen > 0) emitBuilt(built, m.dataOffset)
        built = m.dataOffset
        if (tail.length === 0) {
          jobs.push({kind: 'tar-copy', ...base, firstPart: part, source: {...src, start: 0, end: m.size}, ordinal: m.ordinal, maxRange})
          part += rangesOf(m.size)
        } else {
          newTemp([{copy: {...src, size: m.size}, ordinal: m.ordinal}, ...tail], target.padKey)
        }
      }
      built = stop
      continue
    }
    if (!temp && m.size >= MIN_PART && builtLen >= MIN_PART) {
      emitBuilt(built, m.dataOffset)
      jobs.push({kind: 'tar-copy', ...base, firstPart: part, source: {...src, start: 0, end: m.size}, ordinal: m.ordinal, maxRange})
      part += rangesOf(m.size)
    } else {
      temp ??= {kind: 'tar-temp', ...base, firstPart: 0, tempKey: `${target.tempPrefix}${jobs.length}`, steps: [], members: [], format: target.format, maxRange}
      if (builtLen > 0) temp.steps.push({bytes: [built, m.dataOffset]})
      temp.steps.push({copy: {...src, size: m.size}, ordinal: m.ordinal})
      tempOut += builtLen + m.size
      if (tempOut >= MIN_PART) closeTemp()
    }
    built = m.dataOffset + m.size
  }
  if (temp) {
    // A temporary object still under 5 MiB: it takes the rest of the archive and is the last part.
    temp.steps.push({bytes: [built, layout.size]})
    tempOut += layout.size - built
    closeTemp()
  } else {
    emitBuilt(built, layout.size)
  }
  return {jobs, parts: part - 1}
}

/** What the jobs of an archive will send (the planner's count; retries come on top). */
export function countRequests(jobs: ArchivePart[], counts: RequestCounts = emptyCounts()): RequestCounts {
  counts.CreateMultipartUpload++
  counts.CompleteMultipartUpload++
  counts.PutObject++ // the index
  const gets = (members: PartMember[], start: number, end: number) => {
    for (const m of members) {
      if (m.type !== 'file' || m.size === 0 || !m.source || 'path' in m.source) continue
      const a = Math.max(start, m.dataOffset)
      const b = Math.min(end, m.dataOffset + m.size)
      if (a < b) {
        counts.GetObject++
        counts.bytesDownloaded += b - a
      }
    }
  }
  for (const j of jobs) {
    if (j.kind === 'tar-part') {
      counts.UploadPart++
      gets(j.members, j.offset, j.offset + j.length)
    } else if (j.kind === 'tar-copy') {
      counts.UploadPartCopy += Math.ceil((j.source.end - j.source.start) / j.maxRange)
    } else {
      // Replays tarTemp's loop: how many uploads, which parts.
      let out = 0
      let generations = 0
      let first = true
      const steps = [...j.steps]
      while (steps.length > 0 || first) {
        counts.CreateMultipartUpload++
        counts.CompleteMultipartUpload++
        counts.temporaryObjects++
        generations++
        if (first && j.padKey && steps[0] && !('bytes' in steps[0])) {
          counts.UploadPartCopy++ // the padding, from the zero object
          first = false
        } else if (first) {
          counts.UploadPart++
          const s0 = steps[0]
          if (s0 && 'bytes' in s0) {
            steps.shift()
            gets(j.members, s0.bytes[0], s0.bytes[1])
            out += s0.bytes[1] - s0.bytes[0]
          }
          first = false
        } else {
          counts.UploadPartCopy++
        }
        while (steps.length > 0) {
          const s = steps.shift()!
          if ('bytes' in s) {
            counts.UploadPart++
            gets(j.members, s.bytes[0], s.bytes[1])
            out += s.bytes[1] - s.bytes[0]
            if (s.bytes[1] - s.bytes[0] < MIN_PART) break
          } else {
            counts.UploadPartCopy += s.copy.size >= MIN_PART ? Math.ceil(s.copy.size / j.maxRange) : 1
            out += s.copy.size
            if (s.copy.size < MIN_PART) break
          }
        }
      }
      counts.DeleteObjects += Math.ceil(generations / 1000)
      counts.UploadPartCopy += Math.ceil(out / j.maxRange)
    }
  }
  return counts
}
