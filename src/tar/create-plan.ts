import {ExitCode, S3cError} from '../base/errors.js'
import {MAX_PARTS, MIN_PART} from '../s3/limits.js'
import type {TarFormat} from './header.js'
import {layoutTar, type MemberInput, type TarLayout} from './layout.js'
import {countRequests, planArchive, type ArchivePart, type RequestCounts} from './plan.js'
import {TOC_NAME, tocText} from './toc.js'

/* tar create's planners: which objects go into which archive, and what one archive costs. Pure: the verb does every request. */

export type TarMode = 'auto' | 'copy' | 'memory'

/** An S3 object to archive. */
export interface ArchiveObject {
  bucket: string
  key: string
  /** Its member name. */
  name: string
  size: number
  etag?: string
  /** The member's time in whole seconds (src/base/times.ts): mtime metadata, else Last-Modified. */
  mtime: number
  /** It was read with a HEAD (counted in the plan). */
  headed?: boolean
}

/** What an object adds to an archive, at most: its padded data and two header blocks' worth of headers. */
const archivedSize = (size: number) => 2048 + Math.ceil(size / 512) * 512

/**
 * The objects, in order, cut into archives (--size-limit): consecutive groups that stay under
 * the limit; an object larger than it gets an archive of its own. No limit: one group.
 */
export function groupBySize<T extends {size: number}>(objects: T[], sizeLimit?: number): T[][] {
  const groups: T[][] = [[]]
  let groupBytes = 0
  for (const o of objects) {
    const cost = archivedSize(o.size)
    if (sizeLimit && groups[groups.length - 1].length > 0 && groupBytes + cost > sizeLimit) {
      groups.push([])
      groupBytes = 0
    }
    groups[groups.length - 1].push(o)
    groupBytes += cost
  }
  return groups
}

export interface ArchivePlanOptions {
  /** The archive: its bucket and key, and the multipart upload the jobs write ('dry-run' in a dry run). */
  bucket: string
  key: string
  uploadId: string
  /** Where its temporary objects go (cleanup finds them by it). */
  tempPrefix: string
  format: TarFormat
  mode: TarMode
  partSize: number
  /** A TOC (toc.csv) as the first member. */
  toc: boolean
  /** The time of the TOC member and the name of its staged object (ms). */
  now: number
}

/** One archive as planned: its layout, the objects to PUT before its jobs run, its jobs and what they cost. */
export interface ArchivePlan {
  layout: TarLayout
  /** --toc: the TOC's text, staged at `key` and copied into the archive like any member. */
  toc?: {key: string; text: string}
  /** The 5 MiB object of zeros the temporary objects copy their padding from, when one needs it. */
  padKey?: string
  jobs: ArchivePart[]
  /** Temporary objects complete-tar deletes (the staged TOC, the zero object). */
  tempKeys: string[]
  counts: RequestCounts
}

/** The TOC lists offsets that depend on its own size: laid out until they agree (a few rounds at most). */
function layoutWithToc(inputs: MemberInput[], objects: ArchiveObject[], format: TarFormat, mtime: number): {layout: TarLayout; text: string} {
  let text = ''
  let layout = layoutTar(inputs, format)
  for (let i = 0; i < 10; i++) {
    layout = layoutTar([{name: TOC_NAME, type: 'file', size: Buffer.byteLength(text), mode: 0o644, mtime}, ...inputs], format)
    const next = tocText(layout.members.slice(1).map((m, j) => ({...m, etag: objects[j].etag})))
    const agreed = Buffer.byteLength(next) === Buffer.byteLength(text)
    text = next
    if (agreed) break
  }
  return {layout, text}
}

/**
 * One archive of `objects`: the layout (TOC included), its jobs and request counts. Objects of
 * 5 MiB and more enter by UploadPartCopy in auto mode, every object in copy mode, none in
 * memory mode; the TOC is always built. Throws when S3 would need more than 10,000 parts.
 */
export function planTarArchive(objects: ArchiveObject[], opts: ArchivePlanOptions): ArchivePlan {
  const {bucket, key} = opts
  const inputs: MemberInput[] = objects.map(o => ({name: o.name, type: 'file', size: o.size, mode: 0o644, mtime: o.mtime,
    source: {bucket: o.bucket, key: o.key, etag: o.etag}}))
  let layout: TarLayout
  let toc: ArchivePlan['toc']
  if (opts.toc) {
    const laid = layoutWithToc(inputs, objects, opts.format, Math.floor(opts.now / 1000))
    layout = laid.layout
    toc = {key: `${key}.s3c-toc-${opts.now.toString(36)}`, text: laid.text}
    layout.members[0].source = {bucket, key: toc.key}
  } else {
    layout = layoutTar(inputs, opts.format)
  }
  const copy = (size: number) => opts.mode === 'copy' || (opts.mode === 'auto' && size >= MIN_PART)
  const padKey = `${opts.tempPrefix}pad`
  const {jobs, parts} = planArchive(layout, m => m.ordinal > 0 || !opts.toc ? copy(m.size) : false,
    {bucket, key, uploadId: opts.uploadId, format: opts.format, partSize: opts.partSize, tempPrefix: opts.tempPrefix, padKey})
  if (parts > MAX_PARTS) throw new S3cError(`${key} would need ${parts} parts (S3 allows ${MAX_PARTS}): split it with --size-limit`, ExitCode.usage)
  const counts = countRequests(jobs)
  counts.HeadObject = objects.filter(o => o.headed).length
  const tempKeys = toc ? [toc.key] : []
  if (toc) { counts.PutObject++; counts.temporaryObjects++ }
  // One 5 MiB object of zeros per archive, copied as the padding of its temporary objects.
  const needsPad = jobs.some(j => j.kind === 'tar-temp' && j.padKey && j.steps[0] && !('bytes' in j.steps[0]))
  if (needsPad) {
    counts.PutObject++
    counts.temporaryObjects++
    tempKeys.push(padKey)
  }
  counts.DeleteObjects += Math.ceil(tempKeys.length / 1000)
  return {layout, toc, padKey: needsPad ? padKey : undefined, jobs, tempKeys, counts}
}
