import type {AdaptiveLimit} from './adaptive.js'

/**
 * A worker's requests in flight (`s3c worker --concurrency`, or an AdaptiveLimit without it).
 * Every file of a batch job and every other job (a part, a parent) takes one slot while it
 * transfers, so a worker holding several jobs (prefetched, so it never waits on Redis) still has
 * exactly `limit` transfers going, whatever the jobs' sizes: one big batch does not set its pace,
 * and one slow file does not hold the others of its batch. Waiters are served in arrival order.
 */
export class RequestSlots {
  private active = 0
  private readonly waiting: (() => void)[] = []
  /** The most slots in use at one time (tests; a worker's log line). */
  peak = 0

  constructor(private readonly fixed: number, private readonly adaptive?: AdaptiveLimit) {}

  get limit(): number {
    return this.adaptive?.limit ?? this.fixed
  }

  /** Slots in use now. */
  get inFlight(): number {
    return this.active
  }

  /** Transfers waiting for a slot now. */
  get queued(): number {
    return this.waiting.length
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>(resolve => this.waiting.push(resolve))
    else this.active++
    this.peak = Math.max(this.peak, this.active)
    const started = performance.now()
    try {
      return await fn()
    } finally {
      this.adaptive?.finished(performance.now() - started, this.waiting.length > 0)
      this.release()
    }
  }

  private release(): void {
    // A slot goes straight to the next waiter (active stays), unless the limit went down.
    if (this.waiting.length > 0 && this.active <= this.limit) this.waiting.shift()!()
    else this.active--
    // The limit went up: wake as many as it allows.
    while (this.waiting.length > 0 && this.active < this.limit) {
      this.active++
      this.waiting.shift()!()
    }
  }
}
