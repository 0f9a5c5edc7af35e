import type {AdaptiveLimit} from './adaptive.js'
import {transferDefaults} from './defaults.js'

/**
 * The parts of large files in flight (upload parts, download ranges: jobs whose bytes pass
 * through this machine), bounded in bytes when the limit of requests is found by measuring. A
 * request limit of 64 to 128 suits small files; 64 parts of 8 MiB are 512 MiB held or in flight
 * at once, which measured slower than 16 on Ceph RGW through +30 ms, both ways (the server does
 * more per byte; an upload held 700 MiB: docs/DESIGN.md, "Parts in flight"). The two runners
 * (in-process, a worker's RequestSlots) queue differently but ask this one budget. At least
 * `minParts` run whatever their size, so a file with parts grown past the budget still moves in
 * parallel. A fixed --thread-count or --concurrency fixes parts too: the user said how many requests.
 */
export class PartBudget {
  private held = 0
  private parts = 0

  constructor(readonly bytes: number = transferDefaults.partBytesInFlight, readonly minParts = transferDefaults.minPartsInFlight) {}

  /** Whether a part of `n` bytes may start now. */
  fits(n: number): boolean {
    return this.parts < this.minParts || this.held + size(n) <= this.bytes
  }

  take(n: number): void {
    this.parts++
    this.held += size(n)
  }

  give(n: number): void {
    this.parts--
    this.held -= size(n)
  }

  /** Parts in flight now. */
  get inFlight(): number {
    return this.parts
  }
}

/** A part's length as a job states it (a worker's jobs come from Redis): a length that is no byte count holds nothing. */
function size(n: number): number {
  return Number.isSafeInteger(n) && n > 0 ? n : 0
}

interface Waiter {
  wake: () => void
  /** A part's bytes (PartBudget); undefined for any other transfer. */
  part?: number
}

/**
 * A worker's requests in flight (`s3c worker --concurrency`, or an AdaptiveLimit without it).
 * Every file of a batch job and every other job (a part, a parent) takes one slot while it
 * transfers, so a worker holding several jobs (prefetched, so it never waits on Redis) still has
 * exactly `limit` transfers going, whatever the jobs' sizes: one big batch does not set its pace,
 * and one slow file does not hold the others of its batch. Waiters are served in arrival order,
 * except that a part waits (without a slot) while the part budget is full and others go past it.
 */
export class RequestSlots {
  private active = 0
  private readonly waiting: Waiter[] = []
  /** The most slots in use at one time (tests; a worker's log line). */
  peak = 0

  constructor(private readonly fixed: number, private readonly adaptive?: AdaptiveLimit, private readonly parts?: PartBudget) {}

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

  /** Parts waiting for the part budget or a slot now. */
  get queuedParts(): number {
    let n = 0
    for (const w of this.waiting) if (w.part !== undefined) n++
    return n
  }

  /**
   * Enough parts wait for the part budget: as many as run (at least its minimum). A worker takes
   * no more jobs then, so parts it cannot start soon stay in Redis for other workers.
   */
  get enoughPartsWaiting(): boolean {
    return this.parts !== undefined && this.queuedParts >= Math.max(this.parts.minParts, this.parts.inFlight)
  }

  /** Runs `fn` in a slot; `partBytes` marks a part of a large file (held against the part budget). */
  async run<T>(fn: () => Promise<T>, partBytes?: number): Promise<T> {
    const part = this.parts ? partBytes : undefined
    // Earlier waiters first (the limit may have grown since a slot was last freed); those left wait on the part budget.
    this.release()
    if (this.canStart(part)) this.start(part)
    else await new Promise<void>(wake => this.waiting.push({wake, part}))
    this.peak = Math.max(this.peak, this.active)
    const started = performance.now()
    try {
      return await fn()
    } finally {
      // Work waited for a slot (not only for the part budget): the limit, not the work, set the pace.
      this.adaptive?.finished(performance.now() - started, this.waiting.some(w => w.part === undefined || this.parts!.fits(w.part)))
      this.active--
      if (part !== undefined) this.parts!.give(part)
      this.release()
    }
  }

  private canStart(part: number | undefined): boolean {
    return this.active < this.limit && (part === undefined || this.parts!.fits(part))
  }

  private start(part: number | undefined): void {
    this.active++
    if (part !== undefined) this.parts!.take(part)
  }

  /** Wakes waiters in arrival order while slots are free; a part the budget cannot take yet is passed over. */
  private release(): void {
    for (let i = 0; i < this.waiting.length && this.active < this.limit;) {
      const w = this.waiting[i]
      if (!this.canStart(w.part)) {
        i++
        continue
      }
      this.waiting.splice(i, 1)
      this.start(w.part)
      w.wake()
    }
  }
}
