/**
 * The plans of `upload` and `download` as plain functions of their inputs: the source's names (a
 * Tree's, or the one file or object named), what the destination holds (a listing, or a lookup
 * by path), the stored sync state, and the plan's options. They yield one decision per name, in
 * key order (UTF-8 bytes): a file with what to do with it (src/state/decide.ts: transfer, check,
 * compare, skip with its reason), or a problem with its reason (a link not followed, an unreadable
 * file, the reserved state key, a key no local file can have). No request, no job, no counter:
 * the verbs (src/verbs/upload.ts, download.ts) turn decisions into work, counts and state entries;
 * the unit tier runs these over in-memory listings (test/unit/plan-transfers.test.ts). cp/sync
 * between two trees have theirs in src/base/plans.ts.
 */
import type {WalkFilter} from '../base/filter.js'
import {keyFilter} from '../base/filter.js'
import type {MergeInput, MergeOrderError} from '../base/keys.js'
import {joinKey} from '../base/location.js'
import type {CopyConditions} from '../base/plans.js'
import type {StorageEntry, TreeName} from '../base/storage.js'
import {isFaithfulName} from '../local/fs-path.js'
import {localPathFor} from '../local/safe-path.js'
import {decideFile, listedObject, type Decision, type FileRule, type ListedObject} from './decide.js'
import {joinSync} from './session.js'
import type {LocalStat, StateEntry} from './state.js'

/** What shapes the plan of an upload or a download (the run's settings are the verb's). */
export interface FilePlanOptions extends WalkFilter {
  /** --force: transfer everything. */
  force?: boolean
  /** --checksum: same size is decided by content. */
  checksum?: boolean
  /** --size-only: a counterpart of the same size is unchanged. */
  sizeOnly?: boolean
  /** cp's conditions, only when one is set (src/base/plans.ts activeConditions: none costs nothing per file). */
  conditions?: CopyConditions
  /** cp/mv --flatten: every file keeps only its base name. */
  flatten?: boolean
  /** s3c retry: these keys only. */
  only?: ReadonlySet<string>
  /** --state-url in the data's bucket: keys that are s3c's states, not data. */
  isState?: (key: string) => boolean
  /** A wildcard source that names nothing: this error once the source is read. */
  noMatch?: () => Error
}

/** A name that is not transferred, and why: counted and reported by the verb, no state entry. */
export interface PlannedProblem {
  kind: 'problem'
  key: string
  /** The local path (upload) or the name under the prefix (download's passed names) or target path. */
  path: string
  /** The bytes it is counted with (0 for what the walk met; the object's size for a download). */
  bytes: number
  status: 'skipped' | 'failed'
  /** The skip's reason, or the failure's one-line message. */
  reason?: string
  /** A failure by an error (the verb words it as every failed file is worded). */
  error?: unknown
}

/** A file to decide: the source's entry, what the merge joined to it, and the decision. */
export interface PlannedFile {
  kind: 'file'
  key: string
  /** The name under the folder or prefix. */
  rel: string
  /** The local path: the source of an upload, the target of a download. */
  path: string
  /** The source as listed: the local file (upload) or the object (download). */
  entry: StorageEntry
  local?: LocalStat
  remote?: ListedObject
  /** The stored state's entry for the key (none after a fallback). */
  state?: StateEntry
  decision: Decision
}

export type FilePlan = PlannedProblem | PlannedFile

/** Both counterparts of a decided file that the jobs need: a check's compare mode, a compare's digest. */
export function transferHints<M>(d: Decision, mode: M): {compare?: M; expectSha256?: string} {
  return {compare: d.action === 'check' ? mode : undefined, expectSha256: d.action === 'compare' ? d.sha256 : undefined}
}

/** A listing given as an array (one HEAD, a test's) as the merge reads it. */
function asAsync<T>(items: AsyncIterable<T> | Iterable<T>): AsyncIterable<T> {
  if (Symbol.asyncIterator in items) return items
  return (async function* () { yield* items })()
}

const ruleOf = (opts: FilePlanOptions): FileRule => ({force: opts.force, checksum: opts.checksum, sizeOnly: opts.sizeOnly, conditions: opts.conditions})
const baseName = (rel: string) => rel.slice(rel.lastIndexOf('/') + 1)
const problemOf = (key: string, path: string, bytes: number, other: {reason: string; failed: boolean}): PlannedProblem =>
  ({kind: 'problem', key, path, bytes, status: other.failed ? 'failed' : 'skipped', reason: other.reason})

export interface UploadPlanInput {
  /** The local side: a Tree's names in key order (src/local/tree.ts), or the one file named; `locate` gives a name's path. */
  local: {names: AsyncIterable<TreeName> | Iterable<TreeName>; locate(rel: string): string}
  /**
   * The objects under the prefix in key order; 'empty': there are none; 'unlisted': not listed
   * (--force, or one file without conditions): a file is checked by its job, or sent with --force;
   * `lookup`: the object at a key, asked for each file the plan keeps (one file: its HEAD).
   */
  remote: AsyncIterable<StorageEntry> | Iterable<StorageEntry> | 'empty' | 'unlisted' | {lookup(key: string): Promise<StorageEntry | undefined>}
  /** The stored state (with a listing only). */
  state?: MergeInput<StateEntry>
  /**
   * The listing could not be merged (a server that lists out of UTF-8 byte order): told once, it
   * returns the whole listing in any order, and every file after is decided against it, without
   * the state (as before the state existed).
   */
  fallback?: (error: MergeOrderError) => AsyncIterable<StorageEntry> | Iterable<StorageEntry> | Promise<AsyncIterable<StorageEntry> | Iterable<StorageEntry>>
}

export interface UploadPlanOptions extends FilePlanOptions {
  /** The key prefix the names go under. */
  prefix: string
  /** `upload FILE s3://b/key`: the one file's key (the names are that one file). */
  single?: {key: string}
}

interface LocalItem {
  key: string
  rel: string
  path: string
  entry?: StorageEntry
  problem?: {reason: string; failed: boolean}
}

/** `s3c upload`'s plan: every local name against the listing and the state, in key order. */
export async function* planUpload(input: UploadPlanInput, opts: UploadPlanOptions): AsyncGenerator<FilePlan> {
  const rule = ruleOf(opts)
  const selected = keyFilter(opts)
  const {only, isState, single} = opts
  const lookup = typeof input.remote === 'object' && 'lookup' in input.remote ? input.remote.lookup : undefined
  const listing = typeof input.remote === 'object' && !('lookup' in input.remote) ? asAsync(input.remote) : undefined

  async function* localItems(): AsyncGenerator<LocalItem> {
    let names = 0
    for await (const n of input.local.names) {
      names++
      const folder = !!n.other?.folder
      // The walk leaves out files the filter does not select; a Tree may not (its contract): selected here.
      if (!folder && !selected(n.rel)) continue
      const rel = opts.flatten && !folder ? baseName(n.rel) : n.rel
      const key = single ? single.key : joinKey(opts.prefix, folder ? `${rel}/` : rel)
      if (only && !only.has(key)) continue
      const path = input.local.locate(n.rel)
      if (n.other || !n.entry) yield {key, rel: n.rel, path, problem: n.other ?? {reason: 'not a regular file', failed: false}}
      else if (isState?.(key)) yield {key, rel: n.rel, path, problem: {reason: 'reserved for s3c state', failed: false}}
      else yield {key, rel: n.rel, path, entry: n.entry}
    }
    if (names === 0 && opts.noMatch) throw opts.noMatch()
  }

  let byKey: Map<string, ListedObject> | undefined
  const tuples = joinSync<LocalItem, StorageEntry>({
    local: {items: localItems(), key: x => x.key},
    remote: listing && {items: listing},
    state: listing && input.state,
  }, 'local', async error => {
    byKey = new Map()
    if (input.fallback) for await (const o of await input.fallback(error)) byKey.set(o.key, listedObject(o))
  })
  for await (const t of tuples) {
    // An object (or a state entry) without a local name: nothing to send, and no entry.
    if (!t.local) continue
    const {key, rel, path, entry: e, problem} = t.local
    if (problem || !e) {
      yield problemOf(key, path, 0, problem!)
      continue
    }
    // mtimeNs is what every local listing gives; a listing without it (a test's) stands in with its ms.
    const local: LocalStat = {size: e.size, mtimeNs: e.mtimeNs ?? String(BigInt(e.lastModifiedMs) * 1_000_000n), ino: e.ino, ctimeNs: e.ctimeNs}
    const found = lookup && await lookup(key)
    const remote = found ? listedObject(found) : t.fallback ? byKey?.get(key) : t.remote && listedObject(t.remote)
    const state = t.fallback ? undefined : t.state
    // Not listed: today's check by the job (a HEAD), unless --force sends it anyway.
    const decision: Decision = input.remote === 'unlisted' && !opts.force ? {action: 'check', reason: 'no state'}
      : decideFile('upload', {local, remote, state}, rule)
    yield {kind: 'file', key, rel, path, entry: e, local, remote, state, decision}
  }
}

export interface DownloadPlanInput {
  /** The objects: a Tree's names in key order (src/s3/tree.ts), or the one object named. */
  remote: {names: AsyncIterable<TreeName> | Iterable<TreeName>}
  /** The stored state. */
  state?: MergeInput<StateEntry>
  /** The listing could not be merged with the state: told once, the rest is decided without it. */
  fallback?: (error: MergeOrderError) => void | Promise<void>
  /**
   * What the destination holds at a path: the regular file's stat, or undefined (nothing, or
   * not worth a look). Throws when the file cannot be written there (a link or a file in the
   * way): the key fails by name, the rest goes on.
   */
  localAt(path: string): LocalStat | undefined
}

export interface DownloadPlanOptions extends FilePlanOptions {
  /** The folder the names are written under. */
  root: string
  /** `download s3://b/key DEST`: the one object's target (undefined: it cannot be written). */
  single?: {path: string | undefined}
}

interface RemoteItem {
  key: string
  rel: string
  entry: StorageEntry
  path?: string
  problem?: string
}

/** `s3c download`'s plan: every object under the prefix against its local file and the state, in key order. */
export async function* planDownload(input: DownloadPlanInput, opts: DownloadPlanOptions): AsyncGenerator<FilePlan> {
  const rule = ruleOf(opts)
  const selected = keyFilter(opts)
  const {only, single} = opts
  const isState = single ? undefined : opts.isState

  async function* objects(): AsyncGenerator<RemoteItem> {
    let files = 0
    for await (const n of input.remote.names) {
      const o = n.entry
      if (!o || !selected(n.rel)) continue
      // A name that holds data but is no file (a key ending with '/'): passed over, and said so.
      if (n.other) {
        yield {key: o.key, rel: n.rel, entry: o, problem: n.other.reason}
        continue
      }
      files++
      if (isState?.(o.key) || (only && !only.has(o.key))) continue
      yield {key: o.key, rel: n.rel, entry: o, path: single ? single.path : localPathFor(opts.root, opts.flatten ? baseName(n.rel) : n.rel)}
    }
    if (files === 0 && !single && opts.noMatch) throw opts.noMatch()
  }

  const tuples = joinSync<never, RemoteItem>({remote: {items: objects(), key: x => x.key}, state: input.state}, 'remote',
    error => input.fallback?.(error))
  for await (const t of tuples) {
    // A state entry without an object: nothing to fetch, and no entry.
    if (!t.remote) continue
    const {key, rel, entry: o, path, problem} = t.remote
    if (problem !== undefined) {
      yield {kind: 'problem', key, path: rel, bytes: o.size, status: 'skipped', reason: problem}
      continue
    }
    if (!path) {
      yield {kind: 'problem', key, path: rel, bytes: o.size, status: 'failed', reason: `key "${key}" would be written outside ${opts.root}; skipped`}
      continue
    }
    if (!isFaithfulName(rel)) {
      yield {kind: 'problem', key, path: rel, bytes: o.size, status: 'failed',
        reason: 'key holds characters of U+F780–U+F7FF that do not spell bytes that are not UTF-8 (s3c\'s rule for such names), so it has no faithful local name'}
      continue
    }
    let local: LocalStat | undefined
    try {
      local = input.localAt(path)
    } catch (error) {
      yield {kind: 'problem', key, path, bytes: o.size, status: 'failed', error}
      continue
    }
    const remote = listedObject(o)
    // Without a state to merge (--no-state, a fallback, one object) this is today's rule: same size is checked.
    const decision = decideFile('download', {local, remote, state: t.state}, rule)
    yield {kind: 'file', key, rel, path, entry: o, local, remote, state: t.state, decision}
  }
}
