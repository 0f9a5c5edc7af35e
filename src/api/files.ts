import {PassThrough, type Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {ExitCode, FatalError, S3cError, statusOf} from '../base/errors.js'
import {keyPattern} from '../base/wildcard.js'
import {transferDefaults} from '../run/defaults.js'
import {localGlob, localList, localReadFile, localReadStream, localRemove, localStat, type FileEntry} from '../local/files.js'
import {folderPrefix, parseLocation, parseS3} from '../base/location.js'
import {openObject} from '../verbs/cat.js'
import {missingObjectError, noMatchError, parseObjectUrl, userError} from '../verbs/expand.js'
import {removeObjects, type RemoveSummary} from '../verbs/rm.js'
import {statObject} from '../verbs/stat.js'
import {connect, withS3, type ConnectOptions} from './connect.js'

/*
 * The library's file functions: each takes an s3:// URL or a local path alike, and the
 * connection options of src/api/connect.ts (else the CLI's configuration). The CLI's ls, cat,
 * head, rm run the same verbs (src/verbs/).
 */

export type {FileEntry}

/** What stat tells: the entry, and for an object its content type, metadata and time by s3c's rule. */
export interface StatResult extends FileEntry {
  contentType?: string
  metadata?: Record<string, string>
  /** Decimal seconds since the epoch, s3c's time rule (src/base/times.ts). */
  mtime?: string
}

/** An object or a file (or a folder: a local one, a bucket, or an s3:// prefix ending in "/" that holds keys). Missing: S3cError, exit code 2. */
export async function stat(url: string, opts: ConnectOptions = {}): Promise<StatResult> {
  if (parseLocation(url).type !== 's3') return localStat(url)
  const p = parseS3(url)
  return withS3(opts, async s3 => {
    if (p.kind === 'key') {
      const info = await statObject(s3, p.bucket, p.key)
      return {url, name: p.key, size: info.size, lastModified: new Date(info.lastModified), isDirectory: false, etag: info.etag,
        storageClass: info.storageClass, contentType: info.contentType, metadata: info.metadata, mtime: info.mtime}
    }
    if (p.kind === 'wildcard') throw new S3cError(`stat takes one object or folder, not a wildcard: use glob("${url}")`, ExitCode.usage)
    const {empty} = await s3.checkBucket(p.bucket, p.key)
    if (empty && p.kind === 'prefix') throw noMatchError(url)
    return {url, name: p.key, size: 0, lastModified: new Date(0), isDirectory: true}
  }, 2)
}

/**
 * The entries of a folder: one level (sub-folders as entries ending in "/", isDirectory), or
 * with `recursive` every object / file under it. An s3:// URL is a folder whether or not it
 * ends with "/".
 */
export async function* list(url: string, options: ConnectOptions & {recursive?: boolean} = {}): AsyncGenerator<FileEntry> {
  if (parseLocation(url).type !== 's3') {
    yield* localList(url, options.recursive ?? false)
    return
  }
  const p = parseS3(url)
  if (p.kind === 'wildcard') throw new S3cError(`list takes a folder, not a wildcard: use glob("${url}")`, ExitCode.usage)
  const prefix = folderPrefix(p.key)
  const s3 = await connect(options, 4)
  try {
    for await (const page of s3.list(p.bucket, prefix, {delimiter: options.recursive ? undefined : '/'})) {
      for (const d of page.prefixes) yield {url: `s3://${p.bucket}/${d}`, name: d, size: 0, lastModified: new Date(0), isDirectory: true}
      for (const o of page.entries) {
        yield {url: `s3://${p.bucket}/${o.key}`, name: o.key, size: o.size, lastModified: new Date(o.lastModifiedMs), isDirectory: false, etag: o.etag, storageClass: o.storageClass}
      }
    }
  } catch (error) {
    throw userError(error, p.bucket, s3)
  } finally {
    await s3.close()
  }
}

/**
 * The objects or files a wildcard matches, by s3c's one rule (base/wildcard.ts: * and ** match
 * any characters including "/", ? one, [a-z] a class, \ a literal), matched against the whole
 * key (or path); listed from the text before the first wildcard. Nothing matched: nothing yielded.
 */
export async function* glob(pattern: string, opts: ConnectOptions = {}): AsyncGenerator<FileEntry> {
  if (parseLocation(pattern).type !== 's3') {
    yield* localGlob(pattern)
    return
  }
  const p = parseS3(pattern)
  const kp = keyPattern(p.kind === 'wildcard' ? p.key : p.key.replace(/[\\*?[]/g, '\\$&'))
  const s3 = await connect(opts, 4)
  try {
    for await (const o of s3.listObjects(p.bucket, kp.listPrefix)) {
      if (kp.matches(o.key)) yield {url: `s3://${p.bucket}/${o.key}`, name: o.key, size: o.size, lastModified: new Date(o.lastModifiedMs), isDirectory: false, etag: o.etag, storageClass: o.storageClass}
    }
  } catch (error) {
    throw userError(error, p.bucket, s3)
  } finally {
    await s3.close()
  }
}

/** The whole object or file. */
export async function readFile(url: string, opts: ConnectOptions = {}): Promise<Buffer> {
  if (parseLocation(url).type !== 's3') return localReadFile(url)
  const {bucket, key} = parseObjectUrl(url, 'readFile')
  return withS3(opts, async s3 => {
    try {
      return (await s3.get(bucket, key)).body
    } catch (error) {
      const original = error instanceof FatalError ? error.original : error
      if (statusOf(original) === 404 && (original as Error)?.name !== 'NoSuchBucket') throw await missingObjectError(s3, bucket, key)
      throw userError(error, bucket, s3)
    }
  }, 2)
}

/**
 * The object or file as a stream, from `start` to `end` (both inclusive, as node:fs; either may
 * be left out). Returned at once; a failure to open comes as the stream's 'error'.
 */
export function createReadStream(url: string, options: ConnectOptions & {start?: number; end?: number} = {}): Readable {
  if (parseLocation(url).type !== 's3') return localReadStream(url, options)
  const out = new PassThrough()
  void (async () => {
    const {bucket, key} = parseObjectUrl(url, 'createReadStream')
    const {start, end} = options
    if ((start !== undefined && (!Number.isSafeInteger(start) || start < 0)) || (end !== undefined && (!Number.isSafeInteger(end) || end < (start ?? 0))))
      throw new S3cError(`createReadStream(${url}): start and end are byte offsets, end (inclusive) not before start`, ExitCode.usage)
    const range = start === undefined && end === undefined ? undefined : {start: start ?? 0, end}
    const s3 = await connect(options, 2)
    try {
      await pipeline(await openObject(s3, bucket, key, range), out)
    } finally {
      await s3.close()
    }
  })().catch(error => out.destroy(error as Error))
  return out
}

/**
 * Removes objects and files: s3:// URLs by `s3c rm`'s rule (a key; everything under a prefix
 * ending in "/"; what a wildcard matches; DeleteObjects of 1,000 keys), local paths as files
 * (a wildcard: the files it matches), a local folder only with `recursive` (never the current
 * folder, `/` or the home folder). Returns rm's summary: `removed` counts what was removed, a
 * path or pattern with nothing there is in `unmatched`.
 */
export async function remove(urls: string | string[], opts: ConnectOptions & {dryRun?: boolean; recursive?: boolean} = {}): Promise<RemoveSummary> {
  const all = Array.isArray(urls) ? urls : [urls]
  const remote = all.filter(a => parseLocation(a).type === 's3')
  const local = all.filter(u => parseLocation(u).type !== 's3')
  const summary: RemoveSummary = remote.length
    ? await withS3(opts, s3 => removeObjects(s3, remote, {threadCount: opts.threadCount, dryRun: opts.dryRun}), opts.threadCount ?? transferDefaults.threadCount)
    : {removed: 0, failed: 0, failures: [], unmatched: [], requests: 0, dryRun: opts.dryRun ?? false}
  for (const arg of local) {
    const loc = parseLocation(arg)
    const paths: string[] = []
    if (loc.type === 'local' && loc.wildcard) for await (const f of localGlob(arg)) paths.push(f.url)
    else paths.push(arg)
    let matched = 0
    for (const path of paths) {
      try {
        if (opts.dryRun) {
          if (!(await localStat(path).catch(() => undefined))) continue
          summary.removed++
        } else if (await localRemove(path, {recursive: opts.recursive}) === 'removed') summary.removed++
        else continue
        matched++
      } catch (error) {
        matched++
        summary.failed++
        summary.failures.push({url: path, error: (error as Error).message})
      }
    }
    if (matched === 0) summary.unmatched.push(arg)
  }
  return summary
}
