import {statSync} from 'node:fs'
import {open, stat, unlink} from 'node:fs/promises'
import {dirname, resolve, sep} from 'node:path'
import {ExitCode, S3cError} from './errors.js'
import {commonStoredOptions, openRun, partSizeFor, preflight, runWalk, type TransferOptions} from './transfer.js'
import {keyFilter, walkS3} from '../engine/walk.js'
import type {RunSummary} from '../engine/stats.js'
import {ensureDir, localUnchanged, tempPathFor} from '../jobs/handlers.js'
import type {CompareMode, DownloadRangeJob, Work} from '../jobs/types.js'
import {folderPrefix} from '../s3/url.js'

export interface DownloadOptions extends TransferOptions {
  localFolder: string
}

async function checkTarget(folder: string): Promise<string> {
  const abs = resolve(folder)
  const st = await stat(abs).catch(() => undefined)
  if (st && !st.isDirectory()) throw new S3cError(`download target "${folder}" is a file: give a folder (it is created if missing)`, ExitCode.usage)
  return abs
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

/** `s3c download`: list the prefix once and fetch every object that changed. */
export async function download(opts: DownloadOptions): Promise<RunSummary> {
  const root = await checkTarget(opts.localFolder)
  const {bucket} = opts.location
  const listPrefix = folderPrefix(opts.location.prefix)
  const run = await openRun(opts, `download s3://${bucket}/${opts.location.prefix} ${root}`,
    {verb: 'download', options: {...commonStoredOptions(opts), localFolder: root}})
  // s3c retry: the failed files only.
  const only = opts.only && new Set(opts.only)
  const compareMode: CompareMode = opts.checksum ? 'checksum' : 'mtime'
  // Temporary files of large objects: removed if the run stops early (finished ones were renamed away).
  const tmpPaths: string[] = []
  const cleanup = async () => {
    await Promise.all(tmpPaths.map(p => unlink(p).catch(() => undefined)))
  }

  const selected = keyFilter(opts)

  async function* plan(): AsyncGenerator<Work> {
    await preflight(run.s3, opts.location, listPrefix)
    if (!opts.dryRun) await ensureDir(root)
    for await (const o of walkS3(run.s3, bucket, listPrefix, run.retry, run.signal)) {
      const rel = o.key.slice(listPrefix.length)
      if (rel === '' || rel.endsWith('/') || !selected(rel)) continue // folder markers, filtered out
      if (only && !only.has(o.key)) continue
      const path = localPathFor(root, rel)
      run.stats.seen(o.size)
      if (!path) {
        run.stats.record({key: o.key, path: rel, bytes: o.size, status: 'failed', error: `key "${o.key}" would be written outside ${root}; skipped`})
        continue
      }
      let compare: CompareMode | undefined
      if (!opts.force) {
        // Synchronous on purpose: the walk is one loop, and an async stat per key would pace it.
        const local = statSync(path, {throwIfNoEntry: false})
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
        const fh = await open(tmpPath, 'w')
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
