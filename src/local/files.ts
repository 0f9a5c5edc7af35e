import {createReadStream as fsCreateReadStream} from 'node:fs'
import {lstat, readFile as fsReadFile, readdir, rm, stat as fsStat} from 'node:fs/promises'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import type {Readable} from 'node:stream'
import {ExitCode, S3cError} from '../base/errors.js'
import {literalPrefix, wildcardMatcher} from '../base/wildcard.js'
import {fsPath} from './fs-path.js'
import {isProblem, walkLocal} from './walk.js'

/*
 * The local side of the library's file functions (src/api/files.ts): the same answers for a
 * path as for an s3:// URL. Paths are '/'-separated as the rest of s3c spells them.
 */

/** A file or folder, an object or a "folder" of keys, as the library's stat, list and glob give it. */
export interface FileEntry {
  /** The s3:// URL or the local path. */
  url: string
  /** The whole key (S3: a folder's ends with '/') or the path (local). */
  key: string
  /**
   * The key or path relative to the folder listed, as `s3c ls --json` names it: the last part in a
   * one-level listing and for stat (a folder's ends with '/'), the path under the folder for a
   * recursive listing, under the wildcard's folder for glob.
   */
  name: string
  size: number
  lastModified: Date
  isDirectory: boolean
  etag?: string
  storageClass?: string
}

function missing(path: string): S3cError {
  return new S3cError(`${path} does not exist`, ExitCode.usage, 'ENOENT')
}

export async function localStat(path: string): Promise<FileEntry> {
  const st = await fsStat(fsPath(path)).catch(error => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missing(path)
    throw error
  })
  const last = path.replace(/\/+$/, '').split('/').pop() || path
  return {url: path, key: path, name: st.isDirectory() ? `${last}/` : last, size: st.isDirectory() ? 0 : st.size, lastModified: st.mtime, isDirectory: st.isDirectory()}
}

/** A folder's entries: one level (folders end with '/'), or every file under it (recursive, in S3's byte order). */
export async function* localList(path: string, recursive: boolean): AsyncGenerator<FileEntry> {
  const root = path.replace(/\/+$/, '') || '/'
  if (!(await localStat(root)).isDirectory) throw new S3cError(`${path} is not a folder: give a folder to list`, ExitCode.usage, 'ENOTDIR')
  if (recursive) {
    for await (const e of walkLocal(root)) {
      if (isProblem(e) || e.type !== 'file') continue
      yield {url: join(root, e.rel), key: join(root, e.rel), name: e.rel, size: e.size, lastModified: new Date(Number(BigInt(e.mtimeNs) / 1_000_000n)), isDirectory: false}
    }
    return
  }
  const names = (await readdir(fsPath(root), {withFileTypes: true})).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
  for (const d of names) {
    const full = join(root, d.name)
    const st = await fsStat(full).catch(() => undefined)
    if (!st) continue
    yield {url: full, key: full, name: st.isDirectory() ? `${d.name}/` : d.name, size: st.isDirectory() ? 0 : st.size, lastModified: st.mtime, isDirectory: st.isDirectory()}
  }
}

/** The files a wildcard matches (the rule of base/wildcard.ts against the whole path), walked from the folder before the first wildcard. */
export async function* localGlob(pattern: string): AsyncGenerator<FileEntry> {
  const literal = literalPrefix(pattern)
  const root = literal.endsWith('/') ? literal.slice(0, -1) || '/' : dirname(literal)
  const matches = wildcardMatcher(pattern)
  const st = await fsStat(fsPath(root)).catch(() => undefined)
  if (!st?.isDirectory()) return
  for await (const e of walkLocal(root)) {
    if (isProblem(e) || e.type !== 'file') continue
    const full = root === '.' && !pattern.startsWith('./') ? e.rel : join(root, e.rel)
    if (matches(full)) yield {url: full, key: full, name: e.rel, size: e.size, lastModified: new Date(Number(BigInt(e.mtimeNs) / 1_000_000n)), isDirectory: false}
  }
}

export function localReadFile(path: string): Promise<Buffer> {
  return fsReadFile(fsPath(path)).catch(error => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missing(path)
    throw error
  })
}

/** `end` inclusive, as node:fs. */
export function localReadStream(path: string, range: {start?: number; end?: number}): Readable {
  return fsCreateReadStream(fsPath(path), {start: range.start, end: range.end})
}

/**
 * Removes a file (or a link), or a folder with what it holds only when `recursive` is asked
 * for, and never the current folder, one above it, `/` or the home folder. Tells what happened:
 * 'removed', or 'missing' (nothing there: not counted as removed). A wildcard is expanded
 * (`localGlob`) by the caller, never given to rm.
 */
export async function localRemove(path: string, opts: {recursive?: boolean} = {}): Promise<'removed' | 'missing'> {
  const abs = resolve(path)
  const st = await lstat(fsPath(abs)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  if (!st) return 'missing'
  if (st.isDirectory()) {
    if (!opts.recursive) throw new S3cError(`${path} is a folder: pass {recursive: true} to remove it with what it holds`, ExitCode.usage, 'EISDIR')
    const cwd = process.cwd()
    if (abs === '/' || abs === homedir() || cwd === abs || cwd.startsWith(`${abs}/`))
      throw new S3cError(`${path} is ${abs === '/' ? 'the root folder' : abs === homedir() ? 'the home folder' : 'the current folder or holds it'}: s3c does not remove it`, ExitCode.usage)
    await rm(fsPath(abs), {recursive: true})
  } else {
    await rm(fsPath(abs))
  }
  return 'removed'
}
