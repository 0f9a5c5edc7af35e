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
 * A run starts in "slow start", as TCP does: short windows (two rounds of the limit, at least a
 * tenth of a window) and steps of ×2, while each step pays at least half of what it could (rate
 * ×1.5 for limit ×2): a distant server is reached within a few round trips (64 → 128 in ~0.1 s at
 * +30 ms), which a short run needs, since a run of a few thousand small files lasts a
 * few seconds. The first step that pays less, a throttle or a slow-down ends it: then steps of
 * ×1.5 over whole windows. A step that seems not to pay at all when slow start ends is measured
 * over one more window before it is undone: a short window on a busy machine can read low, and
 * undoing a doubling holds the smaller limit for seconds, the rest of a short run.
 *
 * After each change of the limit, the jobs started before it go on finishing for a round trip:
 * they measure the old limit. The next window starts when the first job started after the
 * change finishes ("settled"), so even a short window measures the new limit only.
 */

export interface AdaptiveOptions {
  /** The first limit (transferDefaults.adaptiveStart). */
  start: number
  min: number
  max: number
  windowMs?: number
  now?: () => number
}

/** What the limit did at a window's end, for tests and the run's --verbose notes. */
export type LimitChange = 'up' | 'back' | 'kept' | 'throttled' | 'slower' | 'hold' | 'idle' | 'confirm' | 'restored'

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
  /** Slow start: short windows, steps of ×2, until a step pays less than START_GROWTH. */
  private starting = true
  /** When the limit last changed: until a job started after it finishes, finishes are not measured. */
  private changedAt?: number
  /** The step up the last 'back' undid: its limit and rate, to check that going back paid. */
  private undone?: {rate: number; limit: number}
  /** Slow start's last step read as not paying once: the rate of that window, kept for one more. */
  private doubt?: number
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
    const now = this.now()
    if (this.windowStart === undefined || (this.changedAt !== undefined && now - ms < this.changedAt)) {
      // The first finish (connecting and the first listing are no part of any rate), or a job
      // started before the last change: the window starts from here.
      this.windowStart = now
      this.done = this.units = this.starved = this.busyMs = 0
      return
    }
    this.changedAt = undefined
    this.done++
    this.units++
    this.busyMs += ms
    if (!waiting) this.starved++
    const elapsed = now - this.windowStart
    if (this.starting ? elapsed >= this.windowMs / 20 && this.done >= this.limit : elapsed >= this.windowMs && this.done >= this.limit) this.closeWindow(elapsed)
  }

  /** The server said to slow down (503 SlowDown, 429): halve the limit, at most once per window. */
  throttled(): void {
    if (this.throttledInWindow) return
    this.throttledInWindow = true
    this.doubt = this.undone = undefined
    this.setLimit(Math.floor(this.limit / 2))
    this.before = undefined
    this.hold = HOLD_WINDOWS
    this.starting = false
    this.lastChange = 'throttled'
  }

  private setLimit(n: number): void {
    const limit = Math.min(this.max, Math.max(this.min, n))
    if (limit !== this.limit) this.changedAt = this.now()
    this.limit = limit
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
      if (this.starting && rate < before.rate * GROWTH && this.doubt === undefined) {
        // Slow start's step reads as not paying at all: one more window at this limit before undoing it.
        this.doubt = rate
        return 'confirm'
      }
      rate = Math.max(rate, this.doubt ?? 0)
      this.doubt = undefined
      if (this.starting && rate < before.rate * START_GROWTH) this.starting = false
      if (rate >= before.rate * GROWTH) return this.up(rate, latency)
      // Growing did not pay: back to the limit before it (fewer sockets for the same rate).
      this.undone = {rate, limit: this.limit}
      this.setLimit(before.limit)
      this.before = undefined
      this.hold = HOLD_WINDOWS
      return (this.lastChange = 'back')
    }
    const undone = this.undone
    this.undone = undefined
    if (this.lastChange === 'back' && undone && rate * GROWTH < undone.rate) {
      // Going back lost as much as a step up must win: the window that judged the step read low
      // (a busy moment), so the higher limit again, held.
      this.setLimit(undone.limit)
      this.before = {rate: undone.rate, limit: undone.limit, latency}
      return (this.lastChange = 'restored')
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
      // Nothing left to ramp to: whole windows from here.
      this.starting = false
      return (this.lastChange = 'kept')
    }
    this.before = {rate, limit: this.limit, latency}
    this.setLimit(Math.ceil(this.limit * (this.starting ? 2 : 1.5)))
    return (this.lastChange = 'up')
  }
}
