import {describeError, FatalError} from '../base/errors.js'
import type {ChildrenOutcome, Flow, JobData, JobResult, Work} from '../jobs/types.js'
import {isFlow} from '../jobs/types.js'
import type {Handlers, JobContext} from '../jobs/handlers.js'
import {failedOutcomes, type Runner} from './runner.js'
import type {AdaptiveLimit} from './adaptive.js'
import type {PartBudget} from './slots.js'

interface FlowState {
  parent: JobData
  pending: number
  outcome: ChildrenOutcome
}

interface QueuedJob {
  data: JobData
  /** Set on a child: the flow it belongs to. */
  flow?: FlowState
  /** Set on a parent: what its children did. */
  children?: ChildrenOutcome
  /** Set on a part of a large file once it runs: its bytes, held against the part budget. */
  part?: number
}

export interface InProcessRunnerOptions {
  /** Jobs in flight at most; with `limit`, the most the limit may reach. */
  concurrency: number
  /** A limit that moves with the measured rate (src/run/adaptive.ts); absent: `concurrency`, fixed. */
  limit?: AdaptiveLimit
  /** Bounds the parts of large files in flight (src/run/slots.ts); absent: parts take slots as any job. */
  parts?: PartBudget
  /** A job's bytes when it is a part of a large file (its kind's partBytes). */
  partBytes?: (job: JobData) => number | undefined
  /** Jobs waiting before add() blocks; keeps memory flat however large the walk. */
  maxQueued?: number
  onResult: (result: JobResult, job: JobData) => void
}

/** Runs jobs in this process with a fixed number of concurrent slots. */
export class InProcessRunner implements Runner {
  private readonly queue: QueuedJob[] = []
  private head = 0
  /** Parts the part budget could not take yet, in order: they go before any later part. */
  private readonly parked: QueuedJob[] = []
  private active = 0
  private fatal?: FatalError
  private idleWaiters: (() => void)[] = []
  private spaceWaiters: (() => void)[] = []
  private readonly maxQueued: number

  constructor(private readonly handlers: Handlers, private readonly ctx: JobContext, private readonly opts: InProcessRunnerOptions) {
    this.maxQueued = opts.maxQueued ?? Math.max(1024, opts.concurrency * 64)
  }

  /** Jobs held at most: queued, and running (one file each for upload and download). */
  get admitted(): number {
    return this.maxQueued + this.opts.concurrency
  }

  /** Jobs waiting: in the queue, and parts parked for the part budget. */
  private get queued(): number {
    return this.queue.length - this.head + this.parked.length
  }

  async add(work: Work): Promise<void> {
    while (!this.fatal && this.queued >= this.maxQueued) await new Promise<void>(resolve => this.spaceWaiters.push(resolve))
    if (this.fatal) throw this.fatal
    if (isFlow(work)) this.addFlow(work)
    else this.queue.push({data: work})
    this.pump()
  }

  private addFlow(flow: Flow): void {
    const state: FlowState = {parent: flow.parent, pending: flow.children.length, outcome: {results: [], failures: []}}
    if (flow.children.length === 0) this.queue.push({data: flow.parent, children: state.outcome})
    for (const child of flow.children) this.queue.push({data: child, flow: state})
  }

  /**
   * The next job that may start: a parked part the budget now takes, else the queue's next; a
   * part the budget cannot take is parked, and the queue's other jobs go past it.
   */
  private next(): QueuedJob | undefined {
    const parts = this.opts.parts
    if (!parts) return this.head < this.queue.length ? this.take() : undefined
    if (this.parked.length > 0 && parts.fits(this.parked[0].part!)) return this.startPart(this.parked.shift()!)
    while (this.head < this.queue.length) {
      const job = this.take()
      const bytes = job.children ? undefined : this.opts.partBytes?.(job.data)
      if (bytes === undefined) return job
      job.part = bytes
      if (this.parked.length === 0 && parts.fits(bytes)) return this.startPart(job)
      this.parked.push(job)
    }
    return undefined
  }

  private startPart(job: QueuedJob): QueuedJob {
    this.opts.parts!.take(job.part!)
    return job
  }

  /** Work waits for a slot (not only for the part budget): the limit, not the work, sets the pace. */
  private get slotBound(): boolean {
    return this.head < this.queue.length || (this.parked.length > 0 && this.opts.parts!.fits(this.parked[0].part!))
  }

  private take(): QueuedJob {
    const job = this.queue[this.head++]
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    return job
  }

  private pump(): void {
    const slots = this.opts.limit?.limit ?? this.opts.concurrency
    while (!this.fatal && this.active < slots) {
      const job = this.next()
      if (!job) break
      this.active++
      void this.run(job)
    }
    if (this.queued < this.maxQueued) this.wake(this.spaceWaiters)
    if ((this.active === 0 && this.queued === 0) || (this.fatal && this.active === 0)) this.wake(this.idleWaiters)
  }

  private wake(waiters: (() => void)[]): void {
    if (waiters.length === 0) return
    const list = waiters.splice(0)
    for (const w of list) w()
  }

  private async run(job: QueuedJob): Promise<void> {
    const started = this.opts.limit ? performance.now() : 0
    try {
      const handler = this.handlers[job.data.kind] as (j: JobData, c: JobContext, ch?: ChildrenOutcome) => Promise<JobResult>
      const result = await handler(job.data, this.ctx, job.children)
      if (job.flow) job.flow.outcome.results.push(result)
      this.opts.onResult(result, job.data)
    } catch (error) {
      if (error instanceof FatalError) {
        this.stop(error)
      } else {
        const message = describeError(error)
        if (job.flow) job.flow.outcome.failures.push(message)
        else this.opts.onResult({files: failedOutcomes(job.data, message)}, job.data)
      }
    } finally {
      if (job.flow && --job.flow.pending === 0) {
        // The parent goes first in line: it finishes a file that is otherwise done.
        this.queue.splice(this.head, 0, {data: job.flow.parent, children: job.flow.outcome})
      }
      this.active--
      if (job.part !== undefined && this.opts.parts) this.opts.parts.give(job.part)
      this.opts.limit?.finished(performance.now() - started, this.slotBound)
      this.pump()
    }
  }

  /** Stops the run: no new jobs start, running ones see the aborted signal. */
  stop(error: FatalError): void {
    if (this.fatal) return
    this.fatal = error
    this.ctx.abort?.(error)
    this.wake(this.spaceWaiters)
    this.pump()
  }

  async drain(): Promise<void> {
    while (this.active > 0 || (this.queued > 0 && !this.fatal)) await new Promise<void>(resolve => this.idleWaiters.push(resolve))
    if (this.fatal) throw this.fatal
  }
}
