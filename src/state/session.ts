/**
 * The sync state as one run uses it (docs/DESIGN-state.md, "How the planner uses it"): the
 * verified state read at the start, the three-way merge with the run's walk or listing, and the
 * new state written as results come in (slots in key order, a bounded reorder buffer, the
 * streaming writer). The planners (upload, download) decide per key and tell this what became
 * of each file; no S3 here (the storage is injected).
 */
import {tmpdir} from 'node:os'
import {describeError} from '../base/errors.js'
import {carriedEntry, syncedEntry, type ListedObject} from './decide.js'
import {compareKeys, mergeByKey, MergeOrderError, type Joined, type MergeInput} from '../base/keys.js'
import {ReorderBuffer} from './reorder.js'
import {loadState, STATE_FORMAT, stateName, StateWriter, type LoadedState, type LocalStat, type StateEntry, type StateIdentity, type StateStorage} from './state.js'

export interface SyncSessionOptions {
  storage: StateStorage
  identity: StateIdentity
  /** Read the stored state (false: none to compare with, e.g. an empty prefix or --force). */
  read: boolean
  /** Write a new state at the end (false: --dry-run, s3c retry, detached runs: nobody collects their outcomes). */
  write: boolean
  /** Entries held at most while waiting for a slow job at the head (see ReorderBuffer). */
  capacity: number
  /** One line for the user (stderr): a state not used or not written. */
  warn: (line: string) => void
  /** True once the run was stopped: a state read failing then is the stop, not a warning. */
  stopped?: () => boolean
}

/**
 * A job's outcome for one file, as far as the session reads it: the runner hands it a FileOutcome
 * of jobs/types.ts, which has these fields and more (the state sits below jobs/ on the map).
 */
export interface SettledFile {
  key: string
  status: 'done' | 'skipped' | 'failed'
  /** What the job's requests answered of the object and, after a download, the local file (FileSyncInfo). */
  state?: {etag?: string; mtime?: string; sha256?: string; local?: LocalStat}
}

/** What the planner knew of a file it handed to a job: enough to make its entry from the job's result. */
interface Pending {
  slot: number
  size: number
  local?: LocalStat
  remote?: ListedObject
  state?: StateEntry
}

const CHECKS = 'every same-size file is checked with a HEAD this run'

export class SyncSession {
  private loaded?: LoadedState
  private writer?: StateWriter
  private buffer?: ReorderBuffer<StateEntry>
  private readonly pending = new Map<string, Pending>()

  private constructor(private readonly opts: SyncSessionOptions) {}

  /**
   * Reads the stored state (verified whole before use) and starts the new one. A state that is
   * missing, damaged or unreadable is one warning at most: the run does today's HEAD checks.
   */
  static async open(opts: SyncSessionOptions): Promise<SyncSession> {
    const s = new SyncSession(opts)
    if (opts.read) {
      try {
        s.loaded = await loadState(opts.storage, opts.identity, tmpdir(), rejected => opts.warn(`${rejected.message}; ${CHECKS}`))
      } catch (error) {
        if (opts.stopped?.()) throw error
        opts.warn(`sync state not read (${describeError(error)}); ${CHECKS}`)
      }
    }
    if (opts.write) {
      const {identity, storage} = opts
      const header = {...identity, written: new Date().toISOString()}
      s.writer = new StateWriter(header, body => storage.put(stateName(identity), body, {format: STATE_FORMAT, ...header}))
      s.buffer = new ReorderBuffer<StateEntry>({capacity: opts.capacity, overflow: 'forfeit', sink: e => s.writer!.write(e)})
    }
    return s
  }

  /** The stored state's entries in key order (a merge input), when one was read. */
  stateInput(): MergeInput<StateEntry> | undefined {
    return this.loaded && {items: this.loaded.read()}
  }

  /** Entries the stored state had (0 without one). */
  get storedEntries(): number {
    return this.loaded?.entries ?? 0
  }

  /** A file decided without a job (a skip, a check or compare the planner did): its entry, in key order. */
  async record(key: string, entry: StateEntry | undefined): Promise<void> {
    const slot = await this.reserve()
    if (slot !== undefined) this.buffer?.fill(slot, entry)
  }

  /** A file handed to a job, in key order: its entry is made when `settle` gets the job's outcome. */
  async expect(key: string, what: Omit<Pending, 'slot'>): Promise<void> {
    const slot = await this.reserve()
    if (slot !== undefined) this.pending.set(key, {slot, ...what})
  }

  /** A job's outcome for one file (in-process runs: every result comes here). */
  settle(outcome: SettledFile): void {
    const p = this.pending.get(outcome.key)
    if (!p) return
    this.pending.delete(outcome.key)
    this.buffer?.fill(p.slot, outcome.status === 'failed' ? undefined : entryOf(outcome, p))
  }

  /** The merge fell back (keys out of order) or writing failed: no new state this run, the stored one stays. */
  stopWriting(reason: string): void {
    if (!this.writer) return
    this.opts.warn(`sync state not written: ${reason}`)
    this.writer.abort()
    this.buffer = undefined
    this.pending.clear()
  }

  private async reserve(): Promise<number | undefined> {
    if (!this.buffer) return undefined
    try {
      return await this.buffer.reserve()
    } catch (error) {
      // The writer failed (S3 refused the state's upload): the run goes on without it.
      this.stopWriting(`${describeError(error)}; the next run checks with HEADs`)
      return undefined
    }
  }

  /** The run ended well: writes the new state (it replaces the stored one only once complete). Never throws. */
  async finish(): Promise<void> {
    try {
      if (this.buffer && this.writer) {
        // Jobs that never reported (none in a run that drained) give their slots up.
        if (this.pending.size > 0) this.buffer.forfeitPending()
        await this.buffer.close()
        await this.writer.finish()
      }
    } catch (error) {
      this.stopWriting(`${describeError(error)}; the next run checks with HEADs`)
      await this.writer?.settled()
    } finally {
      await this.loaded?.dispose()
    }
  }

  /** The run stopped (Ctrl-C, a fatal error): the new state is abandoned, the stored one stays valid. */
  async abort(): Promise<void> {
    this.writer?.abort()
    await this.writer?.settled()
    await this.loaded?.dispose()
  }
}

/** The entry for a file a job left in sync: what the job's requests answered, else (a skip by digest) the listing and the state. */
function entryOf(outcome: SettledFile, p: Pending): StateEntry | undefined {
  const s = outcome.state
  const local = s?.local ?? p.local
  if (!local) return undefined
  if (s?.etag) return syncedEntry(outcome.key, {size: p.size, etag: s.etag, mtime: s.mtime, sha256: s.sha256}, local)
  if (outcome.status === 'skipped' && p.remote && p.state) return carriedEntry(outcome.key, p.remote, p.state, local)
  return undefined
}

/**
 * A listing's pages as one stream of objects, each page checked whole for S3 key order before
 * any of its objects is handed on: a server that lists in another order (fauxqs sorts by
 * localeCompare) is found out before the merge joins a key of that page, so the merge does not
 * take a file for new because its object is listed further on.
 */
export async function* inKeyOrder<T extends {key: string}>(pages: AsyncIterable<T[]>): AsyncGenerator<T> {
  let previous: string | undefined
  for await (const page of pages) {
    for (const o of page) {
      if (previous !== undefined && compareKeys(previous, o.key) >= 0) throw new MergeOrderError('the S3 listing', previous, o.key)
      previous = o.key
    }
    yield* page
  }
}

/** A merged key, with `fallback` once the merge gave up (keys out of order): then only the source side is known. */
export type SyncTupleOf<L, R> = Joined<L, R, StateEntry> & {fallback?: boolean}

/**
 * An input the merge may close without closing what it reads: after a MergeOrderError the run
 * goes on with the source alone, from the items the merge took but had not yet joined.
 */
class Resumable<T> implements AsyncIterable<T> {
  /** The last items handed to the merge (it reads one ahead, so at most two are not yet joined). */
  readonly recent: T[] = []
  /** The read in flight: the merge may give up while it runs (it reads its inputs side by side). */
  private reading?: Promise<unknown>
  constructor(readonly it: AsyncIterator<T>) {}
  /** Waits for the read in flight, so that `recent` holds everything handed out. */
  async settled(): Promise<void> {
    await this.reading?.catch(() => undefined)
  }
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const read = this.it.next().then(r => {
          if (!r.done) {
            this.recent.push(r.value)
            if (this.recent.length > 2) this.recent.shift()
          }
          return r
        })
        this.reading = read
        return read
      },
      return: async () => ({done: true, value: undefined}),
    }
  }
}

/**
 * The three-way merge of the source (the local walk for an upload, the listing for a download)
 * with the other side and the stored state. A server that lists out of UTF-8 byte order cannot be
 * merged: then `onFallback` is told once, and the rest of the source comes alone, marked
 * `fallback` (the planner checks each file as before the state existed). Keys joined before
 * stand: each was decided once every input had passed it.
 */
export async function* joinSync<L, R>(inputs: {local?: MergeInput<L>; remote?: MergeInput<R>; state?: MergeInput<StateEntry>},
  source: 'local' | 'remote', onFallback: (error: MergeOrderError) => void | Promise<void>): AsyncGenerator<SyncTupleOf<L, R>> {
  const src = inputs[source] as MergeInput<L | R>
  const keyOf = src.key ?? ((x: L | R) => (x as {key: string}).key)
  const resumable = new Resumable<L | R>(src.items[Symbol.asyncIterator]())
  const wrapped = {...inputs, [source]: {items: resumable, key: keyOf}}
  let last: L | R | undefined
  try {
    try {
      for await (const t of mergeByKey(wrapped as typeof inputs)) {
        const item = t[source]
        if (item !== undefined) last = item
        yield t
      }
      return
    } catch (error) {
      if (!(error instanceof MergeOrderError)) throw error
      await onFallback(error)
    }
    // The items the merge took and did not join, then the rest of the source.
    await resumable.settled()
    const i = last === undefined ? -1 : resumable.recent.indexOf(last)
    const left = resumable.recent.slice(i + 1)
    const wrap = (item: L | R): SyncTupleOf<L, R> => ({key: keyOf(item), [source]: item, fallback: true}) as SyncTupleOf<L, R>
    for (const item of left) yield wrap(item)
    for (;;) {
      const r = await resumable.it.next()
      if (r.done) return
      yield wrap(r.value)
    }
  } finally {
    await resumable.it.return?.()
  }
}
