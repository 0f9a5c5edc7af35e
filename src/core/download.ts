import {lstatSync} from 'node:fs'
import {stat, unlink} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import {ExitCode, S3cError} from './errors.js'
import {openRun, partSizeFor, preflight, runWalk, storedCommand, type TransferOptions} from './transfer.js'
import {keyFilter, walkS3} from '../engine/walk.js'
import type {RunSummary} from '../engine/stats.js'
import {failed, localUnchanged} from '../jobs/handlers.js'
import {createTempFile, ensureSafeDir, localPathFor, usableTarget} from '../local/safe-path.js'
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

export {localPathFor}

/** `s3c download`: list the prefix once and fetch every object that changed. */
export async function download(opts: DownloadOptions): Promise<RunSummary> {
  const root = await checkTarget(opts.localFolder)
  const {bucket} = opts.location
  const listPrefix = folderPrefix(opts.location.prefix)
  const run = await openRun(opts, `download s3://${bucket}/${opts.location.prefix} ${root}`, storedCommand('download', root, opts))
  try {
    await preflight(run.s3, opts.location, listPrefix)
  } catch (error) {
    await run.s3.close()
    throw error
  }
  if (!opts.dryRun) {
    try {
      usableTarget(root, opts.localFolder)
    } catch (error) {
      await run.s3.close()
      throw error
    }
  }
  const compareMode: CompareMode = opts.checksum ? 'checksum' : 'mtime'
  // Temporary files of large objects: removed if the run stops early (finished ones were renamed away).
  const tmpPaths: string[] = []
  const cleanup = async () => {
    await Promise.all(tmpPaths.map(p => unlink(p).catch(() => undefined)))
  }

  const selected = keyFilter(opts)

  async function* plan(): AsyncGenerator<Work> {
    for await (const o of walkS3(run.s3, bucket, listPrefix, run.retry, run.signal)) {
      const rel = o.key.slice(listPrefix.length)
      if (rel === '' || rel.endsWith('/') || !selected(rel)) continue // folder markers, filtered out
      const path = localPathFor(root, rel)
      run.stats.seen(o.size)
      if (!path) {
        run.stats.record({key: o.key, path: rel, bytes: o.size, status: 'failed', error: `key "${o.key}" would be written outside ${root}; skipped`})
        continue
      }
      let compare: CompareMode | undefined
      try {
        // Folders are checked (and made) here too, so a symlink or a file in the way fails the
        // files under it at once, with a line each, and the rest of the run goes on.
        ensureSafeDir(root, dirname(path), {create: !opts.dryRun})
        if (!opts.force) {
          // Synchronous on purpose: the walk is one loop, and an async stat per key would pace it.
          // lstat: a symlink at the file's place is replaced, never compared or followed.
          const local = lstatSync(path, {throwIfNoEntry: false})
          if (local?.isFile() && local.size === o.size) compare = compareMode
        }
      } catch (error) {
        run.stats.record(failed({key: o.key, path, size: o.size}, error))
        continue
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
        // The temp file exists at its final size so range jobs can write into it in any order.
        let tmpPath: string
        try {
          tmpPath = await createTempFile(root, path, o.size)
        } catch (error) {
          run.stats.record(failed({key: o.key, path, size: o.size}, error))
          continue
        }
        tmpPaths.push(tmpPath)
        const partSize = partSizeFor(o.size, opts.partSize)
        const children: DownloadRangeJob[] = []
        for (let offset = 0; offset < o.size; offset += partSize) {
          children.push({kind: 'download-range', bucket, key: o.key, etag: o.etag, root, tmpPath, offset, length: Math.min(partSize, o.size - offset)})
        }
        yield {parent: {kind: 'finish-download', bucket, key: o.key, root, tmpPath, path, size: o.size, lastModifiedMs: o.lastModifiedMs, verify: opts.checksum}, children}
      } else {
        yield {kind: 'download-files', bucket, root, files: [{key: o.key, path, size: o.size, lastModifiedMs: o.lastModifiedMs, etag: o.etag, compare}]}
      }
    }
  }
  return runWalk(run, opts.location, plan, cleanup)
}
