/*
 * S3's key order and the one merge of key-ordered streams that every planner uses: the local
 * walk, an S3 listing, the sync state (docs/DESIGN-state.md), another listing (sync S3→S3,
 * sync --delete). Each stream is read one item ahead, so memory holds one item per input
 * whatever the number of keys: no Map of any listing.
 *
 * In `strict` order (the default) every input must be strictly increasing in S3's key order
 * (UTF-8 byte order, `compareKeys`): an input that goes back (or repeats a key) throws
 * `MergeOrderError` at once, since a mis-join would pair a file with the wrong object's absence.
 * In `loose` order an input that goes back is read on: its key is yielded without its partner,
 * which the caller must confirm (a HEAD, an lstat) before acting on an absence. That is for
 * servers that list in another order (fauxqs sorts by locale).
 */

/**
 * Compares two keys in UTF-8 byte order (S3's ListObjectsV2 order) without encoding them.
 * UTF-16 code-unit order (JS `<`) equals code-point order, hence UTF-8 byte order, except where
 * a surrogate (a character above U+FFFF) meets a unit of U+E000–U+FFFF: there the surrogate is
 * the larger code point. Keys never hold lone surrogates (they are UTF-8, and local names go
 * through src/local/fs-path.ts), so this is exact; the tests check it against Buffer.compare.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    const xs = x >= 0xd800 && x <= 0xdfff
    const ys = y >= 0xd800 && y <= 0xdfff
    if (xs !== ys && (x >= 0xe000 || y >= 0xe000)) return xs ? 1 : -1
    return x - y
  }
  return a.length - b.length
}

/** Thrown when an input of the merge is not strictly increasing in key order. */
export class MergeOrderError extends Error {
  constructor(readonly input: string, readonly previous: string, readonly key: string) {
    super(`${input} is not in S3 key order: ${JSON.stringify(key)} came after ${JSON.stringify(previous)}; ` +
      'keys must be strictly increasing in UTF-8 byte order (a server that lists in another order cannot be merged)')
    this.name = 'MergeOrderError'
  }
}

/** One key with what each input holds for it (absent: that input has no such key). */
export type Merged<T> = {key: string} & {[K in keyof T]?: T[K]}

/** The merge of the sync state's three inputs. */
export type Joined<L, R, S> = Merged<{local: L; remote: R; state: S}>

/** An input: items in key order, how to read an item's key (default: its `key` field), and its name in errors. */
export interface MergeInput<T> {
  items: AsyncIterable<T>
  key?: (item: T) => string
  label?: string
}

/** Named inputs, each read at its own pace. */
export type MergeInputs<T> = {[K in keyof T]?: MergeInput<T[K]>}

export interface MergeOptions {
  order?: 'strict' | 'loose'
}

/** What the usual inputs are called in a MergeOrderError. */
const LABELS: Record<string, string> = {local: 'the local walk', remote: 'the S3 listing', state: 'the sync state'}

const keyField = (item: unknown) => (item as {key: string}).key

/** Reads one input one item ahead and checks its order. */
class Cursor<T> {
  private readonly it: AsyncIterator<T>
  private readonly keyOf: (item: T) => string
  item?: T
  key?: string
  done = false

  constructor(readonly field: string, readonly name: string, input: MergeInput<T>, private readonly strict: boolean) {
    this.it = input.items[Symbol.asyncIterator]()
    this.keyOf = input.key ?? keyField
  }

  async advance(): Promise<void> {
    const previous = this.key
    const r = await this.it.next()
    if (r.done) {
      this.done = true
      this.item = this.key = undefined
      return
    }
    const key = this.keyOf(r.value)
    if (typeof key !== 'string') throw new TypeError(`${this.name} gave an item without a key`)
    if (this.strict && previous !== undefined && compareKeys(previous, key) >= 0) throw new MergeOrderError(this.name, previous, key)
    this.item = r.value
    this.key = key
  }

  async close(): Promise<void> {
    await this.it.return?.()
  }
}

/**
 * Yields every key found in any input, in key order, with each input's item for it. Inputs are
 * read lazily: the consumer's pace (the runner's backpressure) bounds how far each stream is read.
 */
export async function* mergeByKey<T extends object>(inputs: MergeInputs<T>, opts: MergeOptions = {}): AsyncGenerator<Merged<T>> {
  const strict = opts.order !== 'loose'
  const cursors: Cursor<unknown>[] = []
  for (const [field, input] of Object.entries(inputs) as [string, MergeInput<unknown> | undefined][]) {
    if (input) cursors.push(new Cursor(field, input.label ?? LABELS[field] ?? field, input, strict))
  }
  try {
    await Promise.all(cursors.map(c => c.advance()))
    for (;;) {
      let key: string | undefined
      for (const c of cursors) if (!c.done && (key === undefined || compareKeys(c.key!, key) < 0)) key = c.key
      if (key === undefined) return
      const out = {key} as Record<string, unknown>
      const taken: Cursor<unknown>[] = []
      for (const c of cursors) {
        if (c.key === key) {
          out[c.field] = c.item
          taken.push(c)
        }
      }
      // Read the next items before yielding: an input that repeats this key throws before the
      // key is acted on (one item of read-ahead per input, nothing more). One input alone (most
      // keys of a first run) is awaited as it is: no array and Promise.all per key.
      if (taken.length === 1) await taken[0].advance()
      else await Promise.all(taken.map(c => c.advance()))
      yield out as Merged<T>
    }
  } finally {
    await Promise.all(cursors.map(c => c.close().catch(() => undefined)))
  }
}
