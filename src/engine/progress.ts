import cliProgress from 'cli-progress'
import {formatBytes} from '../core/format.js'
import type {RunStats} from './stats.js'

export interface ProgressOptions {
  label: string
  stream?: NodeJS.WriteStream
  /** Seconds between lines when the output is not a terminal. */
  intervalSeconds?: number
  enabled?: boolean
}

/** The one progress reporter: a live bar on a terminal, a line every few seconds elsewhere. */
export class ProgressReporter {
  private bar?: cliProgress.SingleBar
  private timer?: NodeJS.Timeout
  private readonly stream: NodeJS.WriteStream

  constructor(private readonly stats: RunStats, private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr
  }

  private numbers() {
    const s = this.stats
    const secs = Math.max(s.seconds, 0.001)
    const rate = s.totalBytes / secs
    const filesRate = s.filesHandled / secs
    const remaining = Math.max(0, s.bytesSeen - s.totalBytes)
    const eta = s.walkDone && rate > 0 ? Math.round(remaining / rate) : undefined
    const files = `${s.filesHandled}/${s.filesSeen}${s.walkDone ? '' : '+'}`
    return {files, rate, filesRate, eta}
  }

  start(): void {
    if (this.opts.enabled === false) return
    if (this.stream.isTTY) {
      this.bar = new cliProgress.SingleBar({
        stream: this.stream,
        format: `${this.opts.label} [{bar}] {percentage}% | {files} files | {done} / {total_h} | {rate}/s | ETA {eta_h}`,
        hideCursor: true, clearOnComplete: true, fps: 5, etaBuffer: 50,
      }, cliProgress.Presets.shades_classic)
      this.bar.start(1, 0, {files: '0/0', done: '0 B', total_h: '0 B', rate: '0 B', eta_h: '…'})
      this.timer = setInterval(() => this.renderBar(), 200)
    } else {
      // Nothing seen yet (connecting, listing): a "0/0 files" line would only be noise.
      this.timer = setInterval(() => { if (this.stats.filesSeen > 0) this.stream.write(this.line() + '\n') }, (this.opts.intervalSeconds ?? 5) * 1000)
    }
    this.timer.unref()
  }

  private renderBar(): void {
    const n = this.numbers()
    const total = Math.max(1, this.stats.bytesSeen)
    this.bar?.setTotal(total)
    this.bar?.update(Math.min(this.stats.totalBytes, total), {
      files: n.files, done: formatBytes(this.stats.totalBytes), total_h: formatBytes(this.stats.bytesSeen),
      rate: formatBytes(Math.round(n.rate)), eta_h: n.eta === undefined ? '…' : `${n.eta}s`,
    })
  }

  line(): string {
    const n = this.numbers()
    const s = this.stats
    return `${this.opts.label}: ${n.files} files (${s.totalSkipped} skipped, ${s.totalFailed} failed), ` +
      `${formatBytes(s.totalBytes)} of ${formatBytes(s.bytesSeen)}, ${formatBytes(Math.round(n.rate))}/s, ${Math.round(n.filesRate)} files/s` +
      (n.eta === undefined ? '' : `, ETA ${n.eta}s`)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    if (this.bar) {
      this.renderBar()
      this.bar.stop()
      this.bar = undefined
    }
  }
}
