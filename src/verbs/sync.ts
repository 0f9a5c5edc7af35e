import {unlink} from 'node:fs/promises'
import {ExitCode, S3cError, describeError} from '../base/errors.js'
import {GiB} from '../base/units.js'
import {download} from '../verbs/download.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type TransferOptions} from '../run/session.js'
import {checkLocalFolder, upload} from '../verbs/upload.js'
import {RunStats, type RunSummary} from '../run/stats.js'
import type {CopySettings, DeleteObjectsJob, Work} from '../jobs/types.js'
import {fsPath} from '../local/fs-path.js'
import type {S3Store} from '../base/storage.js'
import {onlyInDestination, planTreeCopy} from '../base/plans.js'
import {treeAt, withS3} from '../storage/open.js'
import {folderPrefix, overlapError, parseLocation, STDIO_INSTEAD, type Location, type LocalPath, type S3Url} from '../base/location.js'
import {copyDefaults, copyWork, type CopyItem} from './cp.js'
import {holdsCopy} from '../jobs/copy.js'
import {DELETE_BATCH, keyBacklog} from './rm.js'
import {stateKeyTest} from './sync-session.js'

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

/** A side of a sync: a folder or a prefix (a wildcard or `-` is refused in one line). */
function syncSide(arg: string, verb: string): S3Url | LocalPath {
  const loc: Location = parseLocation(arg)
  if (loc.type === 'stdio') throw new S3cError(`${verb} needs a folder or an s3:// prefix, not "-": ${STDIO_INSTEAD}`, ExitCode.usage)
  // A wildcard taken as a literal prefix lists nothing: sync would copy nothing, exit 0.
  if ((loc.type === 's3' && loc.kind === 'wildcard') || (loc.type === 'local' && loc.wildcard))
    throw new S3cError(`${verb} takes folders, not a wildcard ("${arg}"): give the folder and select names with --include '…'`, ExitCode.usage)
  return loc
}

/**
 * `s3c sync SRC DST`: local→S3 and S3→local by the upload and download planners (same skip
 * rules), S3→S3 by server-side copies with the same rule; then, with --delete, what the
 * destination has and the source does not.
 */
export async function sync(opts: SyncOptions): Promise<SyncSummary> {
  const src = syncSide(opts.source, 'sync')
  const dst = syncSide(opts.destination, 'sync')
  if (src.type === 'local' && dst.type === 'local') throw new S3cError(`sync needs an s3:// URL on at least one side ("${opts.source}" and "${opts.destination}" are both local): use rsync for local folders`, ExitCode.usage)
  if (opts.delete && opts.detach && dst.type === 's3')
    throw new S3cError('sync --delete --detach: the delete pass is a second run that follows the copies; run it without --detach (or s3c rm the extra keys)', ExitCode.usage)
  let summary: RunSummary
  const filter = {include: opts.include, exclude: opts.exclude}
  if (src.type === 'local' && dst.type === 's3') {
    const root = await checkLocalFolder(src.path)
    const location = {bucket: dst.bucket, prefix: dst.key}
    summary = await upload({...opts, location, localFolder: root, storageClass: opts.storageClass ?? opts.settings?.storageClass, followSymlinks: opts.followSymlinks, settings: opts.settings})
    return withDeletes(opts, summary)
  }
  if (src.type === 's3' && dst.type === 'local') {
    summary = await download({...opts, location: {bucket: src.bucket, prefix: src.key}, localFolder: dst.path})
    return withDeletes(opts, summary)
  }
  if (src.type === 's3' && dst.type === 's3') return syncS3(opts, src, dst)
  throw new Error('unreachable')
}

/** A connection for the --delete pass (the run's closed with the run). */
/** The connection of sync --delete's pass: the run's retries, signal and listing concurrency. */
const connectionOf = (opts: SyncDeleteOptions) => ({s3: opts.s3, maxRetry: opts.maxRetry, signal: opts.signal, listConcurrency: opts.threadCount, lent: opts.lent})

/** S3→S3: the source's objects copied server-side where the destination lacks them or holds another version (size, then the time rule in the job). */
async function syncS3(opts: SyncOptions, src: S3Url, dst: S3Url): Promise<SyncSummary> {
  const srcBase = folderPrefix(src.key)
  const dstBase = folderPrefix(dst.key)
  const overlap = overlapError('sync', {bucket: src.bucket, base: srcBase, url: src.url}, {bucket: dst.bucket, base: dstBase, url: dst.url}, opts.exclude)
  if (overlap) throw overlap
  const filter = {include: opts.include, exclude: opts.exclude}
  const settings = opts.settings ?? {}
  const copyThreshold = Math.min(opts.copyThreshold ?? copyDefaults.copyThreshold, 5 * GiB)
  const copyPartSize = opts.copyPartSize ?? copyDefaults.copyPartSize
  const location = {bucket: src.bucket, prefix: srcBase}
  const run = await openRun({...opts, location}, `sync ${src.url} ${dst.url}`, {verb: 'copy', options: {
    ...commonStoredOptions({...opts, location}), source: src.url, destination: dst.url.endsWith('/') ? dst.url : `${dst.url}/`, settings, flatten: false,
    copyThreshold, copyPartSize, label: 'sync',
  }})
  if (opts.dryRun) run.stats.planning = true
  const multiparts: {key: string; uploadId: string}[] = []
  const cleanup = async () => {
    await Promise.all(multiparts.map(m => run.s3.abortMultipart({bucket: dst.bucket, ...m}).catch(() => undefined)))
  }
  const only = opts.only && new Set(opts.only)

  async function* plan(): AsyncGenerator<Work> {
    await run.s3.checkBucket(src.bucket, srcBase)
    if (dst.bucket !== src.bucket) await run.s3.checkBucket(dst.bucket, dstBase)
    const dest = treeAt(dst, run.s3)
    for await (const d of planTreeCopy(treeAt(src, run.s3), dest, {filter, force: opts.force, sizeOnly: opts.sizeOnly})) {
      const o = d.entry
      const key = dest.locate(d.rel)
      if (only && !only.has(key)) continue
      run.stats.seen(o.size)
      if (d.action === 'skip') {
        run.stats.record({key, path: `s3://${src.bucket}/${o.key}`, bytes: o.size, status: 'skipped', ...(d.reason === 'unchanged' ? {} : {reason: d.reason})})
        continue
      }
      const item: CopyItem = {srcKey: o.key, key, size: o.size, etag: o.etag, compare: d.action === 'check' || undefined}
      if (opts.dryRun) {
        // A check decided as the run decides it (two HEADs: reads only): after a sync, an object
        // copied in parts (its ETag another) is unchanged, not a line; else it would be copied.
        if (item.compare && await holdsCopy(run.s3, {bucket: src.bucket, key: o.key}, {bucket: dst.bucket, key}, opts.exactTimestamps === true)) {
          run.stats.record({key, path: `s3://${src.bucket}/${o.key}`, bytes: o.size, status: 'skipped'})
          continue
        }
        run.stats.plan('copy', o.size)
        opts.onPlan?.(`copy s3://${src.bucket}/${o.key} -> s3://${dst.bucket}/${key} (${o.size} bytes)`)
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
  const planned = opts.dryRun && deleted > 0 ? {planned: {...summary.planned, delete: deleted}, plannedBytes: summary.plannedBytes ?? 0} : {}
  return {...summary, ...planned, filesFailed: summary.filesFailed + run.filesFailed, failures: [...summary.failures, ...run.failures], deleted}
}

/** sync --delete's pass alone (also what `s3c retry` of that run calls). */
export interface SyncDeleteOptions extends Omit<TransferOptions, 'location'> {
  source: string
  destination: string
  followSymlinks?: boolean
}

/**
 * sync --delete's pass, every direction: what the destination has and the source does not
 * (onlyInDestination, src/base/storage.ts: one merge of the two trees, only names the filters
 * select). To S3 the keys go by delete-objects jobs of 1,000 keys in a run of its own
 * (in-process, or with --redis on `s3c worker` processes; `only`, a retry, keeps the keys that
 * failed); to a local folder the files are unlinked here. A dry run names them (`delete …`) and
 * opens no run.
 */
export async function syncDelete(opts: SyncDeleteOptions): Promise<{deleted: number; run: RunSummary}> {
  const src = syncSide(opts.source, 'sync --delete')
  const dst = syncSide(opts.destination, 'sync --delete')
  const filter = {include: opts.include, exclude: opts.exclude}
  const only = opts.only && new Set(opts.only)
  // A source folder that is gone must not read as "the source has nothing": checked, and stored absolute for a retry.
  const root = src.type === 'local' ? await checkLocalFolder(src.path) : undefined
  const source: S3Url | LocalPath = src.type === 'local' ? {...src, path: root!} : src
  /** What to delete, by its key or path, on a connection. */
  async function* extra(s3: S3Store): AsyncGenerator<string> {
    const dest = treeAt(dst, s3)
    const from = treeAt(source, s3, {followSymlinks: opts.followSymlinks})
    // An S3 prefix that lists nothing is taken for a mistake, as rclone takes a missing source (a
    // missing local folder is refused above; an empty one is a source that holds nothing).
    const emptySource = source.type === 's3'
      ? () => new S3cError(`sync --delete: ${from.label} lists nothing, so every file of ${dest.label} would be deleted: check the source (s3c ls ${from.label}); nothing was deleted`, ExitCode.usage)
      : undefined
    // --state-url inside the destination: its states are s3c's, not extra files.
    const isState = dst.type === 's3' ? stateKeyTest(opts, dst.bucket) : undefined
    for await (const {rel} of onlyInDestination(from, dest, filter, {emptySource})) {
      const name = dest.locate(rel)
      if ((!only || only.has(name)) && !isState?.(name)) yield name
    }
  }
  if (dst.type === 'local') return withS3(connectionOf(opts), s3 => deleteLocal(opts, extra(s3)), {userErrors: true})
  const bucket = dst.bucket
  if (opts.dryRun) {
    return withS3(connectionOf(opts), async s3 => {
      let deleted = 0
      for await (const key of extra(s3)) {
        opts.onPlan?.(`delete s3://${bucket}/${key}`)
        deleted++
      }
      return {deleted, run: summarizeNothing()}
    })
  }
  const location = {bucket, prefix: folderPrefix(dst.key)}
  const run = await openRun({...opts, location}, `sync --delete ${opts.source} ${opts.destination}`, {verb: 'sync-delete', options: {
    ...commonStoredOptions({...opts, location}), source: root ?? opts.source, destination: opts.destination, followSymlinks: opts.followSymlinks,
  }})
  const backlog = keyBacklog(run, opts.threadCount)
  async function* plan(): AsyncGenerator<DeleteObjectsJob> {
    let keys: string[] = []
    for await (const key of extra(run.s3)) {
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

/** sync --delete into a local folder: each file unlinked (one already gone counts as deleted), a failure recorded by path. */
async function deleteLocal(opts: SyncDeleteOptions, paths: AsyncIterable<string>): Promise<{deleted: number; run: RunSummary}> {
  const run = summarizeNothing()
  let deleted = 0
  for await (const path of paths) {
    if (opts.dryRun) opts.onPlan?.(`delete ${path}`)
    else {
      try {
        await unlink(fsPath(path))
      } catch (error) {
        if ((error as {code?: string}).code !== 'ENOENT') {
          run.failures.push({key: path, path, error: `could not delete (${describeError(error)})`})
          run.filesFailed++
          continue
        }
      }
    }
    deleted++
  }
  return {deleted, run}
}

function summarizeNothing(): RunSummary {
  return {filesDone: 0, filesSkipped: 0, filesFailed: 0, bytes: 0, seconds: 0, failures: [], skippedBy: {}, skips: []}
}
