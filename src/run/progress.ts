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
  const fraction = c.bytesSeen > 0 ? c.bytesDone / c.bytesSeen : c.filesSeen > 0 ? c.filesHandled / c.filesSeen : 1
  n.percent = Math.min(100, Math.floor(fraction * 100))
  const bytesLeft = Math.max(0, c.bytesSeen - c.bytesDone)
  const filesLeft = Math.max(0, c.filesSeen - c.filesHandled)
  const waits: number[] = []
  if (bytesLeft > 0 && rate.bytesPerSecond > 0) waits.push(bytesLeft / rate.bytesPerSecond)
  if (filesLeft > 0 && rate.filesPerSecond > 0) waits.push(filesLeft / rate.filesPerSecond)
  const stalled = (bytesLeft > 0 && rate.bytesPerSecond <= 0) || (filesLeft > 0 && rate.filesPerSecond <= 0)
  if (!stalled) n.etaSeconds = Math.round(Math.max(0, ...waits))
  return n
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
