import {MovingRate, runView, type Rate, type RunView} from '../run/progress.js'
import type {RunStatus} from '../run/status.js'

/** The window the current rate is measured over. */
export const RATE_WINDOW_MS = 10_000
/** Samples further apart than this are not one measurement: the rate starts again (a page left closed for an hour). */
const STALE_MS = 30_000

const FINISHED = new Set<RunStatus['state']>(['done', 'failed', 'interrupted'])

/** RunStatus's times and counts as runView takes them. */
export function figuresOf(r: RunStatus) {
  const ms = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso))
  return {
    finished: FINISHED.has(r.state), walkDone: r.walkDone, filesHandled: r.filesDone + r.filesSkipped + r.filesFailed,
    filesFound: r.filesFound, bytes: r.bytes, startedAt: ms(r.startedAt), endedAt: ms(r.finishedAt),
  }
}

/**
 * The current rate of each running run, from samples the dashboard takes of its counters each
 * time it reads them (every page load, /api/runs and /metrics; the page reloads every 2 s): the
 * files and bytes moved over the last RATE_WINDOW_MS. Nothing is sampled while nobody asks, so
 * the first look at a run shows no current rate until the next one.
 */
export class RunRates {
  private readonly rates = new Map<string, MovingRate>()

  /** Samples the runs still running; forgets the rest. */
  sample(runs: RunStatus[], now: number): void {
    const live = new Set<string>()
    for (const r of runs) {
      if (FINISHED.has(r.state)) continue
      live.add(r.runId)
      let rate = this.rates.get(r.runId)
      const last = rate?.lastSampleAt
      if (!rate || last === undefined || now - last > STALE_MS || now < last) this.rates.set(r.runId, rate = new MovingRate(RATE_WINDOW_MS))
      rate.sample(now, r.bytes, r.filesDone + r.filesSkipped + r.filesFailed)
    }
    for (const id of this.rates.keys()) if (!live.has(id)) this.rates.delete(id)
  }

  current(runId: string): Rate | undefined {
    const rate = this.rates.get(runId)
    return rate?.measured ? {filesPerSecond: rate.filesPerSecond, bytesPerSecond: rate.bytesPerSecond} : undefined
  }

  /** The runs page's numbers for each run (see runView). */
  views(runs: RunStatus[], now: number): Map<string, RunView> {
    return new Map(runs.map(r => [r.runId, runView(figuresOf(r), now, this.current(r.runId))]))
  }
}
