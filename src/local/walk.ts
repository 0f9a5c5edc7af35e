import {lstatSync, type BigIntStats, type Dirent} from 'node:fs'
import {lstat, readdir, stat} from 'node:fs/promises'
import {excludedFolder, keyFilter, type WalkFilter} from '../base/filter.js'
import {ExitCode, S3cError, describeError} from '../base/errors.js'
import {fsPath, nameFromBytes} from './fs-path.js'

export interface LocalEntry {
  /** Path relative to the walked root, '/'-separated, names spelled as in src/local/fs-path.ts. */
  rel: string
  /** Absolute path in the same spelling: give `fsPath(path)` to node:fs. */
  path: string
  /** A symlink only when links are not followed (a followed link is what it points to). */
  type: 'file' | 'dir' | 'symlink'
  size: number
  /** Modification time in nanoseconds, as a decimal string (stat with bigint: full precision; see src/base/times.ts). */
  mtimeNs: string
  mode: number
  /** Inode and change time (ns, decimal) of a file: the sync state tells a file replaced or rewritten in place by them. */
  ino?: string
  ctimeNs?: string
  /** The entry is a folder (only with `dirs: true`). */
  dir?: boolean
}

/** Why the walk passed over an entry it met. */
export type SkipReason = 'symlink' | 'symlink loop' | 'folder loop' | 'not a regular file'

/** An entry the walk met but that is no file to transfer: skipped for a reason, or failed. */
export interface LocalProblem {
  rel: string
  path: string
  type: 'skipped' | 'failed'
  /** The skip reason, or a one-line error. */
  reason: string
  /** A folder: what it held was not walked. */
  dir: boolean
}

/** An object as a listing gives it (src/s3/storage.ts lists). */
export type {StorageEntry as RemoteEntry} from '../base/storage.js'

export interface WalkOptions extends WalkFilter {
  /** Yield folders too (bundle). */
  dirs?: boolean
  /** Follow symbolic links (also out of the folder), detecting loops; otherwise yield them as links. */
  followSymlinks?: boolean
}

const RESERVED_NAME = 'name holds characters of U+F780–U+F7FF, which s3c uses to spell bytes that are not UTF-8: rename it'

interface DirItem {
  name: string
  /** The name's spelling is ambiguous (see fs-path.ts): the entry fails by name. */
  ambiguous: boolean
  kind: 'file' | 'dir' | 'symlink' | 'other'
  /** Followed links: what the link points to, or why it cannot be followed. */
  target?: BigIntStats
  targetError?: unknown
  /** UTF-8 bytes of the name as it sorts among the keys: a folder `a` sorts as `a/`. */
  sortKey: Buffer
}

interface Frame {
  rel: string
  path: string
  /** dev:ino of this folder, on the stack while it is walked (loop detection). */
  id: string
  items?: DirItem[]
  next: number
}

function kindOf(d: Dirent<Buffer>): DirItem['kind'] {
  return d.isFile() ? 'file' : d.isDirectory() ? 'dir' : d.isSymbolicLink() ? 'symlink' : 'other'
}

function kindOfStats(st: BigIntStats): DirItem['kind'] {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other'
}

const idOf = (st: BigIntStats) => `${st.dev}:${st.ino}`

/**
 * Streams the entries under `root`, one folder at a time: memory holds the folders on the
 * current path, not the tree. Hand-written rather than fast-glob because (1) fast-glob reads
 * names as JS strings, so a name that is not valid UTF-8 is lost (with its whole subtree); here
 * names are read as bytes and spelled reversibly (src/local/fs-path.ts); (2) each folder's
 * entries come sorted in the byte order in which S3 lists keys (a folder `a` sorts as `a/`, so
 * `a-b` < `a/…` < `a0`), so the walk's keys and a ListObjectsV2 listing are two streams in the
 * same order; (3) the symlink policy is ours: links are yielded as links unless
 * `followSymlinks`, and then a link back to a folder on the current path is a loop, not a tree.
 * Every entry met is yielded: a file, a folder (with `dirs`), a link, or a problem (skipped with
 * a reason, failed with an error): nothing is dropped without a word.
 */
export async function* walkLocal(root: string, opts: WalkOptions = {}): AsyncGenerator<LocalEntry | LocalProblem> {
  const base = root.endsWith('/') ? root.slice(0, -1) : root
  const selected = keyFilter(opts)
  const exclude = excludedFolder(opts)
  const follow = !!opts.followSymlinks
  const rootStat = await stat(fsPath(base), {bigint: true})
  const stack: Frame[] = [{rel: '', path: base, id: idOf(rootStat), next: 0}]
  const onPath = new Set([stack[0].id])
  const problem = (rel: string, path: string, type: LocalProblem['type'], reason: string, dir = false): LocalProblem =>
    ({rel, path, type, reason, dir})

  while (stack.length > 0) {
    const frame = stack[stack.length - 1]
    if (!frame.items) {
      try {
        frame.items = await readFolder(frame.path, follow)
      } catch (error) {
        frame.items = []
        if (frame.rel === '') throw new S3cError(`cannot read local folder "${root}" (${describeError(error)}): check its permissions`, ExitCode.usage)
        yield problem(frame.rel, frame.path, 'failed', `cannot read folder (${describeError(error)}); what it holds was not walked`, true)
      }
    }
    const items = frame.items
    if (frame.next >= items.length) {
      stack.pop()
      onPath.delete(frame.id)
      continue
    }
    const item = items[frame.next++]
    const rel = frame.rel ? `${frame.rel}/${item.name}` : item.name
    const path = `${frame.path}/${item.name}`
    const kind = item.target ? kindOfStats(item.target) : item.kind

    if (kind === 'dir') {
      if (exclude?.(rel)) continue
      if (item.ambiguous) {
        yield problem(rel, path, 'failed', `${RESERVED_NAME}; what the folder holds was not walked`, true)
        continue
      }
      let st: BigIntStats
      try {
        st = item.target ?? (await lstat(fsPath(path), {bigint: true}))
      } catch (error) {
        yield problem(rel, path, 'failed', describeError(error), true)
        continue
      }
      if (onPath.has(idOf(st))) {
        // A link is named as a link (no trailing '/'); a folder met twice (a bind mount) as a folder.
        yield problem(rel, path, 'skipped', item.kind === 'symlink' ? 'symlink loop' : 'folder loop', item.kind !== 'symlink')
        continue
      }
      if (opts.dirs && selected(rel)) yield {rel, path, type: 'dir', size: 0, mtimeNs: String(st.mtimeNs), mode: Number(st.mode), dir: true}
      stack.push({rel, path, id: idOf(st), next: 0})
      onPath.add(idOf(st))
      continue
    }
    if (!selected(rel)) continue
    if (item.ambiguous) {
      yield problem(rel, path, 'failed', RESERVED_NAME)
      continue
    }
    if (item.targetError) {
      const code = (item.targetError as {code?: string}).code
      if (code === 'ELOOP') yield problem(rel, path, 'skipped', 'symlink loop')
      else if (code === 'ENOENT') yield problem(rel, path, 'failed', 'symbolic link to something that does not exist')
      else yield problem(rel, path, 'failed', describeError(item.targetError))
      continue
    }
    if (kind === 'other') {
      yield problem(rel, path, 'skipped', 'not a regular file')
      continue
    }
    let st: BigIntStats
    try {
      // Synchronous on purpose (as the download planner's stat): five times cheaper than a
      // promise round trip through the thread pool, and the walk is one loop anyway.
      st = item.target ?? lstatSync(fsPath(path), {bigint: true})
    } catch (error) {
      yield problem(rel, path, 'failed', describeError(error))
      continue
    }
    const type = st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : undefined
    if (!type) {
      // Replaced by something else since the folder was read.
      yield problem(rel, path, 'skipped', 'not a regular file')
      continue
    }
    yield {rel, path, type, size: type === 'file' ? Number(st.size) : 0, mtimeNs: String(st.mtimeNs), mode: Number(st.mode), ino: String(st.ino), ctimeNs: String(st.ctimeNs)}
  }
}

/** One folder's entries, in S3 key order; followed links are resolved first (their kind decides the order). */
async function readFolder(path: string, follow: boolean): Promise<DirItem[]> {
  const dirents = await readdir(fsPath(path), {withFileTypes: true, encoding: 'buffer'})
  const items = dirents.map(d => {
    const {name, ambiguous} = nameFromBytes(d.name)
    return {name, ambiguous, kind: kindOf(d), sortKey: Buffer.alloc(0)} as DirItem
  })
  if (follow) {
    await Promise.all(items.filter(i => i.kind === 'symlink').map(async i => {
      try {
        i.target = await stat(fsPath(`${path}/${i.name}`), {bigint: true})
      } catch (error) {
        i.targetError = error
      }
    }))
  }
  for (const i of items) {
    const dir = (i.target ? i.target.isDirectory() : i.kind === 'dir')
    i.sortKey = Buffer.from(dir ? `${i.name}/` : i.name, 'utf8')
  }
  return items.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey))
}

/** True for what walkLocal yields when an entry is skipped or failed. */
export function isProblem(e: LocalEntry | LocalProblem): e is LocalProblem {
  return e.type === 'skipped' || e.type === 'failed'
}
