/*
 * How many jobs a run keeps in flight when the user did not fix it (--thread-count): found by
 * measuring, as TCP finds a window. On loopback the CPU bounds a run and 32 in flight is plenty;
 * through 30 ms of distance 32 in flight cap a run at ~1,000 requests/s whatever the link could
 * carry. So the limit starts at the default, grows while the measured rate grows with it, goes
 * back when growing did not pay, and halves when the server throttles (503 SlowDown, 429) or
 * visibly slows down. Within [min, max]: max bounds sockets and memory (a large file's part job
 * holds its part in memory).
 *
 * The measure is work done per second: one unit per job finished (a small file, a part) plus one
 * per MiB moved, so a run of small files and a run of large parts are both measured by what they
 * move.
 * A window closes once it is at least `windowMs` long and each slot finished a job in it (a
 * change of the limit then shows in the rate, not only its first round trips). A window where
 * the runner lacked work (slots free with nothing queued) says nothing about the limit and is
 * not counted. Time is read through `now`, so the unit tier drives it deterministically.
 *
 * A run starts in "slow start", as TCP does: short windows (three rounds of the limit, at least a
 * fifth of a window) and steps of ×2, while each step pays at least half of what it could (rate
 * ×1.5 for limit ×2): a distant server is reached within a few round trips (32 → 64 → 128 in
 * ~0.25 s at +30 ms), which a short run needs, since a run of a few thousand small files lasts a
 * few seconds. The first step that pays less, a throttle or a
 * slow-down ends it: then steps of ×1.5 over whole windows.
 */

export interface AdaptiveOptions {
  /** The first limit (transferDefaults.threadCount). */
  start: number
  min: number
  max: number
  windowMs?: number
  now?: () => number
}

/** What the limit did at a window's end, for tests and the run's --verbose notes. */
export type LimitChange = 'up' | 'back' | 'kept' | 'throttled' | 'slower' | 'hold' | 'idle'

const MiB = 1024 * 1024
/** A rate has grown when it is this much above the last one: below that, noise on a busy machine. */
const GROWTH = 1.1
/** Windows a limit is held after going back or down, before it probes up again. */
const HOLD_WINDOWS = 6
/** In slow start, a ×2 step must lift the rate this much to stay in it (half the step's promise). */
const START_GROWTH = 1.5

export class AdaptiveLimit {
  limit: number
  /** The highest limit reached (reported in the run's summary). */
  peak: number
  private readonly min: number
  private readonly max: number
  private readonly windowMs: number
  private readonly now: () => number
  /** Undefined until the first job finishes: connecting and the first listing are no part of any rate. */
  private windowStart?: number
  private done = 0
  private units = 0
  private starved = 0
  private busyMs = 0
  private throttledInWindow = false
  /** The rate and limit before the last move up, and that move's rate (undefined: no measure yet). */
  private before?: {rate: number; limit: number; latency: number}
  private lastChange: LimitChange = 'hold'
  private hold = 0
  /** Slow start: half windows, steps of ×2, until a step pays less than START_GROWTH. */
  private starting = true
  readonly history: {limit: number; rate: number; change: LimitChange}[] = []

  constructor(opts: AdaptiveOptions) {
    this.min = Math.max(1, opts.min)
    this.max = Math.max(this.min, opts.max)
    this.limit = Math.min(this.max, Math.max(this.min, opts.start))
    this.peak = this.limit
    this.windowMs = opts.windowMs ?? 500
    this.now = opts.now ?? (() => performance.now())
  }

  /** Bytes moved (the run's byte counter calls it). */
  moved(bytes: number): void {
    this.units += bytes / MiB
  }

  /**
   * A job finished after `ms` in flight; `waiting`: jobs were queued for a slot when it finished
   * (the limit, not the work at hand, bounded the run).
   */
  finished(ms: number, waiting: boolean): void {
    if (this.windowStart === undefined) {
      this.windowStart = this.now()
      this.units = 0
      return
    }
    this.done++
    this.units++
    this.busyMs += ms
    if (!waiting) this.starved++
    const elapsed = this.now() - this.windowStart
    if (this.starting ? elapsed >= this.windowMs / 5 && this.done >= 3 * this.limit : elapsed >= this.windowMs && this.done >= this.limit) this.closeWindow(elapsed)
  }

  /** The server said to slow down (503 SlowDown, 429): halve the limit, at most once per window. */
  throttled(): void {
    if (this.throttledInWindow) return
    this.throttledInWindow = true
    this.setLimit(Math.floor(this.limit / 2))
    this.before = undefined
    this.hold = HOLD_WINDOWS
    this.starting = false
    this.lastChange = 'throttled'
  }

  private setLimit(n: number): void {
    this.limit = Math.min(this.max, Math.max(this.min, n))
    this.peak = Math.max(this.peak, this.limit)
  }

  private closeWindow(elapsed: number): void {
    const rate = this.units / (elapsed / 1000)
    const latency = this.busyMs / this.done
    const idle = this.starved * 4 > this.done
    const throttled = this.throttledInWindow
    this.windowStart = this.now()
    this.done = this.units = this.starved = this.busyMs = 0
    this.throttledInWindow = false
    this.history.push({limit: this.limit, rate, change: this.decide(rate, latency, idle, throttled)})
    if (this.history.length > 256) this.history.shift()
  }

  private decide(rate: number, latency: number, idle: boolean, throttled: boolean): LimitChange {
    if (throttled) return 'throttled'
    // Not enough work to fill the slots: the limit did not bound this window.
    if (idle) {
      this.before = undefined
      return 'idle'
    }
    const before = this.before
    if (this.lastChange === 'up' && before) {
      if (this.starting && rate < before.rate * START_GROWTH) this.starting = false
      if (rate >= before.rate * GROWTH) return this.up(rate, latency)
      // Growing did not pay: back to the limit before it (fewer sockets for the same rate).
      this.setLimit(before.limit)
      this.before = undefined
      this.hold = HOLD_WINDOWS
      return (this.lastChange = 'back')
    }
    if (before && rate < before.rate / 1.5 && latency > before.latency * 1.5) {
      // Same limit, slower answers and less done: the server slows down; ease off.
      this.setLimit(Math.floor(this.limit * 0.75))
      this.before = undefined
      this.hold = HOLD_WINDOWS
      this.starting = false
      return (this.lastChange = 'slower')
    }
    if (this.hold > 0) {
      this.hold--
      this.before = {rate, limit: this.limit, latency}
      return (this.lastChange = 'hold')
    }
    return this.up(rate, latency)
  }

  private up(rate: number, latency: number): LimitChange {
    if (this.limit >= this.max) {
      this.before = {rate, limit: this.limit, latency}
      return (this.lastChange = 'kept')
    }
    this.before = {rate, limit: this.limit, latency}
    this.setLimit(Math.ceil(this.limit * (this.starting ? 2 : 1.5)))
    return (this.lastChange = 'up')
  }
}
