import {stat} from 'node:fs/promises'
import {basename, join, resolve} from 'node:path'
import {ExitCode, S3cError} from '../base/errors.js'
import {contentTypeOf} from '../base/content-type.js'
import {partSizeFor} from '../s3/limits.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type RunContext, type TransferOptions} from '../run/session.js'
import type {LocalProblem} from '../local/walk.js'
import type {RunSummary} from '../run/stats.js'
import {fileDigests, remoteCheck} from '../jobs/compare.js'
import {META_MD5, META_MTIME, META_SHA256, formatMtime} from '../jobs/metadata.js'
import type {CompareMode, CopySettings, Flow, UploadPartJob, Work} from '../jobs/types.js'
import {folderPrefix, joinKey} from '../base/location.js'
import {hasConvertedBytes} from '../local/fs-path.js'
import {activeConditions} from '../base/plans.js'
import type {StorageEntry} from '../base/storage.js'
import {treeAt} from '../storage/open.js'
import {carriedEntry, skippedByFlags, syncedEntry} from '../state/decide.js'
import {planUpload, transferHints, type UploadPlanOptions} from '../state/plan.js'
import {inKeyOrder, type SyncSession} from '../state/session.js'
import type {StateEntry} from '../state/state.js'
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

async function multipartFlow(run: RunContext, opts: UploadOptions, key: string, e: {path: string; size: number; mtimeNs: string}, pending: {key: string; uploadId: string}[]): Promise<Flow> {
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
export function recordProblem(run: RunContext, key: string, p: Pick<LocalProblem, 'path' | 'type' | 'reason'> & Partial<LocalProblem>): void {
  run.stats.seen(0)
  run.stats.record({key, path: p.path, bytes: 0, status: p.type, ...(p.type === 'skipped' ? {reason: p.reason} : {error: p.reason})})
}

/** The one file of `s3c upload FILE s3://bucket/key`, as a listing of the folder would give it. */
async function singleFile(path: string, opts: UploadOptions): Promise<{rel: string; path: string; entry: StorageEntry; key: string} | undefined> {
  // The user named this file: a symlink is followed, as cp does.
  const st = await stat(path, {bigint: true}).catch(() => undefined)
  if (!st || st.isDirectory()) return undefined
  if (!st.isFile()) throw new S3cError(`"${opts.localFolder}" is not a regular file or a folder: give a file or the folder that holds the files to upload`, ExitCode.usage)
  const name = basename(path)
  const {prefix} = opts.location
  const key = prefix === '' || prefix.endsWith('/') ? joinKey(prefix, name) : prefix
  return {rel: name, path, entry: {key: name, size: Number(st.size), lastModifiedMs: Number(st.mtimeNs / 1_000_000n), mtimeNs: String(st.mtimeNs)}, key}
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
  let sync: SyncSession | undefined
  const compareMode: CompareMode = opts.checksum ? 'checksum' : 'mtime'
  // Started multipart uploads: aborted if the run stops early (an abort of a completed one is a no-op).
  const multiparts: {key: string; uploadId: string}[] = []
  const cleanup = async () => {
    await sync?.abort()
    await Promise.all(multiparts.map(m => run.s3.abortMultipart({bucket, ...m}).catch(() => undefined)))
  }
  const conditions = activeConditions(opts.conditions)
  const planOptions: UploadPlanOptions = {
    prefix, single: single && {key: single.key}, force: opts.force, checksum: opts.checksum, sizeOnly: opts.sizeOnly, conditions,
    include: opts.include, exclude: opts.exclude, pattern: opts.pattern, flatten: opts.flatten, only: opts.only && new Set(opts.only),
    // --state-url in the data's bucket: a local file is not uploaded over a state, and the listing leaves the states out.
    isState: stateKeyTest(opts, bucket),
    // cp of a local wildcard: one that matches nothing is refused, as ls and rm refuse it.
    noMatch: opts.pattern !== undefined && !opts.only && !single
      ? () => new S3cError(`no file matches ${join(root, opts.pattern!)}: check the wildcard`, ExitCode.usage) : undefined,
  }

  async function* plan(): AsyncGenerator<Work> {
    const {empty} = await run.s3.checkBucket(bucket, listPrefix)
    // Only list everything when there is something to compare with (one file: its HEAD tells).
    const listed = !empty && (!opts.force || !!conditions) && !single
    if (!single) sync = await openSyncSession(run, opts, {direction: 'upload', bucket, prefix: listPrefix, local: root}, listed)
    const local = single
      ? {names: [{rel: single.rel, entry: single.entry}], locate: () => single.path}
      : (tree => ({names: tree.names(planOptions), locate: tree.locate}))(treeAt({type: 'local', path: root}, run.s3, {followSymlinks: opts.followSymlinks}))
    // One file: nothing listed; its HEAD tells what is there when the conditions need it, else the job checks.
    const remote = empty ? 'empty' as const
      : single ? (conditions ? {lookup: (key: string) => headEntry(run, bucket, key)} : 'unlisted' as const)
        : listed ? inKeyOrder(run.s3.listObjectPages(bucket, listPrefix)) : 'unlisted' as const
    const decisions = planUpload({
      local, remote, state: sync?.stateInput(),
      fallback: error => {
        opts.onNotice?.(`${error.message}; comparing by size and HEAD checks for the rest of this run`)
        sync?.stopWriting('the listing could not be merged with it')
        // A server that lists in another order: the whole listing, as before the state existed.
        return run.s3.listObjects(bucket, listPrefix)
      },
    }, planOptions)
    for await (const p of decisions) {
      if (p.kind === 'problem') {
        recordProblem(run, p.key, {path: p.path, type: p.status, reason: p.reason ?? ''})
        continue
      }
      const {key, entry: e, path, local, remote, state, decision: d} = p
      run.stats.seen(e.size)
      if (skippedByFlags(d)) {
        run.stats.record({key, path, bytes: e.size, status: 'skipped', ...(d.reason === 'exists' ? {reason: 'exists'} : {})})
        continue
      }
      if (opts.dryRun) {
        // Only what would change is named; an unchanged file is counted, as a run counts it.
        if (d.action === 'skip') run.stats.record({key, path, bytes: e.size, status: 'skipped'})
        else {
          const action = d.action === 'transfer' ? 'upload' : d.action
          run.stats.plan(action, e.size)
          opts.onPlan?.(`${action} ${p.rel} -> s3://${bucket}/${key} (${e.size} bytes)`)
        }
        continue
      }
      const skip = async (entry: StateEntry | undefined) => {
        run.stats.record({key, path, bytes: e.size, status: 'skipped'})
        await sync?.record(key, entry)
      }
      // Unchanged by the state: no request at all.
      if (d.action === 'skip') {
        await skip(remote && state && local && carriedEntry(key, remote, state, local))
        continue
      }
      const {compare, expectSha256} = transferHints(d, compareMode)
      const file = {path, size: e.size, mtimeNs: local!.mtimeNs}
      if (e.size >= opts.multipartThreshold) {
        // Decided here, before a multipart upload starts.
        if (compare) {
          const check = await remoteCheck(run.s3, bucket, {key, ...file}, compare)
          if (check.same) {
            await skip(check.state && syncedEntry(key, {size: e.size, ...check.state}, local!))
            continue
          }
        }
        if (expectSha256 && (await fileDigests(path)).sha256 === expectSha256) {
          await skip(remote && state && carriedEntry(key, remote, state, local!))
          continue
        }
        await sync?.expect(key, {size: e.size, local, remote, state})
        yield await multipartFlow(run, opts, key, file, multiparts)
      } else {
        await sync?.expect(key, {size: e.size, local, remote, state})
        yield {kind: 'upload-files', bucket, storageClass: opts.storageClass, removeSource: opts.removeSource, settings: opts.settings,
          files: [{path, key, size: e.size, mtimeNs: file.mtimeNs, compare, expectSha256}]}
      }
    }
  }
  return runWalk(run, opts.location, plan, cleanup, async () => { await sync?.finish() })
}

/** The object a HEAD finds at `key`, as a listing gives it. */
async function headEntry(run: RunContext, bucket: string, key: string): Promise<StorageEntry | undefined> {
  const head = await run.s3.head(bucket, key)
  return head && {key, size: Number(head['content-length'] ?? 0), etag: head.etag, lastModifiedMs: Date.parse(head['last-modified'] ?? '')}
}
