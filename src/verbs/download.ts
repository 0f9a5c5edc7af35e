import {lstatSync} from 'node:fs'
import {stat, unlink} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import {ExitCode, S3cError} from '../base/errors.js'
import {partSizeFor} from '../s3/limits.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type TransferOptions} from '../run/session.js'
import type {RunSummary} from '../run/stats.js'
import {localCheck} from '../jobs/compare.js'
import {sha256File} from '../jobs/download.js'
import {failed} from '../jobs/types.js'
import {createTempFile, ensureSafeDir, localPathFor, usableTarget} from '../local/safe-path.js'
import type {CompareMode, DownloadRangeJob, Work} from '../jobs/types.js'
import {folderPrefix} from '../base/location.js'
import {activeConditions} from '../base/plans.js'
import type {StorageEntry} from '../base/storage.js'
import {treeAt} from '../storage/open.js'
import {fsPath} from '../local/fs-path.js'
import {carriedEntry, skippedByFlags, syncedEntry} from '../state/decide.js'
import {planDownload, transferHints, type DownloadPlanOptions} from '../state/plan.js'
import type {SyncSession} from '../state/session.js'
import {localStatOf, type LocalStat, type StateEntry} from '../state/state.js'
import {openSyncSession, stateKeyTest} from './sync-session.js'

export interface DownloadOptions extends TransferOptions {
  localFolder: string
}

async function checkTarget(folder: string): Promise<string> {
  const abs = resolve(folder)
  const st = await stat(fsPath(abs)).catch(() => undefined)
  if (st && !st.isDirectory()) throw new S3cError(`download target "${folder}" is a file: give a folder (it is created if missing)`, ExitCode.usage)
  return abs
}

/**
 * Where one object goes (aws s3 cp's rule): into DEST when DEST is an existing folder or ends
 * with '/', else to DEST itself.
 */
async function singleTarget(dest: string, key: string): Promise<string | undefined> {
  const abs = resolve(dest)
  const intoFolder = /[/\\]$/.test(dest) || (await stat(fsPath(abs)).catch(() => undefined))?.isDirectory()
  return intoFolder ? localPathFor(abs, key.slice(key.lastIndexOf('/') + 1)) : abs
}

export {localPathFor}

/**
 * `s3c download`: list the prefix once and fetch every object that changed. A prefix with
 * nothing under it that is itself an object's key downloads that one object.
 */
export async function download(opts: DownloadOptions): Promise<RunSummary> {
  const {bucket, prefix} = opts.location
  // A key cannot end with '/' and be a single object: such a target is checked before anything is sent.
  const mayBeObject = prefix !== '' && !prefix.endsWith('/')
  const root = mayBeObject ? resolve(opts.localFolder) : await checkTarget(opts.localFolder)
  const listPrefix = folderPrefix(prefix)
  const run = await openRun(opts, `download s3://${bucket}/${prefix} ${root}`,
    {verb: 'download', options: {...commonStoredOptions(opts), localFolder: root}})
  if (opts.dryRun) run.stats.planning = true
  let single: {object: StorageEntry; path: string | undefined} | undefined
  // The folder every write is checked against: the target, or the one object's folder.
  let writeRoot = root
  const compareMode: CompareMode = opts.checksum ? 'checksum' : 'mtime'
  // Temporary files of large objects: removed if the run stops early (finished ones were renamed away).
  const tmpPaths: string[] = []
  let sync: SyncSession | undefined
  const cleanup = async () => {
    await sync?.abort()
    await Promise.all(tmpPaths.map(p => unlink(fsPath(p)).catch(() => undefined)))
  }
  // cp of a wildcard: one that matches nothing is refused, as ls and rm refuse it.
  const noMatch = opts.pattern !== undefined && !opts.only
    ? () => new S3cError(`no object matches s3://${bucket}/${listPrefix}${opts.pattern}: check the wildcard`, ExitCode.usage) : undefined
  const conditions = activeConditions(opts.conditions)
  const planOptions: DownloadPlanOptions = {
    root, force: opts.force, checksum: opts.checksum, sizeOnly: opts.sizeOnly, conditions,
    include: opts.include, exclude: opts.exclude, pattern: opts.pattern, flatten: opts.flatten, only: opts.only && new Set(opts.only),
    // --state-url in the data's bucket: its states are s3c's, not the data.
    isState: stateKeyTest(opts, bucket), noMatch,
  }

  async function* plan(): AsyncGenerator<Work> {
    const {empty} = await run.s3.checkBucket(bucket, listPrefix)
    if (empty && mayBeObject) {
      const h = await run.s3.head(bucket, prefix)
      if (h) {
        single = {
          object: {key: prefix, size: Number(h['content-length'] ?? 0), etag: h.etag,
            lastModifiedMs: h['last-modified'] ? Date.parse(h['last-modified']) : Date.now()},
          path: await singleTarget(opts.localFolder, prefix),
        }
      }
    }
    if (mayBeObject && !single) await checkTarget(opts.localFolder)
    if (empty && !single && noMatch) throw noMatch()
    if (empty && !single) {
      // Nothing to do, said in one line; no folder is made.
      opts.onNotice?.(`nothing under s3://${bucket}/${listPrefix}`)
      return
    }
    if (single?.path) writeRoot = dirname(single.path)
    // Folders this run makes hold nothing yet: no lstat for the files planned into them.
    const made = new Set<string>()
    if (!opts.dryRun) usableTarget(writeRoot, single ? writeRoot : opts.localFolder, made)
    // One object: its HEAD is all a check costs, no state.
    if (!single) sync = await openSyncSession(run, opts, {direction: 'download', bucket, prefix: listPrefix, local: root}, !opts.force)
    const names = single ? [{rel: single.object.key.slice(single.object.key.lastIndexOf('/') + 1), entry: single.object}]
      : treeAt({type: 's3', bucket, key: listPrefix}, run.s3).names(planOptions)
    const localAt = (path: string): LocalStat | undefined => {
      const dir = dirname(path)
      // A dry run's folder that does not exist holds nothing: what ensureSafeDir would say at once (a key costs no check).
      if (opts.dryRun && made.has(dir)) return undefined
      // Folders are checked (and made) here too, so a symlink or a file in the way fails the
      // files under it at once, with a line each, and the rest of the run goes on.
      ensureSafeDir(writeRoot, dir, {create: !opts.dryRun, made})
      if ((opts.force && !conditions) || made.has(dir)) return undefined
      // Synchronous on purpose: the walk is one loop, and an async stat per key would pace it.
      // lstat: a symlink at the file's place is replaced, never compared or followed.
      const st = lstatSync(fsPath(path), {throwIfNoEntry: false, bigint: true})
      return st?.isFile() ? localStatOf(st) : undefined
    }
    const decisions = planDownload({
      remote: {names}, state: sync?.stateInput(), localAt,
      fallback: error => {
        opts.onNotice?.(`${error.message}; comparing by size and HEAD checks for the rest of this run`)
        sync?.stopWriting('the listing could not be merged with it')
      },
    }, {...planOptions, single: single && {path: single.path}})
    for await (const p of decisions) {
      run.stats.seen(p.kind === 'problem' ? p.bytes : p.entry.size)
      if (p.kind === 'problem') {
        const {key, path, bytes} = p
        run.stats.record(p.error !== undefined ? failed({key, path, size: bytes}, p.error)
          : {key, path, bytes, status: p.status, ...(p.status === 'skipped' ? {reason: p.reason} : {error: p.reason})})
        continue
      }
      const {entry: o, path, local, remote, state, decision: d} = p
      if (skippedByFlags(d)) {
        run.stats.record({key: o.key, path, bytes: o.size, status: 'skipped', ...(d.reason === 'exists' ? {reason: 'exists'} : {})})
        continue
      }
      if (opts.dryRun) {
        // Only what would change is named; an unchanged file is counted, as a run counts it.
        if (d.action === 'skip') run.stats.record({key: o.key, path, bytes: o.size, status: 'skipped'})
        else {
          const action = d.action === 'transfer' ? 'download' : d.action
          run.stats.plan(action, o.size)
          opts.onPlan?.(`${action} s3://${bucket}/${o.key} -> ${path} (${o.size} bytes)`)
        }
        continue
      }
      const skip = async (entry: StateEntry | undefined) => {
        run.stats.record({key: o.key, path, bytes: o.size, status: 'skipped'})
        await sync?.record(o.key, entry)
      }
      // Unchanged by the state: no request at all.
      if (d.action === 'skip') {
        await skip(local && state && remote && carriedEntry(o.key, remote, state, local))
        continue
      }
      const {compare, expectSha256} = transferHints(d, compareMode)
      if (o.size >= opts.multipartThreshold) {
        // Decided here, so a large unchanged file never starts ranged GETs.
        if (compare) {
          const check = await localCheck(run.s3, bucket, {key: o.key, path, lastModifiedMs: o.lastModifiedMs}, compare)
          if (check.same) {
            const after = check.state?.local
            await skip(after && check.state?.etag ? syncedEntry(o.key, {size: o.size, ...check.state}, after) : undefined)
            continue
          }
        }
        if (expectSha256 && local && (await sha256File(path)) === expectSha256) {
          await skip(state && remote && carriedEntry(o.key, remote, state, local))
          continue
        }
        // The temp file exists at its final size so range jobs can write into it in any order.
        let tmpPath: string
        try {
          tmpPath = await createTempFile(writeRoot, path, o.size)
        } catch (error) {
          run.stats.record(failed({key: o.key, path, size: o.size}, error))
          continue
        }
        tmpPaths.push(tmpPath)
        const partSize = partSizeFor(o.size, opts.partSize)
        const children: DownloadRangeJob[] = []
        for (let offset = 0; offset < o.size; offset += partSize) {
          children.push({kind: 'download-range', source: {bucket, key: o.key, etag: o.etag}, root: writeRoot, tmpPath, offset, length: Math.min(partSize, o.size - offset)})
        }
        await sync?.expect(o.key, {size: o.size, local, remote, state})
        yield {parent: {kind: 'finish-download', bucket, key: o.key, root: writeRoot, tmpPath, path, size: o.size, lastModifiedMs: o.lastModifiedMs, etag: o.etag,
          verify: opts.checksum, removeSource: opts.removeSource}, children}
      } else {
        await sync?.expect(o.key, {size: o.size, local, remote, state})
        yield {kind: 'download-files', bucket, root: writeRoot, removeSource: opts.removeSource, files: [{key: o.key, path, size: o.size, lastModifiedMs: o.lastModifiedMs, etag: o.etag, compare, expectSha256}]}
      }
    }
  }
  return runWalk(run, opts.location, plan, cleanup, async () => { await sync?.finish() })
}
