import {existsSync} from 'node:fs'
import {lstat, unlink} from 'node:fs/promises'
import {resolve} from 'node:path'
import {ExitCode, S3cError, describeError, fatalToUserError} from '../base/errors.js'
import {keyFilter} from '../base/filter.js'
import {retryPolicy} from '../base/retry.js'
import {GiB} from '../base/units.js'
import {download} from '../verbs/download.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type TransferOptions} from '../run/session.js'
import {checkLocalFolder, upload} from '../verbs/upload.js'
import {RunStats, type RunSummary} from '../run/stats.js'
import type {CopySettings, DeleteObjectsJob, Work} from '../jobs/types.js'
import {fsPath} from '../local/fs-path.js'
import {isProblem, walkLocal} from '../local/walk.js'
import {S3Storage} from '../s3/storage.js'
import {folderPrefix, joinKey} from '../s3/url.js'
import {copyDefaults, copyWork, sideOf, type CopyItem} from './cp.js'
import {DELETE_BATCH, keyBacklog} from './rm.js'
import {compareKeys} from '../base/keys.js'

export interface SyncOptions extends Omit<TransferOptions, 'location'> {
  source: string
  destination: string
  /** Remove from the destination what the source does not have (only names the filters select). */
  delete?: boolean
  sizeOnly?: boolean
  exactTimestamps?: boolean
  /** S3→S3: what new objects get (the source's metadata is kept unless replaced). */
  settings?: CopySettings
  copyThreshold?: number
  copyPartSize?: number
  storageClass?: string
  followSymlinks?: boolean
}

/** The summary of a sync: the transfer's, and what --delete removed. */
export interface SyncSummary extends RunSummary {
  deleted: number
}

/**
 * The entries of `dest` whose name `source` does not have. Both streams come in key order, so
 * one pass over each, side by side, finds them: memory holds two names, not a set of either side.
 * Every name `dest` has and `source` lacks is yielded whatever the order; a server that lists in
 * another order (fauxqs sorts by locale: "Ü" before "w") can also make a name the source has
 * look absent, so each one is confirmed by `absent` (a stat or a HEAD) before it is yielded.
 */
export async function* onlyInDestination<T>(source: AsyncIterable<string>, dest: AsyncIterable<{rel: string; item: T}>,
  absent: (rel: string) => Promise<boolean>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]()
  let cur = await it.next()
  for await (const d of dest) {
    while (!cur.done && compareKeys(cur.value, d.rel) < 0) cur = await it.next()
    if ((cur.done || compareKeys(cur.value, d.rel) !== 0) && (await absent(d.rel))) yield d.item
  }
}

/**
 * `s3c sync SRC DST`: local→S3 and S3→local by the upload and download planners (same skip
 * rules), S3→S3 by server-side copies with the same rule; then, with --delete, what the
 * destination has and the source does not.
 */
export async function sync(opts: SyncOptions): Promise<SyncSummary> {
  const src = sideOf(opts.source)
  const dst = sideOf(opts.destination)
  if (!src.s3 && !dst.s3) throw new S3cError(`sync needs an s3:// URL on at least one side ("${opts.source}" and "${opts.destination}" are both local): use rsync for local folders`, ExitCode.usage)
  if (opts.delete && opts.detach && dst.s3)
    throw new S3cError('sync --delete --detach: the delete pass is a second run that follows the copies; run it without --detach (or s3c rm the extra keys)', ExitCode.usage)
  let summary: RunSummary
  const filter = {include: opts.include, exclude: opts.exclude}
  if (!src.s3 && dst.s3) {
    const root = await checkLocalFolder(src.path)
    const location = {bucket: dst.bucket, prefix: dst.key}
    summary = await upload({...opts, location, localFolder: root, storageClass: opts.storageClass ?? opts.settings?.storageClass, followSymlinks: opts.followSymlinks, settings: opts.settings})
    return withDeletes(opts, summary)
  }
  if (src.s3 && !dst.s3) {
    const srcBucket = src.bucket
    const location = {bucket: src.bucket, prefix: src.key}
    summary = await download({...opts, location, localFolder: dst.path})
    if (!opts.delete) return {...summary, deleted: 0}
    const root = resolve(dst.path)
    return {...summary, deleted: await withS3(opts, async s3 => {
      const base = folderPrefix(src.key)
      async function* sourceNames() {
        for await (const o of s3.listObjects(srcBucket, base)) yield o.key.slice(base.length)
      }
      async function* localFiles() {
        const selected = keyFilter(filter)
        // Nothing downloaded (an empty source): the folder may not exist, and holds nothing to delete.
        if (!existsSync(fsPath(root))) return
        for await (const e of walkLocal(root, filter)) {
          if (!isProblem(e) && e.type === 'file' && selected(e.rel)) yield {rel: e.rel, item: e.path}
        }
      }
      let deleted = 0
      const absent = async (rel: string) => !(await s3.head(srcBucket, base + rel))
      for await (const path of onlyInDestination<string>(sourceNames(), localFiles(), absent)) {
        if (opts.dryRun) opts.onPlan?.(`delete ${path}`)
        else {
          try {
            await unlink(fsPath(path))
          } catch (error) {
            if ((error as {code?: string}).code !== 'ENOENT') {
              recordFailure(opts.stats, summary, {key: path, path, error: `could not delete (${describeError(error)})`})
              continue
            }
          }
        }
        deleted++
      }
      return deleted
    })}
  }
  if (src.s3 && dst.s3) return syncS3(opts, src, dst)
  throw new Error('unreachable')
}

function recordFailure(_stats: RunStats | undefined, summary: RunSummary, f: {key: string; path: string; error: string}): void {
  summary.failures.push(f)
  summary.filesFailed++
}

/** A connection for the --delete pass (the run's closed with the run). */
async function withS3<T>(opts: SyncOptions, fn: (s3: S3Storage) => Promise<T>): Promise<T> {
  const s3 = await S3Storage.open(opts.s3, retryPolicy(opts.maxRetry), opts.signal, opts.threadCount)
  try {
    return await fn(s3)
  } catch (error) {
    throw fatalToUserError(error, {endpoint: s3.endpointLabel})
  } finally {
    await s3.close()
  }
}

/** The destination's objects under `base` that the filters select, by name relative to it (folder markers left alone). */
async function* destObjects(s3: S3Storage, bucket: string, base: string, filter: {include?: string[]; exclude?: string[]}): AsyncGenerator<{rel: string; item: string}> {
  const selected = keyFilter(filter)
  for await (const o of s3.listObjects(bucket, base)) {
    const rel = o.key.slice(base.length)
    if (rel !== '' && !rel.endsWith('/') && selected(rel)) yield {rel, item: o.key}
  }
}

/** S3→S3: the source's objects copied server-side where the destination lacks them or holds another version (size, then the time rule in the job). */
async function syncS3(opts: SyncOptions, src: {bucket: string; key: string; url: string}, dst: {bucket: string; key: string; url: string}): Promise<SyncSummary> {
  const srcBase = folderPrefix(src.key)
  const dstBase = folderPrefix(dst.key)
  if (src.bucket === dst.bucket && (dstBase.startsWith(srcBase) || srcBase.startsWith(dstBase)))
    throw new S3cError(`sync ${src.url} ${dst.url}: one lies inside the other; give folders apart`, ExitCode.usage)
  const filter = {include: opts.include, exclude: opts.exclude}
  const selected = keyFilter(filter)
  const settings = opts.settings ?? {}
  const copyThreshold = Math.min(opts.copyThreshold ?? copyDefaults.copyThreshold, 5 * GiB)
  const copyPartSize = opts.copyPartSize ?? copyDefaults.copyPartSize
  const location = {bucket: src.bucket, prefix: srcBase}
  const run = await openRun({...opts, location}, `sync ${src.url} ${dst.url}`, {verb: 'copy', options: {
    ...commonStoredOptions({...opts, location}), source: src.url, destination: dst.url.endsWith('/') ? dst.url : `${dst.url}/`, settings, flatten: false,
    copyThreshold, copyPartSize, label: 'sync',
  }})
  const multiparts: {key: string; uploadId: string}[] = []
  const cleanup = async () => {
    await Promise.all(multiparts.map(m => run.s3.abortMultipart({bucket: dst.bucket, ...m}).catch(() => undefined)))
  }
  const only = opts.only && new Set(opts.only)

  async function* plan(): AsyncGenerator<Work> {
    await run.s3.checkBucket(src.bucket, srcBase)
    if (dst.bucket !== src.bucket) await run.s3.checkBucket(dst.bucket, dstBase)
    const dest = run.s3.listObjects(dst.bucket, dstBase)[Symbol.asyncIterator]()
    let d = await dest.next()
    for await (const o of run.s3.listObjects(src.bucket, srcBase)) {
      const rel = o.key.slice(srcBase.length)
      if (rel === '' || rel.endsWith('/') || !selected(rel)) continue
      const key = joinKey(dstBase, rel)
      if (only && !only.has(key)) continue
      while (!d.done && compareKeys(d.value.key, key) < 0) d = await dest.next()
      const there = !d.done && d.value.key === key ? d.value : undefined
      run.stats.seen(o.size)
      const item: CopyItem = {srcKey: o.key, key, size: o.size, etag: o.etag}
      if (there && there.size === o.size && !opts.force) {
        // Same size: the same content (ETag), --size-only, or the time rule decides.
        if (opts.sizeOnly || (o.etag && o.etag === there.etag)) {
          run.stats.record({key, path: `s3://${src.bucket}/${o.key}`, bytes: o.size, status: 'skipped'})
          continue
        }
        item.compare = true
      }
      if (opts.dryRun) {
        opts.onPlan?.(`${item.compare ? 'check' : 'copy'} s3://${src.bucket}/${o.key} -> s3://${dst.bucket}/${key} (${o.size} bytes)`)
        continue
      }
      const work = await copyWork(run, {srcBucket: src.bucket, bucket: dst.bucket, item, settings, exactTimestamps: opts.exactTimestamps,
        copyThreshold, copyPartSize, multiparts})
      if (work) yield work
    }
  }
  return withDeletes(opts, await runWalk(run, location, plan, cleanup))
}

/** The copies' summary, then (with --delete) the delete pass's run: its failures join the copies', what it removed is `deleted`. */
async function withDeletes(opts: SyncOptions, summary: RunSummary): Promise<SyncSummary> {
  if (!opts.delete) return {...summary, deleted: 0}
  // The delete pass is a run of its own (its counts are not the copies'); with --run-id it is that id plus "-delete".
  const {deleted, run} = await syncDelete({...opts, stats: new RunStats(), runId: opts.runId === undefined ? undefined : `${opts.runId}-delete`})
  return {...summary, filesFailed: summary.filesFailed + run.filesFailed, failures: [...summary.failures, ...run.failures], deleted}
}

/** sync --delete's pass alone (also what `s3c retry` of that run calls). */
export interface SyncDeleteOptions extends Omit<TransferOptions, 'location'> {
  source: string
  destination: string
  followSymlinks?: boolean
}

/**
 * sync --delete to S3 (local→S3, S3→S3): what the destination has and the source does not,
 * only names the filters select, found by one pass over both sides in key order
 * (onlyInDestination), deleted by delete-objects jobs of 1,000 keys in a run of its own:
 * in-process, or with --redis on `s3c worker` processes; `only` (a retry) keeps the keys that
 * failed. A dry run names them (`delete s3://…`) and opens no run.
 */
export async function syncDelete(opts: SyncDeleteOptions): Promise<{deleted: number; run: RunSummary}> {
  const src = sideOf(opts.source)
  const dst = sideOf(opts.destination)
  if (!dst.s3) throw new S3cError(`sync --delete to S3 needs an s3:// destination, got "${opts.destination}"`, ExitCode.usage)
  const bucket = dst.bucket
  const filter = {include: opts.include, exclude: opts.exclude}
  const dstBase = folderPrefix(dst.key)
  const only = opts.only && new Set(opts.only)
  // A source folder that is gone must not read as "the source has nothing": checked, and stored absolute for a retry.
  const root = src.s3 ? undefined : await checkLocalFolder(src.path)
  /** The keys to delete, on a connection. */
  async function* extraKeys(s3: S3Storage): AsyncGenerator<string> {
    let keys: AsyncIterable<string>
    // A folder that could not be read: what it holds is unknown, so nothing under it is deleted.
    const unread: string[] = []
    if (root !== undefined) {
      const folder = root
      async function* sourceNames() {
        for await (const e of walkLocal(folder, {...filter, followSymlinks: opts.followSymlinks})) {
          if (isProblem(e) && e.dir && e.type === 'failed') unread.push(`${dstBase}${e.rel}/`)
          yield e.rel
        }
      }
      const absent = async (rel: string) => !(await lstat(fsPath(`${folder}/${rel}`)).catch(() => undefined))
      keys = onlyInDestination(sourceNames(), destObjects(s3, bucket, dstBase, filter), absent)
    } else if (src.s3) {
      const srcBase = folderPrefix(src.key)
      const srcBucket = src.bucket
      async function* sourceNames() {
        for await (const o of s3.listObjects(srcBucket, srcBase)) yield o.key.slice(srcBase.length)
      }
      const absent = async (rel: string) => !(await s3.head(srcBucket, srcBase + rel))
      keys = onlyInDestination(sourceNames(), destObjects(s3, bucket, dstBase, filter), absent)
    } else throw new Error('unreachable')
    for await (const key of keys) {
      if (unread.some(p => key.startsWith(p)) || (only && !only.has(key))) continue
      yield key
    }
  }
  if (opts.dryRun) {
    return withS3({...opts, signal: opts.signal}, async s3 => {
      let deleted = 0
      for await (const key of extraKeys(s3)) {
        opts.onPlan?.(`delete s3://${bucket}/${key}`)
        deleted++
      }
      return {deleted, run: summarizeNothing()}
    })
  }
  const location = {bucket, prefix: dstBase}
  const run = await openRun({...opts, location}, `sync --delete ${opts.source} ${opts.destination}`, {verb: 'sync-delete', options: {
    ...commonStoredOptions({...opts, location}), source: root ?? opts.source, destination: opts.destination, followSymlinks: opts.followSymlinks,
  }})
  const backlog = keyBacklog(run, opts.threadCount)
  async function* plan(): AsyncGenerator<DeleteObjectsJob> {
    let keys: string[] = []
    for await (const key of extraKeys(run.s3)) {
      run.stats.seen(0)
      keys.push(key)
      if (keys.length === DELETE_BATCH) {
        yield {kind: 'delete-objects', bucket, keys}
        keys = []
        await backlog.room()
      }
    }
    if (keys.length) yield {kind: 'delete-objects', bucket, keys}
  }
  const summary = await runWalk(run, location, plan)
  return {deleted: summary.filesDone, run: summary}
}

function summarizeNothing(): RunSummary {
  return {filesDone: 0, filesSkipped: 0, filesFailed: 0, bytes: 0, seconds: 0, failures: [], skippedBy: {}, skips: []}
}
