import {statSync} from 'node:fs'
import {open, stat, unlink} from 'node:fs/promises'
import {dirname, resolve, sep} from 'node:path'
import {ExitCode, S3cError} from './errors.js'
import {openRun, partSizeFor, preflight, runWalk, storedCommand, type TransferOptions} from './transfer.js'
import {keyFilter, walkS3, type RemoteEntry} from '../engine/walk.js'
import type {RunSummary} from '../engine/stats.js'
import {ensureDir, headObject, localUnchanged, tempPathFor} from '../jobs/handlers.js'
import type {CompareMode, DownloadRangeJob, Work} from '../jobs/types.js'
import {folderPrefix} from '../s3/url.js'
import {fsPath, isFaithfulName} from '../local/fs-path.js'

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

/**
 * The local path for a key, or undefined when the key cannot be a file under the target
 * (a "folder" marker, or a name that would escape it such as `../x`).
 */
export function localPathFor(root: string, rel: string): string | undefined {
  if (!rel || rel.endsWith('/')) return undefined
  const parts = rel.split('/')
  if (parts.some(p => p === '..' || p === '.' || p === '') || rel.includes('\0')) return undefined
  const path = resolve(root, ...parts)
  return path.startsWith(root + sep) ? path : undefined
}

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
  const run = await openRun(opts, `download s3://${bucket}/${prefix} ${root}`, storedCommand('download', root, opts))
  let single: {object: RemoteEntry; path: string | undefined} | undefined
  let empty: boolean
  try {
    empty = (await preflight(run.s3, opts.location, listPrefix)).empty
    if (empty && mayBeObject) {
      const h = await headObject(run, bucket, prefix)
      if (h) {
        single = {
          object: {key: prefix, size: Number(h['content-length'] ?? 0), etag: h.etag,
            lastModifiedMs: h['last-modified'] ? Date.parse(h['last-modified']) : Date.now()},
          path: await singleTarget(opts.localFolder, prefix),
        }
      }
    }
    if (mayBeObject && !single) await checkTarget(opts.localFolder)
  } catch (error) {
    await run.s3.close()
    throw error
  }
  if (empty && !single) {
    // Nothing to do, said in one line; no folder is made.
    opts.onNotice?.(`nothing under s3://${bucket}/${listPrefix}`)
    return runWalk(run, opts.location, async function* () {})
  }
  if (!opts.dryRun && !single) await ensureDir(root)
  const compareMode: CompareMode = opts.checksum ? 'checksum' : 'mtime'
  // Temporary files of large objects: removed if the run stops early (finished ones were renamed away).
  const tmpPaths: string[] = []
  const cleanup = async () => {
    await Promise.all(tmpPaths.map(p => unlink(fsPath(p)).catch(() => undefined)))
  }

  const selected = keyFilter(opts)

  /** Each object with the local path it goes to (undefined: it cannot be written under the target). */
  async function* objects(): AsyncGenerator<{o: RemoteEntry; rel: string; path: string | undefined}> {
    if (single) {
      const rel = single.object.key.slice(single.object.key.lastIndexOf('/') + 1)
      if (selected(rel)) yield {o: single.object, rel, path: single.path}
      return
    }
    for await (const o of walkS3(run.s3, bucket, listPrefix, run.retry, run.signal)) {
      const rel = o.key.slice(listPrefix.length)
      if (rel === '' || rel.endsWith('/') || !selected(rel)) continue // folder markers, filtered out
      yield {o, rel, path: localPathFor(root, rel)}
    }
  }

  async function* plan(): AsyncGenerator<Work> {
    for await (const {o, rel, path} of objects()) {
      run.stats.seen(o.size)
      if (!path) {
        run.stats.record({key: o.key, path: rel, bytes: o.size, status: 'failed', error: `key "${o.key}" would be written outside ${root}; skipped`})
        continue
      }
      if (!isFaithfulName(rel)) {
        run.stats.record({key: o.key, path: rel, bytes: o.size, status: 'failed',
          error: 'key holds characters of U+F780–U+F7FF that do not spell bytes that are not UTF-8 (s3c\'s rule for such names), so it has no faithful local name'})
        continue
      }
      let compare: CompareMode | undefined
      if (!opts.force) {
        // Synchronous on purpose: the walk is one loop, and an async stat per key would pace it.
        const local = statSync(fsPath(path), {throwIfNoEntry: false})
        if (local?.isFile() && local.size === o.size) compare = compareMode
      }
      if (opts.dryRun) {
        opts.onPlan?.(`${compare ? 'check' : 'download'} s3://${bucket}/${o.key} -> ${path} (${o.size} bytes)`)
        continue
      }
      if (o.size >= opts.multipartThreshold) {
        // Decided here, so a large unchanged file never starts ranged GETs.
        if (compare && (await localUnchanged(run, bucket, {key: o.key, path}, compare))) {
          run.stats.record({key: o.key, path, bytes: o.size, status: 'skipped'})
          continue
        }
        await ensureDir(dirname(path))
        const tmpPath = tempPathFor(path)
        tmpPaths.push(tmpPath)
        // The temp file exists at its final size so range jobs can write into it in any order.
        const fh = await open(fsPath(tmpPath), 'w')
        await fh.truncate(o.size)
        await fh.close()
        const partSize = partSizeFor(o.size, opts.partSize)
        const children: DownloadRangeJob[] = []
        for (let offset = 0; offset < o.size; offset += partSize) {
          children.push({kind: 'download-range', bucket, key: o.key, etag: o.etag, tmpPath, offset, length: Math.min(partSize, o.size - offset)})
        }
        yield {parent: {kind: 'finish-download', bucket, key: o.key, tmpPath, path, size: o.size, lastModifiedMs: o.lastModifiedMs, verify: opts.checksum}, children}
      } else {
        yield {kind: 'download-files', bucket, files: [{key: o.key, path, size: o.size, lastModifiedMs: o.lastModifiedMs, etag: o.etag, compare}]}
      }
    }
  }
  return runWalk(run, opts.location, plan, cleanup)
}
