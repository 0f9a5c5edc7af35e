import type {ListingStats, StorageEntry} from '../base/storage.js'
import {compareKeys} from '../base/keys.js'

/**
 * An ordered parallel listing (docs/DESIGN.md, "Listing in parallel"). S3 answers 1,000 keys a
 * request, each page asked after the last: 10M keys are 10,000 round trips one after another.
 * This lists the same keys, in the same order, with up to `concurrency` requests in flight:
 *
 * - The first page is asked as before; a listing that fits in it stays ONE request.
 * - A first page that lies in a few large folders (PROBE_FOLDERS) sends the split's delimiter
 *   listing (below) at once, while the reader takes that page: when it shows more folders than the
 *   sequential start would read, the listing splits after one page, the probe being the split's
 *   first delimiter page; otherwise it goes on page after page (the probe was one request more).
 * - A range whose listing is still truncated when the reader reaches it is split at the folder
 *   level of its prefix: one delimiter listing after its last key gives the folders and keys that
 *   follow; each folder becomes a range of its own (a Prefix listing, which ends exactly where
 *   the folder ends), adjacent folders estimated small are grouped into one key range (listed
 *   with StartAfter, cut at the next group's first key), and the keys between folders come with
 *   the delimiter listing itself. A folder range that is still long when read is split again
 *   one level deeper.
 * - A level whose keys hold no folder (a flat folder: the last page has none) has nothing for the
 *   delimiter listing to split at. Its key space after the last key is cut instead at keys guessed
 *   from the page (keyBoundaries: the page's last key with a character raised, where the page's
 *   keys vary and one position before). Each cut is a key range like a group's, which asks one
 *   key after its first full page (most ranges end there); a guess where no key lies costs one
 *   request, and a range still long when read is split again.
 * - The ranges are read in key order; the ones after the range being read fetch ahead, a few
 *   pages each and a bounded number in all, so memory holds pages, never the listing.
 *
 * The key ranges rely on the server listing in UTF-8 byte order (AWS S3, Ceph RGW, MinIO do):
 * every page is checked. A first page out of that order (fauxqs sorts by localeCompare) keeps the
 * listing sequential; a later page out of order drops what is not yet handed on and goes on
 * sequentially after the last key handed on, as a sequential listing would.
 *
 * Written here, not taken from a package: no maintained package lists S3 in parallel in order.
 */

/** One ListObjectsV2 request, as the lister asks it. */
export interface PageRequest {
  prefix: string
  startAfter?: string
  token?: string
  delimiter?: '/'
  /** Fewer keys than S3's 1,000 (a range's end check: one key). */
  maxKeys?: number
}

/** A ListObjectsV2 answer: the objects, the folders (with a delimiter) and the next page's token when it was truncated. */
export interface PageAnswer {
  entries: StorageEntry[]
  prefixes: string[]
  next?: string
}

export type FetchPage = (req: PageRequest) => Promise<PageAnswer>

export interface ListingOptions {
  /** Requests in flight at most (the run's --thread-count); 1 lists sequentially. */
  concurrency?: number
  /** Counts what the listing did (tests, benchmarks). */
  stats?: ListingStats
  /** Pages read one after another before the first split (SEQUENTIAL_PAGES; tests use fewer). */
  sequentialPages?: number
}

export type {ListingStats}

/**
 * Pages the listing reads one after another before it splits: a listing of up to 10,000 keys
 * costs exactly ⌈N/1000⌉ requests (a no-change re-run of such a tree stays at its goal of
 * ⌈N/1000⌉ + 3 LISTs); a longer one pays the split's few extra requests for its speed.
 * S3C_LIST_SEQUENTIAL_PAGES changes it (tests split small listings with 1).
 */
const SEQUENTIAL_PAGES = 10

/** --thread-count's default is the run's; a library caller without one gets this. */
export const DEFAULT_LIST_CONCURRENCY = 16
/** S3's page. */
const PAGE_KEYS = 1000
/** Keys a group of small folders aims at: three requests, so a range's partial last page costs little. */
const GROUP_KEYS = 2900
/** Pages a range fetches ahead of the reader. */
const RANGE_PAGES = 2
/** Pages fetched ahead in all (the range being read is not held to it). */
const BUFFERED_PAGES = 16
/** Ranges started ahead of the one being read, per split. */
const WINDOW = 64
/**
 * A first page whose keys lie in at most this many folders (~300 keys a folder or more) starts
 * the split's delimiter listing at once (the probe): the sequential start would cover only a few
 * folders, and the probe tells whether many follow. A first page of smaller folders keeps the
 * sequential start, so a listing of a few thousand keys costs ⌈N/1000⌉ requests.
 */
const PROBE_FOLDERS = 3

/** A page of a range came back out of UTF-8 byte order: the server lists in another order. */
class OutOfOrder extends Error {}

/** Requests in flight, bounded; the range being read (and its splits) go first. */
class Slots {
  private waiting: {urgent: boolean; go: () => void}[] = []
  constructor(private free: number) {}
  acquire(urgent: boolean): Promise<void> {
    if (this.free > 0) {
      this.free--
      return Promise.resolve()
    }
    return new Promise(go => {
      const i = urgent ? this.waiting.findIndex(w => !w.urgent) : -1
      if (i < 0) this.waiting.push({urgent, go})
      else this.waiting.splice(i, 0, {urgent, go})
    })
  }
  release(): void {
    const next = this.waiting.shift()
    if (next) next.go()
    else this.free++
  }
}

interface RangeSpec {
  /** The listing's Prefix: a folder, or the level a key range lies in. */
  prefix: string
  /** StartAfter of its first request. */
  after?: string
  /** Keys below it are left out (the range was asked from just below its first folder). */
  from?: string
  /** The range stops at the first key at or after it (the next range's first key). */
  until?: string
  /** Folders and keys it was made of, for the estimate of keys per folder. */
  units: number
}

interface KnownGroup {
  /** Keys between folders, as the delimiter listing gave them: handed on without a request. */
  entries: StorageEntry[]
}

type Unit = {folder: string; after?: string} | {entry: StorageEntry}
const unitKey = (u: Unit): string => 'folder' in u ? u.folder : u.entry.key

/**
 * The folder one level below `level` that holds `key`, or undefined for a key at that level.
 * Folders end with '/': the just-below string `before` rests on that.
 */
function folderOf(level: string, key: string): string | undefined {
  const i = key.indexOf('/', level.length)
  return i < 0 ? undefined : key.slice(0, i + 1)
}

/**
 * A StartAfter for "from `folder` on": every key of the folder (the key equal to its name too)
 * sorts after it. Between it and the folder lie only keys beginning with the folder's name with
 * '.' and U+10FFFF (the largest code point) in place of its '/': those go to the range before,
 * and `from` leaves them out here, so the split stays exact whatever the keys.
 */
function before(folder: string): string {
  return `${folder.slice(0, -1)}.\u{10FFFF}`
}

/** A StartAfter just below `key` (a cut between key ranges): every key from `key` on sorts after it; `from` drops the few between. */
function justBelow(key: string): string {
  const last = key.charCodeAt(key.length - 1)
  return `${key.slice(0, -1)}${String.fromCharCode(last - 1)}\u{10FFFF}`
}

const DIGITS = '0123456789'

/**
 * Where to cut the key space of a flat level after the page `sample` (below `until`): the page's
 * last key with one character raised, at the first position where the page's first and last keys
 * differ and at the position before it, to each character the page's keys use from that position
 * on (every digit if any). Printable ASCII only, so the order of code units is the byte order.
 * k0000…k0999 gives k1, k2 … k9: ranges of ~1,000 keys when names count up; the last range runs
 * to the end, and is cut again if it is long.
 */
export function keyBoundaries(level: string, sample: readonly string[], until?: string): string[] {
  const first = sample[0]
  const last = sample[sample.length - 1]
  let d = 0
  while (d < first.length && first[d] === last[d]) d++
  // The characters of the part that varies (k0000…k0999: digits, not the k all share).
  const used = new Set<string>()
  for (const k of sample) for (let i = Math.max(d, level.length); i < k.length; i++) if (k.charCodeAt(i) >= 0x20 && k.charCodeAt(i) < 0x7f) used.add(k[i])
  // A page of numbered names may not show every digit yet; letters are left as seen (hex names use a-f).
  if ([...DIGITS].some(c => used.has(c))) for (const c of DIGITS) used.add(c)
  const alphabet = [...used].sort()
  const cuts = new Set<string>()
  for (let q = Math.min(d, last.length - 1); q >= Math.max(level.length, d - 1); q--) {
    // Only where `last` is ASCII up to q: a cut inside a character outside it would not be a key.
    if (!/^[\x00-\x7f]*$/.test(last.slice(0, q + 1))) continue
    for (const c of alphabet) if (c > last[q]) cuts.add(last.slice(0, q) + c)
  }
  return [...cuts].filter(b => compareKeys(b, last) > 0 && (until === undefined || compareKeys(b, until) < 0)).sort(compareKeys)
}

/** Keys per folder at one split, from a page's keys and from the ranges read since. */
class Estimate {
  private keys: number
  private units: number
  constructor(level: string, sample: string[]) {
    const distinct = new Set(sample.map(k => folderOf(level, k) ?? k)).size
    // One folder over a whole page: at least a page a folder.
    this.keys = Math.max(sample.length, 1)
    this.units = Math.max(distinct, 1)
  }
  add(units: number, keys: number): void {
    this.units += units
    this.keys += keys
  }
  get perFolder(): number {
    return Math.max(1, this.keys / this.units)
  }
  /** Folders in a group: more than one only where one key range costs fewer requests than a listing per folder. */
  get groupSize(): number {
    const per = this.perFolder
    const g = Math.floor(GROUP_KEYS / per)
    return g >= 2 && Math.floor(g * per / PAGE_KEYS) + 1 < g * Math.ceil(per / PAGE_KEYS) ? g : 1
  }
}

class Range {
  pages: StorageEntry[][] = []
  done = false
  /** Being read: first in the queue for a request, and fetches only when the reader waits (as a sequential listing). */
  head = false
  /** The reader waits for its next page. */
  wanted = false
  /** Told to stop fetching (it is being split, or the listing ended). */
  stopped = false
  /** Its first page may be out of byte order (the listing's first range): it is then not split. */
  unordered = false
  error?: unknown
  private token?: string
  /** The last key the server gave this range: where a split starts. */
  lastKey?: string
  /** The keys of the last page, for the split's estimate. */
  sample: string[] = []
  fetched = 0
  keys = 0
  split = false
  private running?: Promise<void>

  constructor(readonly spec: RangeSpec, private readonly lister: Lister, readonly first = false) {
    this.lastKey = spec.after
  }

  start(): this {
    this.running ??= this.run()
    return this
  }

  /** Resolves once the range fetches nothing more (done, stopped or failed). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve()
  }

  private async run(): Promise<void> {
    const l = this.lister
    try {
      while (!this.done && !this.stopped && !l.closed) {
        const fetchNow = this.head ? this.wanted && this.pages.length === 0 : this.pages.length < RANGE_PAGES && l.buffered < BUFFERED_PAGES
        if (!fetchNow) {
          await l.changed()
          continue
        }
        await l.slots.acquire(this.head)
        let answer: PageAnswer
        let endCheck = false
        try {
          if (this.stopped || l.closed) return
          // A range that ends at a key and had a full first page asks one key next: most ranges
          // are cut to about a page, and a full page past their end would be listed for nothing.
          endCheck = this.spec.until !== undefined && this.fetched === 1 && this.token !== undefined
          if (endCheck) l.stats.endChecks++
          answer = await l.fetch({prefix: this.spec.prefix, startAfter: this.token ? undefined : this.lastKey, token: this.token, ...(endCheck ? {maxKeys: 1} : {})})
        } finally {
          l.slots.release()
        }
        if (l.closed) return
        this.accept(answer, endCheck)
        l.notify()
      }
    } catch (error) {
      this.error = error
      l.notify()
    }
  }

  private accept(answer: PageAnswer, endCheck: boolean): void {
    const {from, until} = this.spec
    let previous = this.lastKey
    for (const e of answer.entries) {
      if (previous !== undefined && compareKeys(previous, e.key) >= 0) {
        if (!this.first) throw new OutOfOrder(`${JSON.stringify(e.key)} came after ${JSON.stringify(previous)}`)
        this.unordered = true
      }
      previous = e.key
    }
    let kept = answer.entries
    let end = kept.length
    if (until !== undefined) {
      end = kept.findIndex(e => compareKeys(e.key, until) >= 0)
      if (end >= 0) this.done = true
      else end = kept.length
    }
    let begin = 0
    if (from !== undefined) while (begin < end && compareKeys(kept[begin].key, from) < 0) begin++
    if (begin > 0 || end < kept.length) kept = kept.slice(begin, end)
    this.lastKey = answer.entries.at(-1)?.key ?? this.lastKey
    // (an end check's one key says nothing of the keys' spread: the sample stays the last full page's)
    if (answer.entries.length > 1 || this.sample.length === 0) this.sample = answer.entries.map(e => e.key)
    this.token = answer.next
    if (!this.token) this.done = true
    this.fetched++
    this.keys += kept.length
    // An end check's key joins the page before it when that page is still held: the look-ahead counts full pages.
    if (endCheck && this.pages.length > 0) this.pages[this.pages.length - 1].push(...kept)
    else if (kept.length > 0 || this.first) {
      this.pages.push(kept)
      this.lister.buffered++
    }
  }

  /** Drops what it holds (the listing ended before reaching it). */
  discard(): void {
    this.stopped = true
    this.lister.notify()
    this.lister.buffered -= this.pages.length
    this.pages = []
  }
}

/** The first range's delimiter listing after its first page, asked while the reader takes that page. */
interface Probe {
  prefix: string
  /** The StartAfter it was asked with (the first page's last key). */
  after: string
  /** Keys a folder, from the first page. */
  perFolder: number
  answer?: PageAnswer
  error?: unknown
  settled: Promise<void>
}

class Lister {
  readonly slots: Slots
  closed = false
  buffered = 0
  private probe?: Probe
  private wake?: {promise: Promise<void>; resolve: () => void}

  constructor(readonly fetch: FetchPage, readonly concurrency: number, readonly stats: ListingStats,
    readonly sequentialPages = Number(process.env.S3C_LIST_SEQUENTIAL_PAGES) || SEQUENTIAL_PAGES) {
    this.slots = new Slots(concurrency)
  }

  /** Resolves at the next change of any range (a page landed, one was taken, a failure, the end). */
  changed(): Promise<void> {
    if (!this.wake) {
      let resolve!: () => void
      const promise = new Promise<void>(r => { resolve = r })
      this.wake = {promise, resolve}
    }
    return this.wake.promise
  }

  notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.resolve()
  }

  close(): void {
    this.closed = true
    this.notify()
  }

  /** A range's pages in order, the range being read: split when it is still truncated once its pages are taken. */
  async* read(r: Range): AsyncGenerator<StorageEntry[]> {
    r.head = true
    r.start()
    this.notify()
    for (;;) {
      const page = r.pages.shift()
      if (page) {
        r.wanted = false
        this.buffered--
        this.notify()
        // The probe goes out while the reader takes the first page (a planner's work on it hides the round trip).
        if (r.first && r.fetched === 1 && !r.done) this.startProbe(r)
        yield page
        continue
      }
      if (r.error) throw r.error
      if (r.done) return
      const splittable = this.concurrency > 1 && !r.unordered && r.lastKey !== undefined
      if (splittable && r.first && this.probe && r.fetched < this.sequentialPages) {
        await this.probe.settled
        if (this.probe.error !== undefined) throw this.probe.error
      }
      // (a range that ends at a key is split only after its end check: most end there)
      if (splittable && (r.fetched >= (r.first ? this.sequentialPages : r.spec.until !== undefined ? 2 : 1) || (r.first && this.longAhead()))) {
        r.stopped = true
        this.notify()
        await r.idle()
        if (r.pages.length > 0 || r.error || r.done) continue
        r.split = true
        yield* this.splitAfter(r)
        return
      }
      r.wanted = true
      this.notify()
      await this.changed()
    }
  }

  /**
   * Sends the probe when the first page shows few, large folders (PROBE_FOLDERS): the delimiter
   * listing the split would start with, asked now, in parallel with the reader.
   */
  private startProbe(r: Range): void {
    if (this.probe || this.concurrency <= 1 || r.unordered || r.lastKey === undefined) return
    const level = r.spec.prefix
    const folders = new Set<string>()
    for (const k of r.sample) {
      const f = folderOf(level, k)
      // A key at the level: the page is not one of large folders (a flat level is cut at guessed keys instead).
      if (f === undefined) return
      folders.add(f)
    }
    if (folders.size === 0 || folders.size > PROBE_FOLDERS) return
    const after = r.lastKey
    const probe: Probe = {prefix: level, after, perFolder: new Estimate(level, r.sample).perFolder, settled: Promise.resolve()}
    probe.settled = (async () => {
      await this.slots.acquire(true)
      try {
        if (this.closed) return
        probe.answer = await this.fetch({prefix: level, delimiter: '/', startAfter: after})
        this.stats.delimiterPages++
      } catch (error) {
        probe.error = error
      } finally {
        this.slots.release()
        this.notify()
      }
    })()
    this.probe = probe
  }

  /**
   * The probe shows more after the first page than the sequential start would read (at the first
   * page's keys a folder): the listing is long, and splits now.
   */
  private longAhead(): boolean {
    const p = this.probe
    if (!p?.answer) return false
    if (p.answer.next !== undefined) return true
    const ahead = p.answer.prefixes.length * p.perFolder + p.answer.entries.length
    return ahead > (this.sequentialPages - 1) * PAGE_KEYS
  }

  /** What follows the range's last key, up to its end: the folders and keys at its level, grouped into ranges read in order. */
  private async* splitAfter(r: Range): AsyncGenerator<StorageEntry[]> {
    const level = r.spec.prefix
    const estimate = new Estimate(level, r.sample)
    const flat = r.sample.length > 1 && r.sample.every(k => folderOf(level, k) === undefined)
    const groups = (flat ? this.keyRanges(r) : this.groups(this.units(level, r.lastKey!, r.spec.until), estimate, r.spec))[Symbol.asyncIterator]()
    const window: (Range | KnownGroup)[] = []
    let more = true
    try {
      for (;;) {
        while (more && window.length < Math.min(this.concurrency, WINDOW)) {
          const g = await groups.next()
          if (g.done) more = false
          else window.push(g.value instanceof Range ? g.value.start() : g.value)
        }
        const next = window.shift()
        if (!next) return
        if (!(next instanceof Range)) {
          yield next.entries
          continue
        }
        yield* this.read(next)
        if (!next.split && next.spec.units > 0) estimate.add(next.spec.units, next.keys)
      }
    } finally {
      for (const w of window) if (w instanceof Range) w.discard()
      await groups.return(undefined)
    }
  }

  /** The rest of a flat range as key ranges cut at keyBoundaries, in key order. */
  private async* keyRanges(r: Range): AsyncGenerator<Range> {
    const {prefix, from, until} = r.spec
    let after = r.lastKey!
    let start = from
    const cuts = keyBoundaries(prefix, r.sample, until).filter(cut => compareKeys(cut, after) > 0)
    for (const cut of [...cuts, until]) {
      this.stats.ranges++
      yield new Range({prefix, after, from: start, until: cut, units: 0}, this)
      if (cut === undefined) return
      after = justBelow(cut)
      start = cut
    }
  }

  /**
   * The folders and keys after `after` at `level`, below `until`, in key order: first the rest of
   * the folder `after` is in, then one delimiter listing's entries, a page at a time.
   */
  private async* units(level: string, after: string, until: string | undefined): AsyncGenerator<Unit> {
    const current = folderOf(level, after)
    if (current) yield {folder: current, after}
    // The probe (asked at this level from an earlier key of the same listing) is this listing's first
    // page: the units up to `after` it holds are passed over below, as a server's rolled-up folder is.
    const probe = this.probe
    this.probe = undefined
    let probed: PageAnswer | undefined
    if (probe && level === probe.prefix && compareKeys(probe.after, after) <= 0) {
      await probe.settled
      if (probe.error !== undefined) throw probe.error
      probed = probe.answer
    }
    let token: string | undefined
    do {
      let answer: PageAnswer
      if (probed) {
        answer = probed
        probed = undefined
      } else {
        await this.slots.acquire(true)
        try {
          answer = await this.fetch({prefix: level, delimiter: '/', startAfter: token ? undefined : after, token})
        } finally {
          this.slots.release()
        }
        this.stats.delimiterPages++
      }
      const page: Unit[] = [...answer.entries.map(entry => ({entry})), ...answer.prefixes.map(folder => ({folder}))]
      page.sort((a, b) => compareKeys(unitKey(a), unitKey(b)))
      for (const u of page) {
        const key = unitKey(u)
        // The folder `after` is in comes back from some servers (it sorts before `after`): it is the first unit already.
        if (compareKeys(key, after) <= 0) continue
        if (until !== undefined && compareKeys(key, until) >= 0) return
        yield u
      }
      token = answer.next
    } while (token && !this.closed)
  }

  /**
   * The units as ranges: a folder alone is a Prefix listing; adjacent folders the estimate finds
   * small share one key range (with the keys between them); keys outside any range are handed on
   * from the delimiter listing. Built one at a time, as the window takes them, so later groups use
   * the sizes of the ranges read meanwhile.
   */
  private async* groups(units: AsyncIterable<Unit>, estimate: Estimate, parent: RangeSpec): AsyncGenerator<Range | KnownGroup> {
    let known: StorageEntry[] = []
    let group: {first: {folder: string; after?: string}; folders: number; units: number; size: number} | undefined
    const close = (until: string | undefined): Range => {
      const g = group!
      group = undefined
      this.stats.ranges++
      const {folder, after} = g.first
      // The rest of the folder a split starts in is a part of a folder: the estimate leaves it out.
      const units = after === undefined ? g.units : g.units - 1
      if (g.units === 1) return new Range({prefix: folder, after, from: parent.from, units}, this)
      return new Range({prefix: parent.prefix, after: after ?? before(folder), from: after !== undefined ? parent.from : folder, until, units}, this)
    }
    for await (const u of units) {
      if ('entry' in u) {
        if (group && estimate.groupSize > 1 && group.size + 1 <= GROUP_KEYS) {
          group.units++
          group.size++
          continue
        }
        if (group) yield close(u.entry.key)
        if (parent.from === undefined || compareKeys(u.entry.key, parent.from) >= 0) known.push(u.entry)
        if (known.length >= PAGE_KEYS) yield {entries: known.splice(0)}
        continue
      }
      if (known.length > 0) yield {entries: known.splice(0)}
      const size = estimate.groupSize
      if (group && size > 1 && group.folders < size) {
        group.folders++
        group.units++
        group.size += estimate.perFolder
        continue
      }
      if (group) yield close(u.folder)
      group = {first: u, folders: 1, units: 1, size: estimate.perFolder}
    }
    if (known.length > 0) yield {entries: known}
    if (group) yield close(parent.until)
  }
}

/** A listing from `startAfter` on, one page after another (a fallback, and what concurrency 1 amounts to). */
async function* sequential(fetch: FetchPage, prefix: string, startAfter: string | undefined): AsyncGenerator<StorageEntry[]> {
  let token: string | undefined
  do {
    const answer = await fetch({prefix, startAfter: token ? undefined : startAfter, token})
    yield answer.entries
    token = answer.next
  } while (token)
}

/**
 * Every object under `prefix`, a page at a time, in the order and with the content of a
 * sequential listing, with up to `concurrency` requests in flight (see the top of this file).
 */
export async function* listInOrder(fetch: FetchPage, prefix: string, opts: ListingOptions = {}): AsyncGenerator<StorageEntry[]> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_LIST_CONCURRENCY))
  const stats = opts.stats ?? {ranges: 0, delimiterPages: 0, endChecks: 0, fellBack: false}
  const lister = new Lister(fetch, concurrency, stats, opts.sequentialPages)
  const root = new Range({prefix, units: 1}, lister, true)
  let last: string | undefined
  try {
    for await (const page of lister.read(root)) {
      // After the split, the pages of different ranges must also follow each other in byte order.
      if (root.split && page.length > 0 && last !== undefined && compareKeys(last, page[0].key) >= 0) {
        throw new OutOfOrder(`${JSON.stringify(page[0].key)} came after ${JSON.stringify(last)}`)
      }
      yield page
      last = page.at(-1)?.key ?? last
    }
    return
  } catch (error) {
    if (!(error instanceof OutOfOrder)) throw error
  } finally {
    lister.close()
  }
  stats.fellBack = true
  yield* sequential(fetch, prefix, last)
}
