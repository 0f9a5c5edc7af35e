import {PassThrough, type Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {stat as fsStat} from 'node:fs/promises'
import {ExitCode, FatalError, S3cError, statusOf} from '../base/errors.js'
import {transferDefaults} from '../run/defaults.js'
import {localGlob, localList, localReadFile, localReadStream, localRemove, localStat, type FileEntry} from '../local/files.js'
import {fsPath} from '../local/fs-path.js'
import {folderPrefix, parseLocation, parseS3} from '../base/location.js'
import {openObject} from '../verbs/cat.js'
import {missingObjectError, noMatchError, parseObjectUrl, userError} from '../verbs/expand.js'
import {listUrl, type LsEntry} from '../verbs/ls.js'
import {removeObjects, type RemoveSummary} from '../verbs/rm.js'
import {statObject} from '../verbs/stat.js'
import {CONNECT_KEYS, checkOptions, libraryCall, libraryError, openConnection, withS3, type ConnectOptions, type Exact} from './connect.js'

/*
 * The library's file functions: each takes an s3:// URL or a local path alike, and the
 * connection options of src/api/connect.ts (else the CLI's configuration). The CLI's ls, cat,
 * head, rm run the same verbs (src/verbs/); entries are named as `s3c ls --json` names them.
 */

export type {FileEntry}

/** What stat tells: the entry, and for an object its content type, metadata and time by s3c's rule. */
export interface StatResult extends FileEntry {
  contentType?: string
  metadata?: Record<string, string>
  /** Decimal seconds since the epoch, s3c's time rule (src/base/times.ts). */
  mtime?: string
}

export interface ListOptions extends ConnectOptions {
  /** Every object / file under the folder, not one level. */
  recursive?: boolean
}

export interface ReadStreamOptions extends ConnectOptions {
  /** The first byte (default 0). */
  start?: number
  /** The last byte, inclusive as node:fs (default: the end). */
  end?: number
}

export interface RemoveOptions extends ConnectOptions {
  /** Count what would be removed, remove nothing. */
  dryRun?: boolean
  /** A local folder with what it holds. */
  recursive?: boolean
}

export const LIST_KEYS = [...CONNECT_KEYS, 'recursive']
export const READ_STREAM_KEYS = [...CONNECT_KEYS, 'start', 'end']
export const REMOVE_KEYS = [...CONNECT_KEYS, 'dryRun', 'recursive']

/** The last part of a key or path: a folder's with '/' at the end. */
function lastPart(key: string): string {
  const folder = key.endsWith('/')
  const parts = key.split('/').filter(Boolean)
  return `${parts.at(-1) ?? ''}${folder && parts.length ? '/' : ''}`
}

/** `s3c ls`'s entry (its key and name) as the library's. */
function fromLs(bucket: string, e: LsEntry): FileEntry {
  const url = `s3://${bucket}/${e.key}`
  if (e.type === 'dir') return {url, key: e.key, name: e.name, size: 0, lastModified: new Date(0), isDirectory: true}
  return {url, key: e.key, name: e.name, size: e.size, lastModified: new Date(e.lastModifiedMs), isDirectory: false, etag: e.etag, storageClass: e.storageClass}
}

/** A key as a wildcard that matches only itself. */
const literal = (key: string) => key.replace(/[\\*?[]/g, '\\$&')

/**
 * `s3c ls`'s listing of `url` as entries; `none`: nothing there is no error (an empty bucket, a
 * glob that matches nothing) but the answer.
 */
async function* lsEntries(url: string, opts: ConnectOptions, none: 'empty' | 'error'): AsyncGenerator<FileEntry> {
  const p = parseS3(url)
  const {s3, release} = await openConnection(opts, 4)
  let found = 0
  try {
    for await (const page of listUrl(s3, url)) {
      for (const e of page) {
        found++
        yield fromLs(p.bucket, e)
      }
    }
  } catch (error) {
    if (!(found === 0 && none === 'empty' && error instanceof S3cError && error.code === 'NotFound')) throw libraryError(error)
  } finally {
    await release()
  }
}

/** An object or a file (or a folder: a local one, a bucket, or an s3:// prefix ending in "/" that holds keys). Missing: NotFound / ENOENT. */
export function stat<O extends ConnectOptions = ConnectOptions>(url: string, options?: Exact<O, ConnectOptions>): Promise<StatResult> {
  return libraryCall(() => statOf(url, checkOptions('stat', options, CONNECT_KEYS)))
}

async function statOf(url: string, opts: ConnectOptions): Promise<StatResult> {
  if (parseLocation(url).type !== 's3') return localStat(url)
  const p = parseS3(url)
  return withS3(opts, async s3 => {
    if (p.kind === 'key') {
      const info = await statObject(s3, p.bucket, p.key)
      return {url, key: p.key, name: lastPart(p.key), size: info.size, lastModified: new Date(info.lastModified), isDirectory: false, etag: info.etag,
        storageClass: info.storageClass, contentType: info.contentType, metadata: info.metadata, mtime: info.mtime}
    }
    if (p.kind === 'wildcard') throw new S3cError(`stat takes one object or folder, not a wildcard: use glob("${url}")`, ExitCode.usage)
    const {empty} = await s3.checkBucket(p.bucket, p.key)
    if (empty && p.kind === 'prefix') throw noMatchError(url)
    return {url, key: p.key, name: lastPart(p.key), size: 0, lastModified: new Date(0), isDirectory: true}
  }, 2)
}

/** Whether an object or file is there: a key, or a prefix with anything under it (a missing bucket: false). */
export async function exists<O extends ConnectOptions = ConnectOptions>(url: string, options?: Exact<O, ConnectOptions>): Promise<boolean> {
  return libraryCall(async () => {
    const opts = checkOptions('exists', options, CONNECT_KEYS)
    if (parseLocation(url).type !== 's3') return await fsStat(fsPath(url)).then(() => true, (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return false
      throw error
    })
    const p = parseS3(url)
    if (p.kind === 'wildcard') throw new S3cError(`exists takes one object or folder, not a wildcard: use glob("${url}")`, ExitCode.usage)
    return withS3(opts, async s3 => {
      if (p.kind === 'bucket') return s3.bucketExists(p.bucket)
      if (p.kind === 'key' && await s3.head(p.bucket, p.key).catch(error => { throw userError(error, p.bucket, s3) })) return true
      return !(await prefixEmpty(s3, p.bucket, folderPrefix(p.key)))
    }, 2)
  })
}

/** Whether it is a folder: a local folder; a bucket, or an s3:// prefix with anything under it (with or without the "/"). */
export async function isDir<O extends ConnectOptions = ConnectOptions>(url: string, options?: Exact<O, ConnectOptions>): Promise<boolean> {
  return libraryCall(async () => {
    const opts = checkOptions('isDir', options, CONNECT_KEYS)
    if (parseLocation(url).type !== 's3') return await fsStat(fsPath(url)).then(st => st.isDirectory(), (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return false
      throw error
    })
    const p = parseS3(url)
    if (p.kind === 'wildcard') throw new S3cError(`isDir takes one object or folder, not a wildcard: use glob("${url}")`, ExitCode.usage)
    return withS3(opts, async s3 => p.kind === 'bucket' ? s3.bucketExists(p.bucket) : !(await prefixEmpty(s3, p.bucket, folderPrefix(p.key))), 2)
  })
}

/** Nothing under the prefix, or no such bucket. */
async function prefixEmpty(s3: Parameters<Parameters<typeof withS3>[1]>[0], bucket: string, prefix: string): Promise<boolean> {
  try {
    return (await s3.checkBucket(bucket, prefix)).empty
  } catch (error) {
    if (error instanceof S3cError && error.code === 'NoSuchBucket') return true
    throw error
  }
}

/**
 * The entries of a folder: one level (sub-folders as entries ending in "/", isDirectory), or
 * with `recursive` every object / file under it. An s3:// URL is a folder whether or not it
 * ends with "/". A folder with nothing in it (but a bucket) is NotFound, as a missing local folder is ENOENT.
 */
export function list<O extends ListOptions = ListOptions>(url: string, options?: Exact<O, ListOptions>): AsyncGenerator<FileEntry> {
  return rejecting(() => listOf(url, checkOptions('list', options, LIST_KEYS)))
}

async function* listOf(url: string, opts: ListOptions): AsyncGenerator<FileEntry> {
  if (parseLocation(url).type !== 's3') {
    yield* localList(url, opts.recursive ?? false)
    return
  }
  const p = parseS3(url)
  if (p.kind === 'wildcard') throw new S3cError(`list takes a folder, not a wildcard: use glob("${url}")`, ExitCode.usage)
  const folder = `s3://${p.bucket}/${literal(folderPrefix(p.key))}`
  yield* lsEntries(opts.recursive ? `${folder}*` : folder, opts, p.key === '' ? 'empty' : 'error')
}

/**
 * The objects or files a wildcard matches, by s3c's one rule (base/wildcard.ts: * and ** match
 * any characters including "/", ? one, [a-z] a class, \ a literal), matched against the whole
 * key (or path); listed from the text before the first wildcard, as `s3c ls` lists it. Nothing
 * matched: nothing yielded.
 */
export function glob<O extends ConnectOptions = ConnectOptions>(pattern: string, options?: Exact<O, ConnectOptions>): AsyncGenerator<FileEntry> {
  return rejecting(() => globOf(pattern, checkOptions('glob', options, CONNECT_KEYS)))
}

async function* globOf(pattern: string, opts: ConnectOptions): AsyncGenerator<FileEntry> {
  if (parseLocation(pattern).type !== 's3') {
    yield* localGlob(pattern)
    return
  }
  const p = parseS3(pattern)
  // A pattern without a wildcard names one object: as a wildcard that matches only that key.
  yield* lsEntries(p.kind === 'wildcard' ? pattern : `s3://${p.bucket}/${literal(p.key)}`, opts, 'empty')
}

/** The entries `make` yields (it runs when the iteration starts), every failure a libraryError. */
async function* rejecting<T>(make: () => AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    yield* make()
  } catch (error) {
    throw libraryError(error)
  }
}

/** The whole object or file. */
export function readFile<O extends ConnectOptions = ConnectOptions>(url: string, options?: Exact<O, ConnectOptions>): Promise<Buffer> {
  return libraryCall(() => readFileOf(url, checkOptions('readFile', options, CONNECT_KEYS)))
}

async function readFileOf(url: string, opts: ConnectOptions): Promise<Buffer> {
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
 * be left out). Returned at once; a failure to open comes as the stream's 'error' (an S3cError);
 * bad options throw here, as node:fs's do.
 */
export function createReadStream<O extends ReadStreamOptions = ReadStreamOptions>(url: string, options?: Exact<O, ReadStreamOptions>): Readable {
  const opts = checkOptions('createReadStream', options, READ_STREAM_KEYS)
  const out = new PassThrough()
  void (async () => {
    const {start, end} = opts
    if ((start !== undefined && (!Number.isSafeInteger(start) || start < 0)) || (end !== undefined && (!Number.isSafeInteger(end) || end < (start ?? 0))))
      throw new S3cError(`createReadStream(${url}): start and end are byte offsets, end (inclusive) not before start`, ExitCode.usage)
    if (parseLocation(url).type !== 's3') {
      if ((await localStat(url)).isDirectory) throw new S3cError(`createReadStream(${url}): it is a folder`, ExitCode.usage, 'EISDIR')
      await pipeline(localReadStream(url, {start, end}), out)
      return
    }
    const {bucket, key} = parseObjectUrl(url, 'createReadStream')
    const range = start === undefined && end === undefined ? undefined : {start: start ?? 0, end}
    const {s3, release} = await openConnection(opts, 2)
    try {
      await pipeline(await openObject(s3, bucket, key, range), out)
    } finally {
      await release()
    }
  })().catch(error => out.destroy(libraryError(error)))
  return out
}

/**
 * Removes objects and files: s3:// URLs by `s3c rm`'s rule (a key; everything under a prefix
 * ending in "/"; what a wildcard matches; DeleteObjects of 1,000 keys), local paths as files
 * (a wildcard: the files it matches), a local folder only with `recursive` (never the current
 * folder, `/` or the home folder). Returns rm's summary: `removed` counts what was removed, a
 * path or pattern with nothing there is in `unmatched`.
 */
export function remove<O extends RemoveOptions = RemoveOptions>(urls: string | string[], options?: Exact<O, RemoveOptions>): Promise<RemoveSummary> {
  return libraryCall(() => removeOf(urls, checkOptions('remove', options, REMOVE_KEYS)))
}

async function removeOf(urls: string | string[], opts: RemoveOptions): Promise<RemoveSummary> {
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
