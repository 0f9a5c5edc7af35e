/**
 * A bounded reorder buffer between the planner and the state writer. The planner takes a slot
 * per key in key order; a skip fills its slot at once, a transfer or check fills it when its job's
 * result comes back, in any order. The buffer hands the filled prefix to `sink` in slot order, so
 * the state writer gets keys in order without holding the run in memory.
 *
 * Its size is bounded: `reserve` waits while `capacity` slots are held. Slots are held only
 * between reserve and release, and a slot can stay unfilled only while its job is in the runner,
 * which itself admits a bounded number of jobs (its `add` waits, src/run/runner.ts); so with
 * capacity above the runner's admitted files the planner waits only when one job at the head is
 * much slower than everything after it (a large file). `overflow: 'forfeit'` then gives that slot
 * up instead of waiting (its key gets no state entry, so the next run checks it with a HEAD),
 * which keeps the walk going; `'wait'` keeps every entry and lets the planner wait for the job.
 */

export type Overflow = 'wait' | 'forfeit'

export interface ReorderOptions<T> {
  /** Slots held at most (filled or not); at least 1. */
  capacity: number
  /** Takes released values in slot order, one at a time (awaited). Slots filled with undefined are not passed. */
  sink: (value: T) => void | Promise<void>
  /** When full: wait for the head slot (default), or forfeit it. */
  overflow?: Overflow
}

const EMPTY: unique symbol = Symbol('empty')
const GONE: unique symbol = Symbol('forfeited')
type Slot<T> = T | undefined | typeof EMPTY | typeof GONE

export class ReorderBuffer<T> {
  private readonly slots: Slot<T>[] = []
  /** Slot number of slots[0]. */
  private base = 0
  private readonly capacity: number
  private readonly overflow: Overflow
  private spaceWaiters: (() => void)[] = []
  /** The sink chain: released values are written one after another. */
  private writing: Promise<void> = Promise.resolve()
  private failed?: unknown
  private closed = false
  /** Slots given up (overflow 'forfeit', or `forfeitPending`). */
  forfeited = 0
  /** Values handed to the sink. */
  released = 0

  constructor(private readonly opts: ReorderOptions<T>) {
    if (!(opts.capacity >= 1)) throw new RangeError('reorder buffer capacity must be at least 1')
    this.capacity = Math.floor(opts.capacity)
    this.overflow = opts.overflow ?? 'wait'
  }

  /** Values released but not yet written by the sink: held too, so a slow sink pushes back as well. */
  private unwritten = 0

  /** What the buffer holds: slots (empty, or filled behind an empty head) and values the sink has yet to write. */
  get size(): number {
    return this.slots.length + this.unwritten
  }

  /** Takes the next slot, in key order; waits (or forfeits the head) while the buffer is full. */
  async reserve(): Promise<number> {
    if (this.closed) throw new Error('reorder buffer is closed')
    while (this.size >= this.capacity) {
      this.throwIfFailed()
      if (this.overflow === 'forfeit' && this.slots.length >= this.capacity) {
        // Full means the head is empty (a filled head is released at once): give it up.
        this.slots[0] = GONE
        this.forfeited++
        this.release()
        continue
      }
      await new Promise<void>(resolve => this.spaceWaiters.push(resolve))
    }
    this.throwIfFailed()
    this.slots.push(EMPTY)
    return this.base + this.slots.length - 1
  }

  /** Fills a slot (undefined: the key gets no entry). A forfeited slot's late value is dropped. */
  fill(slot: number, value: T | undefined): void {
    const i = slot - this.base
    if (i < 0 || i >= this.slots.length) {
      if (i < 0) return // already released: forfeited before its value came
      throw new RangeError(`reorder buffer: slot ${slot} was never reserved`)
    }
    const current = this.slots[i]
    if (current === GONE) return
    if (current !== EMPTY) throw new Error(`reorder buffer: slot ${slot} filled twice`)
    this.slots[i] = value
    if (i === 0) this.release()
  }

  /** Gives up every slot still empty (an interrupted run): what was filled is released in order. */
  forfeitPending(): void {
    for (let i = 0; i < this.slots.length; i++) {
      if (this.slots[i] === EMPTY) {
        this.slots[i] = GONE
        this.forfeited++
      }
    }
    this.release()
  }

  /**
   * Waits until every slot is released and written (every reserved slot must be filled or
   * forfeited by then). Rejects with the sink's error, if it failed.
   */
  async close(): Promise<void> {
    this.closed = true
    if (this.slots.length > 0) throw new Error(`reorder buffer closed with ${this.slots.length} slots not filled`)
    await this.writing
    this.throwIfFailed()
  }

  /** Resolves when everything released so far has been written. */
  async flushed(): Promise<void> {
    await this.writing
    this.throwIfFailed()
  }

  private throwIfFailed(): void {
    if (this.failed !== undefined) throw this.failed
  }

  /** Moves the filled (or forfeited) prefix to the sink chain. */
  private release(): void {
    let n = 0
    while (n < this.slots.length && this.slots[n] !== EMPTY) n++
    if (n === 0) return
    const out = this.slots.splice(0, n)
    this.base += n
    for (const v of out) {
      if (v === GONE || v === undefined) continue
      const value = v as T
      this.released++
      this.unwritten++
      this.writing = this.writing.then(async () => {
        if (this.failed === undefined) await this.opts.sink(value)
      }).catch(error => {
        this.failed ??= error
      }).finally(() => {
        this.unwritten--
        this.wake()
      })
    }
    this.wake()
  }

  private wake(): void {
    const waiters = this.spaceWaiters.splice(0)
    for (const w of waiters) w()
  }
}
