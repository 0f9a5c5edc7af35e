import type {WalkFilter} from './filter.js'
import {compareKeys, mergeByKey} from './keys.js'
import {treeFiles, type StorageEntry, type Tree, type TreeName} from './storage.js'

/*
 * The planners' decisions, as functions of listings (trees) and options: no request, no job,
 * no counter. Verbs turn each decision into work and counts; the unit tier runs these over
 * in-memory trees (test/unit/memory-tree.ts).
 */

/** cp's conditions (-n, --if-size-differ, --if-source-newer), for every direction. */
export interface CopyConditions {
  /** -n: never overwrite. */
  noClobber?: boolean
  /** Copy only when the sizes differ. */
  ifSizeDiffer?: boolean
  /** Copy only when the source is newer than the destination. */
  ifSourceNewer?: boolean
}

/** One side of a copy as the conditions see it: its size and its time (ms: an object's Last-Modified, a file's mtime). */
export interface SideFacts {
  size: number
  mtimeMs?: number
}

/** The conditions that are set, or undefined when none is (no HEAD, no stat is spent on them). */
export function activeConditions(c: CopyConditions | undefined): CopyConditions | undefined {
  return c && (c.noClobber || c.ifSizeDiffer || c.ifSourceNewer) ? c : undefined
}

/**
 * cp's conditions against what the destination holds (a listing, a HEAD, an lstat): true when
 * the copy is to be skipped ("exists"). Nothing there: never skipped. One rule for upload,
 * download and S3→S3 copies, in-process and on workers.
 */
export function keptByConditions(c: CopyConditions | undefined, source: SideFacts, dest: SideFacts | undefined): boolean {
  if (!c || !dest) return false
  if (c.noClobber) return true
  if (c.ifSizeDiffer && dest.size === source.size) return true
  return !!c.ifSourceNewer && source.mtimeMs !== undefined && dest.mtimeMs !== undefined && dest.mtimeMs >= source.mtimeMs
}

/** One source file and what to do with it. */
export interface CopyDecision {
  rel: string
  entry: StorageEntry
  /** copy: send it; check: same size, the copy job's time rule decides; skip: nothing to do (`reason`). */
  action: 'copy' | 'check' | 'skip'
  reason?: string
}

/**
 * sync S3→S3's rule for one object and what the destination holds under its name: copy it,
 * skip it (same size and the same ETag, or --size-only), or check it (same size: the copy job's
 * time rule decides).
 */
export function decideSyncCopy(src: StorageEntry, there: StorageEntry | undefined, opts: {force?: boolean; sizeOnly?: boolean}): 'copy' | 'check' | 'skip' {
  if (!there || there.size !== src.size || opts.force) return 'copy'
  return opts.sizeOnly || (src.etag !== undefined && src.etag === there.etag) ? 'skip' : 'check'
}

/**
 * sync's copy plan between two trees: every source file the filter selects, in key order, with
 * its decision against the destination's file of the same name. One loose merge: a name the
 * destination lists out of order is copied again, never skipped unseen. A selected name that is
 * no file (an S3 key ending with '/' holding data) is a skip with its reason.
 */
export async function* planTreeCopy(source: Tree, dest: Tree, opts: {filter?: WalkFilter; force?: boolean; sizeOnly?: boolean}): AsyncGenerator<CopyDecision> {
  const passed: CopyDecision[] = []
  const merged = mergeByKey<{src: {rel: string; entry: StorageEntry}; dst: {rel: string; entry: StorageEntry}}>({
    src: {items: treeFiles(source, opts.filter, (rel, entry, reason) => { passed.push({rel, entry, action: 'skip', reason}) }), key: f => f.rel, label: source.label},
    dst: {items: treeFiles(dest), key: f => f.rel, label: dest.label},
  }, {order: 'loose'})
  for await (const m of merged) {
    // Read ahead by the merge: a passed name is handed on in its place in key order.
    while (passed.length > 0 && compareKeys(passed[0].rel, m.key) < 0) yield passed.shift()!
    if (!m.src) continue
    const action = decideSyncCopy(m.src.entry, m.dst?.entry, opts)
    yield action === 'skip' ? {rel: m.key, entry: m.src.entry, action, reason: 'unchanged'} : {rel: m.key, entry: m.src.entry, action}
  }
  yield* passed.splice(0)
}

/**
 * sync --delete's decision, for every direction: the destination's files (that the filter
 * selects) for which the source has no name at all, in key order. One merge of the two trees;
 * a name that looks absent is confirmed by `source.absent` before it is yielded (a listing out
 * of byte order can make a name the source has look missing), and nothing under a source folder
 * that could not be read is yielded (what it holds is unknown). With `emptySource`, a source
 * that has no name at all is that error before anything is yielded: a mistyped prefix lists
 * nothing, and would otherwise name the whole destination.
 */
export async function* onlyInDestination(source: Tree, dest: Tree, filter: WalkFilter = {},
  opts: {emptySource?: () => Error} = {}): AsyncGenerator<{rel: string; entry: StorageEntry}> {
  const unread: string[] = []
  let names = 0
  let sourceRead = false
  async function* sourceNames(): AsyncGenerator<TreeName> {
    for await (const n of source.names(filter)) {
      if (n.other?.folder && n.other.failed) unread.push(`${n.rel}/`)
      names++
      yield n
    }
    sourceRead = true
  }
  const merged = mergeByKey<{source: TreeName; dest: {rel: string; entry: StorageEntry}}>({
    source: {items: sourceNames(), key: n => n.rel, label: source.label},
    dest: {items: treeFiles(dest, filter), key: n => n.rel, label: dest.label},
  }, {order: 'loose'})
  for await (const m of merged) {
    // The merge reads every input's first item before it yields: an empty source is known here,
    // before anything is deleted.
    if (opts.emptySource && sourceRead && names === 0) throw opts.emptySource()
    if (!m.dest || m.source) continue
    if (unread.some(p => m.key.startsWith(p))) continue
    if (await source.absent(m.key)) yield m.dest
  }
  if (opts.emptySource && names === 0) throw opts.emptySource()
}

/**
 * A wildcard source's names, refused when there is none (`none()`, thrown once the listing is
 * over): cp/mv/upload/download of a wildcard that matches nothing fail in one line, as ls and rm
 * do, instead of ending with exit 0 having done nothing.
 */
export async function* atLeastOne<T>(items: AsyncIterable<T>, none: (() => Error) | undefined): AsyncGenerator<T> {
  let n = 0
  for await (const item of items) {
    n++
    yield item
  }
  if (n === 0 && none) throw none()
}
