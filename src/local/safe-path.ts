import {constants, linkSync, lstatSync, mkdirSync, readlinkSync, realpathSync, renameSync, statSync, symlinkSync, unlinkSync} from 'node:fs'
import {open, rename, unlink, type FileHandle} from 'node:fs/promises'
import {dirname, isAbsolute, join, relative, resolve, sep} from 'node:path'
import {ExitCode, S3cError, describeError} from '../base/errors.js'
import {fsPath} from './fs-path.js'
import {writeSmall} from './small-io.js'
import {writtenStatOf, type WrittenStat} from './small-io-ops.js'
import {utimesValue} from '../base/times.js'

/*
 * Safe local writes: every file s3c writes (download, download-all, download-single, tar
 * extract, and the job handlers behind them, in-process or on BullMQ workers) goes through
 * here, so one rule holds everywhere. It is the rule GNU tar and bsdtar apply when extracting:
 *
 *  - names are checked lexically first: nothing absolute, no "..", no NUL;
 *  - nothing below the destination folder is written through a symlink: every folder from
 *    the destination down is checked with lstat (and created when missing), and a symlink or a
 *    file where a folder is needed fails that file only. The destination itself may be a
 *    symlink (bsdtar's rule: the user chose it);
 *  - files are written under a temporary name opened with O_EXCL, then renamed into place: a
 *    symlink at the final name is replaced, never followed.
 * Paths are s3c's spelling of local names (src/local/fs-path.ts): every node:fs call gets fsPath().
 */

/** A name or path that s3c will not write: that file fails, the run goes on (exit 1). */
export class LocalPathError extends S3cError {
  constructor(message: string) {
    super(message, ExitCode.filesFailed)
    this.name = 'LocalPathError'
  }
}

/**
 * The local path for an S3 key relative to the download folder, or undefined when the key
 * cannot be a file there (a "folder" marker, empty or "." segments, or a name that would
 * escape such as `../x`). Keys are taken as they are: `a//b` and `a/b` are different keys.
 */
export function localPathFor(root: string, rel: string): string | undefined {
  if (!rel || rel.endsWith('/') || !plainSegments(rel)) return undefined
  // Called once per key of a listing: for a root path.resolve would leave as it is, resolving
  // segments checked above is the join itself (path.resolve cost ~1 µs a key).
  if (plainRoot(root)) return `${root}/${rel}`
  const path = resolve(root, ...rel.split('/'))
  return path.startsWith(root + sep) ? path : undefined
}

/** `rel`'s '/'-separated segments are none of '', '.', '..' and it holds no NUL: one pass, no array. */
function plainSegments(rel: string): boolean {
  let start = 0
  for (let i = 0; i <= rel.length; i++) {
    const c = i < rel.length ? rel.charCodeAt(i) : 0x2f
    if (c === 0) return false
    if (c !== 0x2f) continue
    const n = i - start
    // '' , '.' and '..'
    if (n === 0 || (n <= 2 && rel.charCodeAt(start) === 0x2e && (n === 1 || rel.charCodeAt(start + 1) === 0x2e))) return false
    start = i + 1
  }
  return true
}

let lastRoot: string | undefined
let lastRootPlain = false
/**
 * A root that path.resolve returns unchanged, on a system whose separator is '/': then
 * resolve(root, ...plain segments) is root + '/' + the segments. The root '/' is not one: its
 * paths fail the check below (they do not start with '//'), as they always have.
 */
function plainRoot(root: string): boolean {
  if (root !== lastRoot) {
    lastRoot = root
    lastRootPlain = sep === '/' && root !== '/' && isAbsolute(root) && resolve(root) === root
  }
  return lastRootPlain
}

/**
 * A tar member's name as a relative path, as tar extracts it: "." and empty segments dropped
 * (`./x/./y.txt` is `x/y.txt`). Undefined when the name is absolute, climbs with "..", or holds
 * a NUL; '' when it names the destination itself (`./`).
 */
export function memberRelPath(name: string): string | undefined {
  if (name.includes('\0') || name.startsWith('/')) return undefined
  const parts = name.split('/').filter(p => p !== '' && p !== '.')
  if (parts.includes('..')) return undefined
  return parts.join('/')
}

/** Where a tar member lands under root; undefined when it may not (see memberRelPath) or is root itself. */
export function memberPathFor(root: string, name: string): string | undefined {
  const rel = memberRelPath(name)
  return rel ? resolve(root, ...rel.split('/')) : undefined
}

const inside = (root: string, path: string) => path === root || path.startsWith(root + sep)

/**
 * Folders checked (and made) in this process, per destination: thousands of files in one
 * folder cost one lstat per folder. Keyed by root and folder, because a check holds only from
 * that root down: the same path reached from a higher root may pass through a symlink (the
 * destination itself may be one), and a worker serves many runs.
 */
const verifiedDirs = new Set<string>()
const dirKey = (root: string, dir: string) => `${root}\0${dir}`

/** Forget the checks under root (a folder that was checked has gone: something removed it). */
function forgetDirs(root: string): void {
  for (const d of verifiedDirs) if (d.startsWith(`${root}\0`)) verifiedDirs.delete(d)
}

export interface SafeDirOptions {
  /** Create missing folders (default); without, a missing folder ends the check (nothing to write through). */
  create?: boolean
  /** Use and fill the per-process cache (default); links are checked without it. */
  cache?: boolean
  /**
   * Filled with the folders this call made: nothing was in them before (a planner then needs no
   * lstat per file there). Without `create`, with `dir` when it is missing (it would be made), and
   * a later check of the same `dir` returns at once (a dry run into a new folder: no stat per key).
   */
  made?: Set<string>
}

/**
 * Makes sure `dir` (root or a folder under it) can be written into without following a
 * symlink: each folder from root down to dir is a real folder, created when missing.
 * Synchronous: a cached check costs nothing, and an uncached one a few lstat calls.
 */
export function ensureSafeDir(root: string, dir: string, opts: SafeDirOptions = {}): void {
  const create = opts.create ?? true
  const cache = opts.cache ?? true
  // A job queued by an s3c that did not send its destination folder cannot be checked.
  if (!root) throw new LocalPathError('the job names no destination folder (queued by an older s3c?): run the command again')
  if (cache && verifiedDirs.has(dirKey(root, dir))) return
  if (!create && opts.made?.has(dir)) return
  const rel = relative(root, dir)
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new LocalPathError(`${dir} is outside ${root}; skipped`)
  if (!(cache && verifiedDirs.has(dirKey(root, root)))) {
    // The destination itself may be a symlink to a folder (stat, not lstat).
    if (create) {
      try {
        if (mkdirSync(fsPath(root), {recursive: true}) !== undefined) opts.made?.add(root)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
    }
    const st = statSync(fsPath(root), {throwIfNoEntry: false})
    if (!st) {
      opts.made?.add(dir)
      return
    }
    if (!st.isDirectory()) throw new LocalPathError(`${root} is not a folder`)
    if (cache) verifiedDirs.add(dirKey(root, root))
  }
  let at = root
  for (const part of rel === '' ? [] : rel.split(sep)) {
    at = join(at, part)
    if (cache && verifiedDirs.has(dirKey(root, at))) continue
    let st = lstatSync(fsPath(at), {throwIfNoEntry: false})
    if (!st) {
      if (!create) {
        opts.made?.add(dir)
        return
      }
      try {
        mkdirSync(fsPath(at))
        opts.made?.add(at)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      st = lstatSync(fsPath(at))
    }
    if (st.isSymbolicLink()) throw new LocalPathError(`would be written through the symlink ${relative(root, at)}; skipped`)
    if (!st.isDirectory()) throw new LocalPathError(`${relative(root, at)} is a file where a folder is needed; skipped`)
    if (cache) verifiedDirs.add(dirKey(root, at))
  }
}

/** Makes the destination folder, or says in one line why it cannot be used (exit 2, before anything is sent). */
export function usableTarget(root: string, given: string, made?: Set<string>): void {
  try {
    ensureSafeDir(root, root, {made})
  } catch (error) {
    throw new S3cError(`cannot write into "${given}" (${describeError(error)}): give a folder you can write to`, ExitCode.usage)
  }
}

export function tempPathFor(path: string): string {
  return `${path}.s3c-${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`
}

/** A sparse file: its real size, and where its data runs go ([offset in the file, length], stored one after another). */
export interface SparseLayout {
  size: number
  map: [number, number][]
}

export interface WriteOptions {
  /** Modification time in nanoseconds (set at the microseconds a file can hold: src/base/times.ts). */
  mtimeNs?: bigint | string
  mode?: number
  /** `body` holds only the data runs of a sparse file: they are written at their offsets, the rest stays holes. */
  sparse?: SparseLayout
}

/** Below this size, synchronous file calls beat four round trips through libuv's thread pool. */
const SMALL_IO = 256 * 1024

async function writeBody(fh: FileHandle, body: Buffer, sparse?: SparseLayout): Promise<void> {
  if (!sparse) {
    await fh.writeFile(body)
    return
  }
  await fh.truncate(sparse.size)
  let at = 0
  for (const [offset, length] of sparse.map) {
    if (length > 0) await fh.write(body, at, length, offset)
    at += length
  }
}

/**
 * Writes `path` (under root) atomically and without following links: folders checked, a
 * temporary name opened with O_EXCL, mode and mtime set, then renamed over whatever is at
 * `path` (a symlink there is replaced, not followed). Resolves to the file's stat in place, as
 * lstat would give it (see small-io-ops.ts).
 */
export async function writeFileSafely(root: string, path: string, body: Buffer, opts: WriteOptions = {}): Promise<WrittenStat | undefined> {
  for (let attempt = 0; ; attempt++) {
    ensureSafeDir(root, dirname(path))
    const tmp = tempPathFor(path)
    const mtime = opts.mtimeNs === undefined ? undefined : utimesValue(opts.mtimeNs)
    let opened = false
    try {
      if (body.length <= SMALL_IO) {
        const written = await writeSmall({tmp: fsPath(tmp), path: fsPath(path), body, mode: opts.mode, mtime, sparse: opts.sparse})
        if (written.failure) {
          opened = written.failure.opened // the temp file is already removed
          throw Object.assign(new Error(written.failure.message), {code: written.failure.code})
        }
        return written.stat
      }
      const fh = await open(fsPath(tmp), 'wx')
      opened = true
      try {
        await writeBody(fh, body, opts.sparse)
        if (opts.mode !== undefined) await fh.chmod(opts.mode & 0o7777)
        if (mtime) await fh.utimes(new Date(), mtime)
        await rename(fsPath(tmp), fsPath(path))
        // After the rename, on the open file: the ctime the rename gave it (see small-io-ops.ts).
        return writtenStatOf(await fh.stat({bigint: true}))
      } finally {
        await fh.close()
      }
    } catch (error) {
      if (opened) await unlink(fsPath(tmp)).catch(() => undefined)
      // A folder this process had checked was removed since: check (and make) it again, once.
      if (!opened && attempt === 0 && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        forgetDirs(root)
        continue
      }
      throw error
    }
  }
}

/** Creates the temporary file of a file that arrives in ranges, at its final size; returns its path. */
export async function createTempFile(root: string, path: string, size: number): Promise<string> {
  ensureSafeDir(root, dirname(path))
  const tmp = tempPathFor(path)
  const fh = await open(fsPath(tmp), 'wx')
  try {
    await fh.truncate(size)
  } finally {
    await fh.close()
  }
  return tmp
}

/** Opens a temporary file made by createTempFile for writing ranges into it (never through a link). */
export async function openTempFile(root: string, tmp: string): Promise<FileHandle> {
  ensureSafeDir(root, dirname(tmp), {create: false})
  return open(fsPath(tmp), constants.O_WRONLY | constants.O_NOFOLLOW)
}

/**
 * Writes `path` through `fill`, which gets a new temporary file opened with O_EXCL, then
 * renames it into place (folders checked first, a link at `path` replaced).
 */
export async function withTempFile(root: string, path: string, fill: (fh: FileHandle) => Promise<void>): Promise<void> {
  ensureSafeDir(root, dirname(path))
  const tmp = tempPathFor(path)
  const fh = await open(fsPath(tmp), 'wx')
  try {
    try {
      await fill(fh)
    } finally {
      await fh.close()
    }
    await rename(fsPath(tmp), fsPath(path))
  } catch (error) {
    await unlink(fsPath(tmp)).catch(() => undefined)
    throw error
  }
}

/** Renames a finished temporary file into place: folders checked, a link at `path` replaced. */
export async function renameIntoPlace(root: string, tmp: string, path: string): Promise<void> {
  ensureSafeDir(root, dirname(path))
  await rename(fsPath(tmp), fsPath(path))
}

/**
 * Where `path` leads on disk: the symlinks on the way that exist are followed (40 at most, as
 * the kernel does), components that do not exist yet are taken as written.
 */
function followLinks(path: string): string | undefined {
  let todo = path.split(sep).filter(Boolean)
  let at: string = sep
  for (let hops = 0; todo.length > 0;) {
    const part = todo.shift()!
    if (part === '.') continue
    if (part === '..') {
      at = dirname(at)
      continue
    }
    const next = join(at, part)
    let st
    try {
      st = lstatSync(fsPath(next), {throwIfNoEntry: false})
    } catch {
      st = undefined // ENOTDIR and the like: it cannot be followed further
    }
    if (st?.isSymbolicLink()) {
      if (++hops > 40) return undefined
      const target = readlinkSync(fsPath(next), 'utf8')
      todo = [...target.split(sep).filter(Boolean), ...todo]
      if (isAbsolute(target)) at = sep
      continue
    }
    at = next
  }
  return at
}

/** True when `target`, read from the folder of `path`, stays inside root: as written and on disk. */
export function linkTargetInside(root: string, path: string, target: string): boolean {
  if (target === '' || isAbsolute(target) || target.includes('\0')) return false
  if (!inside(root, resolve(dirname(path), target))) return false
  // Not resolve(): "a/b/.." must go through the link a/b before climbing, as the kernel does.
  const real = followLinks(`${dirname(path)}${sep}${target}`)
  return real !== undefined && inside(realRoot(root), real)
}

/** root with its own symlinks resolved (it may be one), for comparing with paths followed on disk. */
function realRoot(root: string): string {
  try {
    return realpathSync(fsPath(root), 'utf8')
  } catch {
    return root
  }
}

/** Replaces what is at `path` (not a folder) with what `make` creates at a temporary name. */
function replaceWith(path: string, make: (tmp: string) => void): void {
  const st = lstatSync(fsPath(path), {throwIfNoEntry: false})
  if (st?.isDirectory()) throw new LocalPathError(`a folder is where the link would go; skipped`)
  const tmp = tempPathFor(path)
  make(tmp)
  try {
    renameSync(fsPath(tmp), fsPath(path))
  } finally {
    // rename() of two names of one file does nothing: the temporary name would stay.
    try {
      unlinkSync(fsPath(tmp))
    } catch {
      // renamed away: the usual case
    }
  }
}

/**
 * Creates the symlink `path` -> `target`, unless the target leads outside root (as written,
 * or through links already on disk) or `path` would be reached through a symlink. `label`
 * names the link in messages.
 */
export function makeSymlinkSafely(root: string, path: string, target: string, label: string): void {
  ensureSafeDir(root, dirname(path), {cache: false})
  if (!linkTargetInside(root, path, target)) throw new LocalPathError(`link "${label}" -> "${target}" points outside ${root}; skipped`)
  replaceWith(path, tmp => symlinkSync(fsPath(target), fsPath(tmp)))
}

/**
 * Creates the hard link `path` to `targetPath`: the target must be a regular file reached
 * from root without symlinks, and `path` must not be reached through one.
 */
export function makeHardLinkSafely(root: string, path: string, targetPath: string, targetLabel: string): void {
  try {
    ensureSafeDir(root, dirname(targetPath), {cache: false, create: false})
  } catch (error) {
    if (!(error instanceof LocalPathError)) throw error
    throw new LocalPathError(`the link target "${targetLabel}" ${error.message.replace(/^would be written/, 'would be reached')}`.replace(/" (\S+ is a file)/, '": $1'))
  }
  const st = lstatSync(fsPath(targetPath), {throwIfNoEntry: false})
  if (!st?.isFile()) throw new LocalPathError(`the link target "${targetLabel}" is not a file extracted under ${root}; skipped`)
  ensureSafeDir(root, dirname(path), {cache: false})
  replaceWith(path, tmp => linkSync(fsPath(targetPath), fsPath(tmp)))
}

/** After all links are made: true when the symlink at `path` still leads inside root (a later link can change where it goes). */
export function symlinkStillInside(root: string, path: string): boolean {
  const real = followLinks(path)
  return real !== undefined && inside(realRoot(root), real)
}
