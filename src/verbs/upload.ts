import {stat} from 'node:fs/promises'
import {basename, join, resolve} from 'node:path'
import {ExitCode, S3cError} from '../base/errors.js'
import {contentTypeOf} from '../base/content-type.js'
import {partSizeFor} from '../s3/limits.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type RunContext, type TransferOptions} from '../run/session.js'
import {isProblem, walkLocal, type LocalEntry, type LocalProblem} from '../local/walk.js'
import {keyFilter} from '../base/filter.js'
import type {RunSummary} from '../run/stats.js'
import {fileDigests, remoteCheck} from '../jobs/compare.js'
import {META_MD5, META_MTIME, META_SHA256, formatMtime} from '../jobs/metadata.js'
import type {CompareMode, CopySettings, Flow, UploadPartJob, Work} from '../jobs/types.js'
import {folderPrefix, joinKey} from '../base/location.js'
import {hasConvertedBytes} from '../local/fs-path.js'
import {activeConditions, atLeastOne} from '../base/plans.js'
import type {StorageEntry} from '../base/storage.js'
import {carriedEntry, decideFile, listedObject, skippedByFlags, syncedEntry, type Decision, type ListedObject} from '../state/decide.js'
import {inKeyOrder, joinSync, type SyncSession} from '../state/session.js'
import type {LocalStat, StateEntry} from '../state/state.js'
import {openSyncSession, stateKeyTest} from './sync-session.js'

export interface UploadOptions extends TransferOptions {
  /** A folder, or one file (then the prefix is its key, or the folder it goes into when it ends with '/'). */
  localFolder: string
  storageClass?: string
  /** Follow symbolic links (also out of the folder; loops are detected). Default: links are skipped. */
  followSymlinks?: boolean
  /** cp/mv: the new objects' content type, metadata, encryption and ACL. */
  settings?: CopySettings
}

export async function checkLocalFolder(folder: string): Promise<string> {
  const abs = resolve(folder)
  if (hasConvertedBytes(abs))
    throw new S3cError(`local folder "${folder}" holds characters of U+F780–U+F7FF, which s3c uses to spell bytes that are not UTF-8: give the folder another way (e.g. its parent)`, ExitCode.usage)
  const st = await stat(abs).catch(() => undefined)
  if (!st) throw new S3cError(`local folder "${folder}" does not exist: check --local-folder or the DIR argument`, ExitCode.usage, 'ENOENT')
  if (!st.isDirectory()) throw new S3cError(`"${folder}" is a file, not a folder: give the folder that holds the files to upload`, ExitCode.usage)
  return abs
}

async function multipartFlow(run: RunContext, opts: UploadOptions, key: string, e: LocalEntry, pending: {key: string; uploadId: string}[]): Promise<Flow> {
  const {bucket} = opts.location
  const metadata: Record<string, string> = {[META_MTIME]: formatMtime(e.mtimeNs)}
  // A whole-file checksum must be known before the upload starts; it costs one extra read, so only
  // with --checksum. The same read gives the MD5 rclone checks a multipart object by (md5chksum).
  if (opts.checksum) {
    const digests = await fileDigests(e.path)
    metadata[META_SHA256] = digests.sha256
    metadata[META_MD5] = digests.md5base64
  }
  // Not abortable: an upload S3 creates after Ctrl-C would leave an id we never learn, never aborted.
  const uploadId = await run.s3.createMultipart(bucket, key, {
    metadata: {...opts.settings?.metadata, ...metadata}, contentType: await contentTypeOf(e.path, opts.settings?.contentType), storageClass: opts.storageClass,
    sse: opts.settings?.sse, sseKmsKeyId: opts.settings?.sseKmsKeyId, acl: opts.settings?.acl,
  })
  pending.push({key, uploadId})
  const partSize = partSizeFor(e.size, opts.partSize)
  const children: UploadPartJob[] = []
  for (let offset = 0, n = 1; offset < e.size; offset += partSize, n++) {
    children.push({kind: 'upload-part', bucket, key, uploadId, path: e.path, partNumber: n, offset, length: Math.min(partSize, e.size - offset)})
  }
  return {parent: {kind: 'complete-upload', bucket, key, uploadId, path: e.path, size: e.size, mtimeNs: e.mtimeNs, removeSource: opts.removeSource}, children}
}

/** Records what the walk met but will not upload: skipped with a reason, or failed by name. */
export function recordProblem(run: RunContext, key: string, p: LocalProblem): void {
  run.stats.seen(0)
  run.stats.record({key, path: p.path, bytes: 0, status: p.type, ...(p.type === 'skipped' ? {reason: p.reason} : {error: p.reason})})
}

/** The one file of `s3c upload FILE s3://bucket/key`, as the walk would give it. */
async function singleFile(path: string, opts: UploadOptions): Promise<{entry: LocalEntry; key: string} | undefined> {
  // The user named this file: a symlink is followed, as cp does.
  const st = await stat(path, {bigint: true}).catch(() => undefined)
  if (!st || st.isDirectory()) return undefined
  if (!st.isFile()) throw new S3cError(`"${opts.localFolder}" is not a regular file or a folder: give a file or the folder that holds the files to upload`, ExitCode.usage)
  const name = basename(path)
  const {prefix} = opts.location
  const key = prefix === '' || prefix.endsWith('/') ? joinKey(prefix, name) : prefix
  return {entry: {rel: name, path, type: 'file', size: Number(st.size), mtimeNs: String(st.mtimeNs), mode: Number(st.mode)}, key}
}

/** `s3c upload`: walk the local tree once and move every file that changed (or the one file given). */
export async function upload(opts: UploadOptions): Promise<RunSummary> {
  const single = await singleFile(resolve(opts.localFolder), opts)
  const root = single ? resolve(opts.localFolder) : await checkLocalFolder(opts.localFolder)
  const {bucket, prefix} = opts.location
  // `s3c retry` runs the command again with the same link policy.
  const run = await openRun(opts, `upload ${root} s3://${bucket}/${prefix}${opts.followSymlinks ? ' --follow-symlinks' : ''}`,
    {verb: 'upload', options: {...commonStoredOptions(opts), localFolder: root, storageClass: opts.storageClass, followSymlinks: opts.followSymlinks}})
  if (opts.dryRun) run.stats.planning = true
  const listPrefix = single ? single.key : folderPrefix(prefix)
  let remoteEmpty = false
  let sync: SyncSession | undefined
  // Only when the server lists out of S3 key order: the listing by key (see joinSync).
  let fallback: Map<string, ListedObject> | undefined
  // s3c retry: the failed files only.
  const only = opts.only && new Set(opts.only)
  const compareMode: CompareMode = opts.checksum ? 'checksum' : 'mtime'
  // Started multipart uploads: aborted if the run stops early (an abort of a completed one is a no-op).
  const multiparts: {key: string; uploadId: string}[] = []
  const cleanup = async () => {
    await sync?.abort()
    await Promise.all(multiparts.map(m => run.s3.abortMultipart({bucket, ...m}).catch(() => undefined)))
  }
  // --state-url in the data's bucket: a local file is not uploaded over a state, and the listing leaves the states out.
  const isState = stateKeyTest(opts, bucket)

  /**
   * The regular files to upload, in key order; what the walk met but will not upload (problems,
   * links, the reserved folder) is recorded as it passes, so the merge sees files only.
   */
  async function* files(): AsyncGenerator<{e: LocalEntry; key: string}> {
    if (single) {
      if (keyFilter(opts)(single.entry.rel) && (!only || only.has(single.key))) yield {e: single.entry, key: single.key}
      return
    }
    // cp of a local wildcard: one that matches nothing is refused, as ls and rm refuse it.
    const noMatch = opts.pattern !== undefined && !opts.only
      ? () => new S3cError(`no file matches ${join(root, opts.pattern!)}: check the wildcard`, ExitCode.usage) : undefined
    for await (const e of atLeastOne(walkLocal(root, opts), noMatch)) {
      const rel = opts.flatten && !e.dir ? e.rel.slice(e.rel.lastIndexOf('/') + 1) : e.rel
      const key = joinKey(prefix, e.dir ? `${rel}/` : rel)
      if (only && !only.has(key)) continue
      if (isProblem(e)) recordProblem(run, key, e)
      else if (e.type === 'symlink') recordProblem(run, key, {...e, type: 'skipped', reason: 'symlink', dir: false})
      else if (isState?.(key)) recordProblem(run, key, {...e, type: 'skipped', reason: 'reserved for s3c state', dir: false})
      else yield {e, key}
    }
  }
  const conditions = activeConditions(opts.conditions)
  const rule = {force: opts.force, checksum: opts.checksum, sizeOnly: opts.sizeOnly, conditions}

  async function* plan(): AsyncGenerator<Work> {
    const {empty} = await run.s3.checkBucket(bucket, listPrefix)
    remoteEmpty = empty
    // Only list everything when there is something to compare with (one file: its HEAD tells).
    const listed = !empty && (!opts.force || !!conditions) && !single
    if (!single) sync = await openSyncSession(run, opts, {direction: 'upload', bucket, prefix: listPrefix, local: root}, listed)
    const tuples = joinSync<{e: LocalEntry; key: string}, StorageEntry>({
      local: {items: files()},
      remote: listed ? {items: inKeyOrder(run.s3.listObjectPages(bucket, listPrefix))} : undefined,
      state: listed ? sync?.stateInput() : undefined,
    }, 'local', async error => {
      opts.onNotice?.(`${error.message}; comparing by size and HEAD checks for the rest of this run`)
      sync?.stopWriting('the listing could not be merged with it')
      // A server that lists in another order: the whole listing, as before the state existed.
      fallback = new Map()
      for await (const o of run.s3.listObjects(bucket, listPrefix)) fallback.set(o.key, listedObject(o))
    })
    for await (const t of tuples) {
      // An object (or a state entry) without a local file: nothing to send, and no entry.
      if (!t.local) continue
      const {e, key} = t.local
      run.stats.seen(e.size)
      const local: LocalStat = {size: e.size, mtimeNs: e.mtimeNs, ino: e.ino, ctimeNs: e.ctimeNs}
      // One file: nothing listed; its HEAD tells what is there when the conditions need it, else the job checks.
      const head = single && conditions && !remoteEmpty ? await run.s3.head(bucket, key) : undefined
      const remote = single ? head && listedObject({size: Number(head['content-length'] ?? 0), etag: head.etag, lastModifiedMs: Date.parse(head['last-modified'] ?? '')})
        : t.fallback ? fallback?.get(key) : t.remote && listedObject(t.remote)
      const d: Decision = single && !remoteEmpty && !conditions && !opts.force ? {action: 'check', reason: 'no state'}
        : decideFile('upload', {local, remote, state: t.fallback ? undefined : t.state}, rule)
      if (skippedByFlags(d)) {
        run.stats.record({key, path: e.path, bytes: e.size, status: 'skipped', ...(d.reason === 'exists' ? {reason: 'exists'} : {})})
        continue
      }
      if (opts.dryRun) {
        // Only what would change is named; an unchanged file is counted, as a run counts it.
        if (d.action === 'skip') run.stats.record({key, path: e.path, bytes: e.size, status: 'skipped'})
        else {
          const action = d.action === 'transfer' ? 'upload' : d.action
          run.stats.plan(action, e.size)
          opts.onPlan?.(`${action} ${e.rel} -> s3://${bucket}/${key} (${e.size} bytes)`)
        }
        continue
      }
      const skip = async (entry: StateEntry | undefined) => {
        run.stats.record({key, path: e.path, bytes: e.size, status: 'skipped'})
        await sync?.record(key, entry)
      }
      // Unchanged by the state: no request at all.
      if (d.action === 'skip') {
        await skip(remote && t.state && carriedEntry(key, remote, t.state, local))
        continue
      }
      const compare = d.action === 'check' ? compareMode : undefined
      const expectSha256 = d.action === 'compare' ? d.sha256 : undefined
      if (e.size >= opts.multipartThreshold) {
        // Decided here, before a multipart upload starts.
        if (compare) {
          const check = await remoteCheck(run.s3, bucket, {key, ...e}, compare)
          if (check.same) {
            await skip(check.state && syncedEntry(key, {size: e.size, ...check.state}, local))
            continue
          }
        }
        if (expectSha256 && (await fileDigests(e.path)).sha256 === expectSha256) {
          await skip(remote && t.state && carriedEntry(key, remote, t.state, local))
          continue
        }
        await sync?.expect(key, {size: e.size, local, remote, state: t.state})
        yield await multipartFlow(run, opts, key, e, multiparts)
      } else {
        await sync?.expect(key, {size: e.size, local, remote, state: t.state})
        yield {kind: 'upload-files', bucket, storageClass: opts.storageClass, removeSource: opts.removeSource, settings: opts.settings,
          files: [{path: e.path, key, size: e.size, mtimeNs: e.mtimeNs, compare, expectSha256}]}
      }
    }
  }
  return runWalk(run, opts.location, plan, cleanup, async () => { await sync?.finish() })
}
