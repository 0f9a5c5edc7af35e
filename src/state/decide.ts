/**
 * What to do with one key, from the merged local stat, listing entry and sync state alone (no
 * request). The rule (docs/DESIGN-state.md, "The decision"): the state only turns today's check
 * (a HEAD, then the time rule or a content compare) into a skip when it proves more than that
 * check would (the object is the one s3c recorded, by ETag and size, and the local file is the
 * one it recorded, by size and mtime, and inode and ctime when known), and into a transfer when
 * something is known to have changed since. Everything else stays a check, today's behaviour.
 */
import {keptByConditions, type CopyConditions} from '../base/plans.js'
import {normalizeEtag, type LocalStat, type StateEntry} from './state.js'

/** An object as a listing gives it. */
export interface ListedObject {
  size: number
  etag?: string
  lastModifiedMs: number
}

/** An object as the sync decision sees it, from a listing's entry. */
export function listedObject(o: {size: number; etag?: string; lastModifiedMs: number}): ListedObject {
  return {size: o.size, etag: o.etag, lastModifiedMs: o.lastModifiedMs}
}

/** One merged key (src/base/keys.ts `Joined`, with the planner's local stat). */
export interface SyncTuple {
  /** The local regular file (absent: none, or not a regular file). */
  local?: LocalStat
  remote?: ListedObject
  state?: StateEntry
}

export interface DecideOptions {
  /** --force: transfer everything. */
  force?: boolean
  /** --checksum: same size is decided by content, never by time. */
  checksum?: boolean
}

export type Reason =
  | 'no source'         // nothing to send: upload with no local file, download with no object
  | 'forced'            // --force
  | 'new'               // no counterpart yet
  | 'size differs'      // the listing shows another size than the local file
  | 'no state'          // nothing recorded (or not usable for this key): today's check
  | 'object replaced'   // the listed ETag or size is not what was recorded: another writer
  | 'object rewritten'  // same ETag, another Last-Modified: same bytes written again, metadata may differ
  | 'local changed'     // the local size or mtime is not what was recorded
  | 'local replaced'    // same size and mtime, another inode or ctime (rename over it, mtime put back)
  | 'unchanged'         // both sides are what was recorded
  | 'checksum'          // --checksum without a recorded digest of this object: today's content check
  | 'checksum (state)'  // --checksum: the object is the one recorded, compare the local file with the recorded SHA-256
  | 'exists'            // cp's conditions (-n, --if-size-differ, --if-source-newer) keep what the destination holds
  | 'same size'         // --size-only: the destination has the source's size

export interface Decision {
  /**
   * none: nothing to do; skip: unchanged, no request; transfer: send (or fetch) it; check:
   * today's HEAD + time rule / content compare; compare: hash the local file and compare with
   * `sha256` (no request): equal is a skip, different a transfer.
   */
  action: 'none' | 'skip' | 'transfer' | 'check' | 'compare'
  reason: Reason
  /** With `compare`: the SHA-256 (hex) the object's content is known to have. */
  sha256?: string
}

const decision = (action: Decision['action'], reason: Reason, sha256?: string): Decision =>
  sha256 === undefined ? {action, reason} : {action, reason, sha256}

/** The listed object is the one the state recorded: same ETag and size (and Last-Modified, when recorded). */
function objectAsRecorded(remote: ListedObject, state: StateEntry): 'same' | 'replaced' | 'rewritten' {
  const etag = normalizeEtag(remote.etag)
  if (etag === undefined || etag !== state.etag || remote.size !== state.size) return 'replaced'
  if (state.lastModifiedMs !== undefined && remote.lastModifiedMs !== state.lastModifiedMs) return 'rewritten'
  return 'same'
}

/** The local file is the one the state recorded: size and mtime, then inode and ctime where both sides know them. */
function localAsRecorded(local: LocalStat, state: StateEntry): 'same' | 'changed' | 'replaced' {
  const was = state.local
  if (local.size !== was.size || local.mtimeNs !== was.mtimeNs) return 'changed'
  if (local.ino !== undefined && was.ino !== undefined && local.ino !== was.ino) return 'replaced'
  if (local.ctimeNs !== undefined && was.ctimeNs !== undefined && local.ctimeNs !== was.ctimeNs) return 'replaced'
  return 'same'
}

/** Both directions once both sides exist with the same size. */
function decideSameSize(t: Required<Pick<SyncTuple, 'local' | 'remote'>> & SyncTuple, opts: DecideOptions, direction: 'upload' | 'download'): Decision {
  const {local, remote, state} = t
  // A state entry must describe this size on both sides, or it says nothing about this pair.
  if (!state || state.local.size !== local.size) {
    return opts.checksum ? decision('check', 'checksum') : decision('check', 'no state')
  }
  const object = objectAsRecorded(remote, state)
  if (opts.checksum) {
    // Content decides: the local file is read whatever its stat says. The recorded digest stands
    // for the object's content only while the object is the one recorded.
    if (object === 'same' && state.sha256) return decision('compare', 'checksum (state)', state.sha256)
    return decision('check', 'checksum')
  }
  // Another writer's object: its time says nothing we can trust (it may carry any mtime).
  if (object === 'replaced') return decision('transfer', 'object replaced')
  if (object === 'rewritten') return decision('check', 'object rewritten')
  const file = localAsRecorded(local, state)
  if (file === 'changed') {
    // Upload: the file was touched or rewritten since it was sent, so it is sent again (the
    // object holds the recorded time, which is not the file's now). Download: the object is the
    // one recorded and the local file was changed: today's check compares times and content,
    // and fetches only if the content differs.
    return direction === 'upload' ? decision('transfer', 'local changed') : decision('check', 'local changed')
  }
  if (file === 'replaced') {
    // Same size and mtime but another file: what the time rule would miss (its check would skip
    // it). The recorded digest, when there is one, tells by content without a request; without
    // one the file moves again: a change the state can see is never skipped.
    return state.sha256 ? decision('compare', 'local replaced', state.sha256) : decision('transfer', 'local replaced')
  }
  return decision('skip', 'unchanged')
}

/** Upload: the local file is the source. */
export function decideUpload(t: SyncTuple, opts: DecideOptions = {}): Decision {
  if (!t.local) return decision('none', 'no source')
  if (opts.force) return decision('transfer', 'forced')
  if (!t.remote) return decision('transfer', 'new')
  if (t.remote.size !== t.local.size) return decision('transfer', 'size differs')
  return decideSameSize({...t, local: t.local, remote: t.remote}, opts, 'upload')
}

/** Download: the object is the source. */
export function decideDownload(t: SyncTuple, opts: DecideOptions = {}): Decision {
  if (!t.remote) return decision('none', 'no source')
  if (opts.force) return decision('transfer', 'forced')
  if (!t.local) return decision('transfer', 'new')
  if (t.remote.size !== t.local.size) return decision('transfer', 'size differs')
  return decideSameSize({...t, local: t.local, remote: t.remote}, opts, 'download')
}

/** The whole rule for one file of an upload or a download: the state's decision, after cp's conditions and --size-only. */
export interface FileRule extends DecideOptions {
  conditions?: CopyConditions
  sizeOnly?: boolean
}

/**
 * One file of an upload or a download, decided from the merged tuple alone: cp's conditions
 * against what the destination holds (`exists`), --size-only (`same size`), then the state's
 * rule (decideUpload, decideDownload). Both skips say nothing about the pair being in sync: they
 * record no state entry.
 */
export function decideFile(direction: 'upload' | 'download', t: SyncTuple, rule: FileRule = {}): Decision {
  // The hot path (no conditions, no --size-only) goes straight to the state's rule: no time parsed per file.
  if (rule.conditions || rule.sizeOnly) {
    const file = t.local && {size: t.local.size, mtimeMs: rule.conditions?.ifSourceNewer ? Number(BigInt(t.local.mtimeNs) / 1_000_000n) : undefined}
    const object = t.remote && {size: t.remote.size, mtimeMs: t.remote.lastModifiedMs}
    const [source, dest] = direction === 'upload' ? [file, object] : [object, file]
    if (!source) return decision('none', 'no source')
    if (keptByConditions(rule.conditions, source, dest)) return decision('skip', 'exists')
    if (rule.sizeOnly && !rule.force && dest?.size === source.size) return decision('skip', 'same size')
  }
  return direction === 'upload' ? decideUpload(t, rule) : decideDownload(t, rule)
}

/** A skip that only the user's flags decided (conditions, --size-only): the pair is not known to be in sync. */
export const skippedByFlags = (d: Decision): boolean => d.action === 'skip' && (d.reason === 'exists' || d.reason === 'same size')

/** What is known of an object once a pair is in sync (after a transfer, a check or a skip). */
export interface SyncedObject {
  size: number
  etag?: string
  lastModifiedMs?: number
  mtime?: string
  sha256?: string
}

/**
 * The state entry for a pair known to be in sync: after a transfer (the PUT's or GET's ETag,
 * never the listing's: the object may have changed in between), after a check that found it
 * unchanged, or after a skip (the listing's ETag and Last-Modified, the recorded mtime and
 * digest carried forward). Undefined when the ETag is unknown: nothing is recorded, and the next
 * run checks that key (some servers answer a completed multipart upload without an ETag).
 */
export function syncedEntry(key: string, object: SyncedObject, local: LocalStat): StateEntry | undefined {
  const etag = normalizeEtag(object.etag)
  if (etag === undefined || object.size !== local.size) return undefined
  const e: StateEntry = {key, size: object.size, etag, local: {size: local.size, mtimeNs: local.mtimeNs}}
  if (object.lastModifiedMs !== undefined) e.lastModifiedMs = object.lastModifiedMs
  if (object.mtime !== undefined) e.mtime = object.mtime
  if (object.sha256 !== undefined) e.sha256 = object.sha256
  if (local.ino !== undefined) e.local.ino = local.ino
  if (local.ctimeNs !== undefined) e.local.ctimeNs = local.ctimeNs
  return e
}

/** The entry a skip carries into the new state: the listing's view of the object, the rest as recorded. */
export function carriedEntry(key: string, remote: ListedObject, state: StateEntry, local: LocalStat): StateEntry | undefined {
  return syncedEntry(key, {size: remote.size, etag: remote.etag, lastModifiedMs: remote.lastModifiedMs, mtime: state.mtime, sha256: state.sha256}, local)
}
