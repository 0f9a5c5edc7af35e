import {createRequire} from 'node:module'
import type cliProgress from 'cli-progress'
import {formatBytes} from '../base/units.js'
import type {RunStats} from './stats.js'

/** What the progress numbers are made of: handled and found so far, and whether the walk has ended. */
export interface ProgressCounts {
  filesHandled: number
  filesSeen: number
  bytesDone: number
  bytesSeen: number
  walkDone: boolean
}

export interface Rate {
  bytesPerSecond: number
  filesPerSecond: number
}

/**
 * Bytes and files per second over the last few seconds, from timed samples of the running
 * totals. Hand-written: a handful of lines, and the packages that do it (speedometer & co.)
 * read the wall clock themselves, which makes them untestable without waiting.
 */
export class MovingRate implements Rate {
  private readonly samples: {at: number; bytes: number; files: number}[] = []

  constructor(private readonly windowMs = 5000) {}

  sample(atMs: number, bytes: number, files: number): void {
    this.samples.push({at: atMs, bytes, files})
    // Keep the newest sample that is at least a window old, so the span covers the whole window.
    while (this.samples.length > 1 && this.samples[1].at <= atMs - this.windowMs) this.samples.shift()
  }

  /** Two samples apart in time: the rate is a measurement (before that it reads 0, which is not one). */
  get measured(): boolean {
    return this.samples.length >= 2 && this.samples[this.samples.length - 1].at > this.samples[0].at
  }

  /** When the newest sample was taken (undefined before the first). */
  get lastSampleAt(): number | undefined {
    return this.samples[this.samples.length - 1]?.at
  }

  private per(key: 'bytes' | 'files'): number {
    if (this.samples.length < 2) return 0
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    const seconds = (last.at - first.at) / 1000
    return seconds > 0 ? Math.max(0, last[key] - first[key]) / seconds : 0
  }

  get bytesPerSecond(): number {
    return this.per('bytes')
  }

  get filesPerSecond(): number {
    return this.per('files')
  }
}

/** The numbers the bar and the plain line both show. */
export interface ProgressNumbers {
  /** `done/found`, with a `+` while the walk is still finding files. */
  files: string
  /** The same for bytes. */
  bytes: string
  bytesPerSecond: number
  filesPerSecond: number
  /** 0–100; only once the walk has ended and the total is known. */
  percent?: number
  /** Seconds left; only once the total is known and something moved in the last seconds. */
  etaSeconds?: number
}

const count = (n: number) => n.toLocaleString('en-US')

/**
 * `part` of `whole` in whole percent, rounded down (99.6% is not 100% yet) and at most 100;
 * nothing to do (`whole` 0) is 100%. Multiplied before dividing: 29/100 is 29, not 28.999….
 */
export function percentOf(part: number, whole: number): number {
  return whole > 0 ? Math.min(100, Math.max(0, Math.floor((part * 100) / whole))) : 100
}

/**
 * While the walk runs the totals are only what was found so far: `done / found+`, no percentage,
 * no ETA (both would be of a total that is still growing). Afterwards the percentage is of the
 * bytes (of the files when there are no bytes), and the ETA is the longer of the bytes left and
 * the files left at the moving rates: a tree of small files is bound by files per second.
 */
export function progressNumbers(c: ProgressCounts, rate: Rate): ProgressNumbers {
  const more = c.walkDone ? '' : '+'
  const n: ProgressNumbers = {
    files: `${count(c.filesHandled)}/${count(c.filesSeen)}${more}`,
    bytes: `${formatBytes(c.bytesDone)}/${formatBytes(c.bytesSeen)}${more}`,
    bytesPerSecond: rate.bytesPerSecond, filesPerSecond: rate.filesPerSecond,
  }
  if (!c.walkDone) return n
  n.percent = c.bytesSeen > 0 ? percentOf(c.bytesDone, c.bytesSeen) : percentOf(c.filesHandled, c.filesSeen)
  const bytesLeft = Math.max(0, c.bytesSeen - c.bytesDone)
  const filesLeft = Math.max(0, c.filesSeen - c.filesHandled)
  const waits: number[] = []
  if (bytesLeft > 0 && rate.bytesPerSecond > 0) waits.push(bytesLeft / rate.bytesPerSecond)
  if (filesLeft > 0 && rate.filesPerSecond > 0) waits.push(filesLeft / rate.filesPerSecond)
  const stalled = (bytesLeft > 0 && rate.bytesPerSecond <= 0) || (filesLeft > 0 && rate.filesPerSecond <= 0)
  if (!stalled) n.etaSeconds = Math.round(Math.max(0, ...waits))
  return n
}

/** A run as Redis holds it (RunStatus), reduced to what the runs page computes with. Times in ms. */
export interface RunFigures {
  /** done, failed or interrupted: nothing moves any more. */
  finished: boolean
  /** The walk has ended (the run is fully enqueued): filesFound is the run's total. */
  walkDone: boolean
  /** Done, skipped and failed files. */
  filesHandled: number
  /** Files the walk found (so far, while it runs). */
  filesFound: number
  bytes: number
  /** When the run's first job started on a worker (undefined: none has yet). */
  startedAt?: number
  /** When a finished run ended. */
  endedAt?: number
}

/** What the runs page shows of a run (src/dashboard/page.ts); docs/DESIGN.md, "Dashboard", says what each means. */
export interface RunView {
  /** handled ÷ found, whole percent rounded down; only once the walk is done (before, the total is still growing). */
  percent?: number
  /** Files left ÷ the current files rate, whole seconds rounded up; only while running, once the walk is done, at a rate above 0. */
  etaSeconds?: number
  /** First job started → now, or → the end for a finished run; undefined while no job has started. */
  elapsedSeconds?: number
  /** Running: the current rate (undefined until measured); finished: the average while it ran. */
  rate?: Rate
  rateKind?: 'current' | 'average'
}

/**
 * The average while a run ran: from its first job started to its end, not from when it was
 * queued (a run that waited an hour for a worker did not move slowly). Undefined before any job
 * started; a span under a millisecond counts as one.
 */
export function averageRate(files: number, bytes: number, startedAt: number | undefined, endedAt: number): Rate | undefined {
  if (startedAt === undefined) return undefined
  const seconds = Math.max(0.001, (endedAt - startedAt) / 1000)
  return {filesPerSecond: files / seconds, bytesPerSecond: bytes / seconds}
}

/** The runs page's numbers for one run at `now`, given its current rate (MovingRate) if measured. */
export function runView(f: RunFigures, now: number, current?: Rate): RunView {
  const end = f.finished ? f.endedAt ?? now : now
  const v: RunView = {}
  if (f.walkDone) v.percent = percentOf(f.filesHandled, f.filesFound)
  if (f.startedAt !== undefined) v.elapsedSeconds = Math.max(0, (end - f.startedAt) / 1000)
  if (f.finished) {
    v.rate = averageRate(f.filesHandled, f.bytes, f.startedAt, end)
    if (v.rate) v.rateKind = 'average'
    return v
  }
  if (current) {
    v.rate = current
    v.rateKind = 'current'
  }
  if (f.walkDone) {
    const left = Math.max(0, f.filesFound - f.filesHandled)
    if (left === 0) v.etaSeconds = 0
    // Rounded up: a file left is never "0s" away.
    else if (current && current.filesPerSecond > 0) v.etaSeconds = Math.ceil(left / current.filesPerSecond)
  }
  return v
}

/** 12s, 3m05s, 1h32m. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  const minutes = Math.round(s / 60)
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`
}

/** `45% | 900/2,000 files | 45.0 MiB/100.0 MiB | 5.0 MiB/s | ETA 22s`; `filesDetail` goes after the files. */
export function progressText(n: ProgressNumbers, filesDetail = ''): string {
  const parts = [`${n.files} files${filesDetail}`, n.bytes, `${formatBytes(Math.round(n.bytesPerSecond))}/s`]
  if (n.percent !== undefined) parts.unshift(`${n.percent}%`)
  if (n.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(n.etaSeconds)}`)
  return parts.join(' | ')
}

export interface ProgressOptions {
  label: string
  stream?: NodeJS.WriteStream
  /** Seconds between lines when the output is not a terminal. */
  intervalSeconds?: number
  enabled?: boolean
  /** The clock (milliseconds), for tests. */
  now?: () => number
}

const require = createRequire(import.meta.url)

/** Samples per second: enough for a smooth 5-second window, cheap enough to ignore. */
const SAMPLE_MS = 200

/** The one progress reporter: a live bar on a terminal, a line every few seconds elsewhere. */
export class ProgressReporter {
  private bar?: cliProgress.SingleBar
  private timers: NodeJS.Timeout[] = []
  private readonly stream: NodeJS.WriteStream
  private readonly rate = new MovingRate()
  private readonly now: () => number

  constructor(private readonly stats: RunStats, private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr
    this.now = opts.now ?? Date.now
  }

  private counts(): ProgressCounts {
    const s = this.stats
    return {filesHandled: s.filesHandled, filesSeen: s.filesSeen, bytesDone: s.totalBytes, bytesSeen: s.bytesSeen, walkDone: s.walkDone}
  }

  /** Records the running totals for the moving rate (the reporter's timer calls this). */
  sample(): void {
    this.rate.sample(this.now(), this.stats.totalBytes, this.stats.filesHandled)
  }

  private numbers(): ProgressNumbers {
    return progressNumbers(this.counts(), this.rate)
  }

  start(): void {
    if (this.opts.enabled === false) return
    this.sample()
    this.timers.push(setInterval(() => this.sample(), SAMPLE_MS))
    if (this.stream.isTTY) {
      const label = this.opts.label
      // Loaded only for a terminal (CommonJS, so a plain require): runs under scripts and CI never need it.
      const cliProgress = require('cli-progress') as typeof import('cli-progress')
      this.bar = new cliProgress.SingleBar({
        stream: this.stream,
        // The whole line comes from progressText; the bar itself only once the total is known.
        format: (options, params, payload: {text: string; known: boolean}) =>
          payload.known ? `${label} [${cliProgress.Format.BarFormat(params.progress, options)}] ${payload.text}` : `${label} ${payload.text}`,
        barsize: 20, hideCursor: true, clearOnComplete: true, fps: 5,
      }, cliProgress.Presets.shades_classic)
      this.bar.start(1, 0, {text: progressText(this.numbers()), known: false})
      this.timers.push(setInterval(() => this.renderBar(), SAMPLE_MS))
    } else {
      // Nothing seen yet (connecting, listing): a "0/0+ files" line would only be noise.
      this.timers.push(setInterval(() => { if (this.stats.filesSeen > 0) this.stream.write(this.line() + '\n') }, (this.opts.intervalSeconds ?? 5) * 1000))
    }
    for (const t of this.timers) t.unref()
  }

  private renderBar(): void {
    const n = this.numbers()
    this.bar?.update((n.percent ?? 0) / 100, {text: progressText(n), known: n.percent !== undefined})
  }

  line(): string {
    const s = this.stats
    return `${this.opts.label}: ${progressText(this.numbers(), ` (${s.totalSkipped} skipped, ${s.totalFailed} failed)`)}`
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    if (this.bar) {
      this.renderBar()
      this.bar.stop()
      this.bar = undefined
    }
  }
}
