import {readFile} from 'node:fs/promises'
import {resolve} from 'node:path'
import {ExitCode, FatalError, S3cError, statusOf} from '../base/errors.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type TransferOptions} from '../run/session.js'
import {cleanupArchiveLeftovers, isTemporaryKey} from './cleanup.js'
import type {RunSummary} from '../run/stats.js'
import type {Work} from '../jobs/types.js'
import {INDEX_SUFFIX} from '../s3ci/format.js'
import type {TarFormat} from '../tar/header.js'
import type {RequestCounts} from '../tar/plan.js'
import {groupBySize, planTarArchive, type ArchiveObject, type TarMode} from '../tar/create-plan.js'
import {MIN_PART} from '../s3/limits.js'
import type {Headers, S3Store} from '../base/storage.js'
import {objectTime} from '../jobs/metadata.js'
import {parseCsv} from '../base/csv.js'
import {lastModifiedTime, wholeSeconds} from '../base/times.js'
import {folderPrefix, parseLocation, parseS3Url} from '../base/location.js'

export type {TarMode}

export interface TarCreateOptions extends TransferOptions {
  /** s3://bucket/key.tar of the archive. */
  archive: string
  /** s3://bucket/prefix of the objects, or undefined with a manifest. */
  source?: string
  manifest?: string
  mode: TarMode
  format: TarFormat
  toc: boolean
  sizeLimit?: number
  storageClass?: string
  /**
   * Members take each object's `mtime` metadata (rclone's and s3c's modification time), read
   * with one HEAD per object (default). False: Last-Modified from the listing, no HEADs. From a
   * manifest every object is HEADed anyway, so its metadata is always used.
   */
  mtimeMetadata?: boolean
  /** Told the plan's request counts per archive (dry run and --stats). */
  onCounts?: (archive: string, counts: RequestCounts, members: number, size: number) => void
}

async function readManifest(s3: S3Store, opts: TarCreateOptions): Promise<ArchiveObject[]> {
  const where = opts.manifest!
  let text: string
  if (parseLocation(where).type === 's3') {
    const {bucket, prefix: key} = parseS3Url(where)
    try {
      text = (await s3.get(bucket, key)).body.toString('utf8')
    } catch (error) {
      if (statusOf(error instanceof FatalError ? error.original : error) === 404) throw new S3cError(`manifest ${where} does not exist`, ExitCode.usage, 'NotFound')
      throw error
    }
  } else {
    text = await readFile(where, 'utf8').catch(() => {
      throw new S3cError(`cannot read manifest "${where}": give a local CSV file or an s3:// URL`, ExitCode.usage)
    })
  }
  const rows = parseCsv(text)
  const out: ArchiveObject[] = []
  rows.forEach((r, i) => {
    if (i === 0 && r.length >= 3 && !/^\d+$/.test(r[2].trim())) return // a header line
    if (r.length < 3 || !r[0] || !r[1] || !/^\d+$/.test(r[2].trim()))
      throw new S3cError(`manifest ${where} line ${i + 1}: expected bucket,key,size[,etag]`, ExitCode.usage)
    out.push({bucket: r[0].trim(), key: r[1], name: r[1], size: Number(r[2].trim()), etag: r[3]?.trim() || undefined, mtime: 0})
  })
  if (out.length === 0) throw new S3cError(`manifest ${where} lists no objects`, ExitCode.usage)
  // Every object must exist with the size the manifest gives: checked before anything is written.
  await headObjects(s3, out, opts.threadCount, (o, head) => {
    if (!head) throw new S3cError(`manifest ${where}: s3://${o.bucket}/${o.key} does not exist`, ExitCode.usage, 'NotFound')
    const size = Number(head['content-length'])
    if (size !== o.size) throw new S3cError(`manifest ${where}: s3://${o.bucket}/${o.key} is ${size} bytes, the manifest says ${o.size}`, ExitCode.usage)
    if (o.etag && head.etag && o.etag.replace(/"/g, '') !== head.etag.replace(/"/g, ''))
      throw new S3cError(`manifest ${where}: s3://${o.bucket}/${o.key} has ETag ${head.etag}, the manifest says ${o.etag}`, ExitCode.usage)
    o.etag = head.etag ?? o.etag
  })
  return out
}

/**
 * HEADs every object, `threads` at a time, and gives each its time by the time rule (its mtime
 * metadata, else Last-Modified); `check` sees each answer (undefined: the object is gone).
 */
async function headObjects(s3: S3Store, objects: ArchiveObject[], threads: number, check: (o: ArchiveObject, head: Headers | undefined) => void): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < objects.length) {
      const o = objects[next++]
      const head = await s3.head(o.bucket, o.key)
      check(o, head)
      if (head) o.mtime = wholeSeconds(objectTime(head).ns)
      o.headed = true
    }
  }
  await Promise.all(Array.from({length: Math.min(threads, objects.length)}, worker))
}

/** Where an archive's temporary objects live (cleanup finds leftovers by it). */
const tempPrefixOf = (key: string, uploadId: string) => `${key}.s3c-tmp-${uploadId.slice(0, 8).replace(/[^A-Za-z0-9]/g, '')}-`

/** archive.tar → archive.01.tar, … when --size-limit splits it. */
export function archiveKey(key: string, index: number, count: number): string {
  if (count === 1) return key
  const n = String(index + 1).padStart(Math.max(2, String(count).length), '0')
  return /\.tar$/i.test(key) ? key.replace(/\.tar$/i, `.${n}.tar`) : `${key}.${n}`
}

/**
 * `s3c tar create`: a tar of S3 objects, built in S3. Objects of 5 MiB and more enter by
 * UploadPartCopy (never downloaded); smaller ones are fetched into built parts (`--mode`).
 */
export async function tarCreate(opts: TarCreateOptions): Promise<RunSummary> {
  const {bucket, prefix: archiveKeyBase} = parseS3Url(opts.archive)
  if (!archiveKeyBase || archiveKeyBase.endsWith('/')) throw new S3cError(`-f ${opts.archive} names no object: give s3://bucket/path/archive.tar`, ExitCode.usage)
  const sourceLoc = opts.source ? parseS3Url(opts.source) : undefined
  // Absolute, so that s3c retry from another folder reads the same manifest.
  const manifest = opts.manifest && parseLocation(opts.manifest).type !== 's3' ? resolve(opts.manifest) : opts.manifest
  const run = await openRun(opts, `tar create ${opts.archive}`, {verb: 'tar-create', options: {...commonStoredOptions(opts), archive: opts.archive,
    source: opts.source, manifest, mode: opts.mode, format: opts.format, toc: opts.toc, sizeLimit: opts.sizeLimit, storageClass: opts.storageClass, mtimeMetadata: opts.mtimeMetadata}})
  const uploads: {key: string; uploadId: string}[] = []
  const temps: string[] = []
  const cleanup = async () => {
    const s3 = run.s3.withoutSignal()
    await Promise.all(uploads.map(u => s3.abortMultipart({bucket, ...u}).catch(() => undefined)))
    // Temporary objects of part jobs that finished are left for the parent, which will not run
    // now: find them by their prefix.
    const left = [...temps]
    for (const u of uploads) {
      try {
        for await (const o of s3.listObjects(bucket, tempPrefixOf(u.key, u.uploadId))) left.push(o.key)
      } catch { /* best effort */ }
    }
    await s3.deleteMany(bucket, [...new Set(left)]).catch(() => undefined)
  }

  /** The objects to archive: listed under the source (the archive and s3c's own objects left out), or read from the manifest. */
  async function sourceObjects(): Promise<ArchiveObject[]> {
    await run.s3.checkBucket(bucket, archiveKeyBase)
    if (!sourceLoc) return readManifest(run.s3, {...opts, manifest})
    const listPrefix = folderPrefix(sourceLoc.prefix)
    const objects: ArchiveObject[] = []
    for await (const o of run.s3.listObjects(sourceLoc.bucket, listPrefix)) {
      const name = o.key.slice(listPrefix.length)
      if (!name || name.endsWith('/')) continue
      if (sourceLoc.bucket === bucket && (o.key === archiveKeyBase || o.key.endsWith(INDEX_SUFFIX) || isTemporaryKey(o.key))) continue
      objects.push({bucket: sourceLoc.bucket, key: o.key, name, size: o.size, etag: o.etag, mtime: wholeSeconds(lastModifiedTime(o.lastModifiedMs).ns)})
    }
    if (objects.length === 0) throw new S3cError(`nothing to archive: no objects under ${opts.source}`, ExitCode.usage)
    return objects
  }

  // s3c retry: the failed archives only.
  const only = opts.only && new Set(opts.only)
  async function* plan(): AsyncGenerator<Work> {
    const groups = groupBySize(await sourceObjects(), opts.sizeLimit)
    for (const [gi, group] of groups.entries()) {
      const key = archiveKey(archiveKeyBase, gi, groups.length)
      if (only && !only.has(key)) continue
      // An object's time is its mtime metadata, which only a HEAD tells (the listing has Last-Modified
      // alone): asked for the archives being built only (s3c retry builds the failed ones). An
      // object deleted since the listing keeps Last-Modified here; its copy or GET fails the run later.
      if (sourceLoc && (opts.mtimeMetadata ?? true)) await headObjects(run.s3, group, opts.threadCount, () => undefined)
      // What an earlier try killed mid-way left for this very archive (uploads, staged TOC, temporary objects).
      if (!opts.dryRun) await cleanupArchiveLeftovers(run.s3, bucket, key)
      const uploadId = opts.dryRun ? 'dry-run' : await run.s3.createMultipart(bucket, key, {contentType: 'application/x-tar', storageClass: opts.storageClass})
      if (!opts.dryRun) uploads.push({key, uploadId})
      const archive = planTarArchive(group, {bucket, key, uploadId, tempPrefix: tempPrefixOf(key, uploadId), format: opts.format, mode: opts.mode,
        partSize: opts.partSize, toc: opts.toc, now: Date.now()})
      if (!opts.dryRun) {
        if (archive.toc) {
          await run.s3.put(bucket, archive.toc.key, Buffer.from(archive.toc.text), {headers: {'content-type': 'text/csv'}})
          temps.push(archive.toc.key)
        }
        if (archive.padKey) {
          await run.s3.put(bucket, archive.padKey, Buffer.alloc(MIN_PART), {headers: {'content-type': 'application/octet-stream'}})
          temps.push(archive.padKey)
        }
      }
      const {layout} = archive
      for (const m of layout.members) run.stats.seen(m.size)
      opts.onCounts?.(`s3://${bucket}/${key}`, archive.counts, layout.members.length, layout.size)
      if (opts.dryRun) continue
      yield {parent: {kind: 'complete-tar', bucket, key, uploadId, size: layout.size, memberCount: layout.members.length,
        source: opts.source ?? opts.manifest ?? '', tempKeys: archive.tempKeys}, children: archive.jobs}
    }
  }
  return runWalk(run, {bucket, prefix: ''}, plan, cleanup)
}

