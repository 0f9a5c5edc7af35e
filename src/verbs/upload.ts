import {stat} from 'node:fs/promises'
import {basename, resolve} from 'node:path'
import mime from 'mime-types'
import {ExitCode, S3cError} from '../base/errors.js'
import {partSizeFor} from '../s3/limits.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type RunContext, type TransferOptions} from '../run/session.js'
import {isProblem, walkLocal, type LocalEntry, type LocalProblem} from '../local/walk.js'
import {keyFilter} from '../base/filter.js'
import type {RunSummary} from '../run/stats.js'
import {fileDigests, remoteUnchanged} from '../jobs/compare.js'
import {META_MD5, META_MTIME, META_SHA256, formatMtime} from '../jobs/metadata.js'
import type {CompareMode, CopyConditions, CopySettings, Flow, UploadPartJob, Work} from '../jobs/types.js'
import {folderPrefix, joinKey} from '../s3/url.js'
import {hasConvertedBytes} from '../local/fs-path.js'

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
  if (!st) throw new S3cError(`local folder "${folder}" does not exist: check --local-folder or the DIR argument`, ExitCode.usage)
  if (!st.isDirectory()) throw new S3cError(`"${folder}" is a file, not a folder: give the folder that holds the files to upload`, ExitCode.usage)
  return abs
}

/** Sizes of the objects already under the prefix, to decide what can be skipped (and their times, for cp --if-source-newer). */
async function remoteSizes(run: RunContext, bucket: string, prefix: string, times?: Map<string, number>): Promise<Map<string, number>> {
  const sizes = new Map<string, number>()
  for await (const o of run.s3.listObjects(bucket, prefix)) {
    sizes.set(o.key, o.size)
    times?.set(o.key, o.lastModifiedMs)
  }
  return sizes
}

/** cp's conditions for a local file against its object (size and Last-Modified): true when it is not to be copied. */
function skippedByCondition(c: CopyConditions, remote: {size: number; lastModifiedMs?: number} | undefined, e: {size: number; mtimeNs: string}): boolean {
  if (!remote) return false
  if (c.noClobber) return true
  if (c.ifSizeDiffer && remote.size === e.size) return true
  return !!c.ifSourceNewer && remote.lastModifiedMs !== undefined && remote.lastModifiedMs >= Number(BigInt(e.mtimeNs) / 1_000_000n)
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
    metadata: {...opts.settings?.metadata, ...metadata}, contentType: opts.settings?.contentType ?? (mime.lookup(e.path) || 'application/octet-stream'), storageClass: opts.storageClass,
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
  const listPrefix = single ? single.key : folderPrefix(prefix)
  let remote: Map<string, number> | undefined
  let remoteEmpty = false
  // s3c retry: the failed files only.
  const only = opts.only && new Set(opts.only)
  const compareMode: CompareMode = opts.checksum ? 'checksum' : 'mtime'
  // Started multipart uploads: aborted if the run stops early (an abort of a completed one is a no-op).
  const multiparts: {key: string; uploadId: string}[] = []
  const cleanup = async () => {
    await Promise.all(multiparts.map(m => run.s3.abortMultipart({bucket, ...m}).catch(() => undefined)))
  }

  async function* entries(): AsyncGenerator<{e: LocalEntry | LocalProblem; key: string}> {
    if (single) {
      if (keyFilter(opts)(single.entry.rel)) yield {e: single.entry, key: single.key}
      return
    }
    for await (const e of walkLocal(root, opts)) {
      const rel = opts.flatten && !e.dir ? e.rel.slice(e.rel.lastIndexOf('/') + 1) : e.rel
      yield {e, key: joinKey(prefix, e.dir ? `${rel}/` : rel)}
    }
  }
  const conditions = opts.conditions && Object.values(opts.conditions).some(Boolean) ? opts.conditions : undefined
  const remoteTimes = conditions?.ifSourceNewer ? new Map<string, number>() : undefined

  async function* plan(): AsyncGenerator<Work> {
    const {empty} = await run.s3.checkBucket(bucket, listPrefix)
    remoteEmpty = empty
    // Only list everything when there is something to compare with (one file: its HEAD tells).
    if (!empty && (!opts.force || conditions) && !single) remote = await remoteSizes(run, bucket, listPrefix, remoteTimes)
    for await (const {e, key} of entries()) {
      if (only && !only.has(key)) continue
      if (isProblem(e)) {
        recordProblem(run, key, e)
        continue
      }
      if (e.type === 'symlink') {
        recordProblem(run, key, {...e, type: 'skipped', reason: 'symlink', dir: false})
        continue
      }
      run.stats.seen(e.size)
      if (conditions) {
        const h = single && !remoteEmpty ? await run.s3.head(bucket, key) : undefined
        const there = single
          ? h && {size: Number(h['content-length'] ?? 0), lastModifiedMs: h['last-modified'] ? Date.parse(h['last-modified']) : undefined}
          : remote?.has(key) ? {size: remote.get(key)!, lastModifiedMs: remoteTimes?.get(key)} : undefined
        if (skippedByCondition(conditions, there, e)) {
          run.stats.record({key, path: e.path, bytes: e.size, status: 'skipped', reason: 'exists'})
          continue
        }
      }
      const remoteSize = single ? (remoteEmpty || opts.force ? undefined : e.size) : remote?.get(key)
      const compare = remoteSize === e.size && !opts.force ? compareMode : undefined
      if (compare && opts.sizeOnly && !single) {
        run.stats.record({key, path: e.path, bytes: e.size, status: 'skipped'})
        continue
      }
      if (opts.dryRun) {
        opts.onPlan?.(`${compare ? 'check' : 'upload'} ${e.rel} -> s3://${bucket}/${key} (${e.size} bytes)`)
        continue
      }
      if (e.size >= opts.multipartThreshold) {
        // Decided here, before a multipart upload starts.
        if (compare && (await remoteUnchanged(run.s3, bucket, {key, ...e}, compare))) {
          run.stats.record({key, path: e.path, bytes: e.size, status: 'skipped'})
          continue
        }
        yield await multipartFlow(run, opts, key, e, multiparts)
      } else {
        yield {kind: 'upload-files', bucket, storageClass: opts.storageClass, removeSource: opts.removeSource, settings: opts.settings,
          files: [{path: e.path, key, size: e.size, mtimeNs: e.mtimeNs, compare}]}
      }
    }
  }
  return runWalk(run, opts.location, plan, cleanup)
}
