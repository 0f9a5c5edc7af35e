import assert from 'node:assert/strict'
import {RunRates, figuresOf} from '../../src/dashboard/rates.js'
import {averageRate, percentOf, runView, type RunFigures} from '../../src/run/progress.js'
import type {RunStatus} from '../../src/run/status.js'

const MiB = 1024 * 1024
const T0 = Date.UTC(2026, 0, 1)
const running: RunFigures = {finished: false, walkDone: true, filesHandled: 300, filesFound: 1000, bytes: 30 * MiB, startedAt: T0}

// The runs page's arithmetic (src/run/progress.ts runView, src/dashboard/rates.ts) on a fake clock; test/dashboard.test.ts shows it in Chromium.
describe('runs page numbers', function () {
  it('percentOf: whole percent rounded down, at most 100, nothing to do is 100%', function () {
    assert.equal(percentOf(29, 100), 29, 'not 28 (29/100*100 is 28.999… in floating point)')
    assert.equal(percentOf(995, 1000), 99, '99.5% is not done yet')
    assert.equal(percentOf(1, 3), 33)
    assert.equal(percentOf(2, 3), 66)
    assert.equal(percentOf(1000, 1000), 100)
    assert.equal(percentOf(1200, 1000), 100, 'never above 100')
    assert.equal(percentOf(0, 0), 100)
    assert.equal(percentOf(0, 7), 0)
  })

  it('while the walk runs: no share and no ETA, only elapsed and the current rate', function () {
    const v = runView({...running, walkDone: false}, T0 + 20_000, {filesPerSecond: 10, bytesPerSecond: MiB})
    assert.equal(v.percent, undefined)
    assert.equal(v.etaSeconds, undefined)
    assert.equal(v.elapsedSeconds, 20)
    assert.deepEqual(v.rate, {filesPerSecond: 10, bytesPerSecond: MiB})
    assert.equal(v.rateKind, 'current')
  })

  it('once the walk is done: the share of the files found, and an ETA of the files left at the current rate', function () {
    const v = runView(running, T0 + 60_000, {filesPerSecond: 7, bytesPerSecond: MiB})
    assert.equal(v.percent, 30)
    assert.equal(v.etaSeconds, 100, '700 files left at 7/s')
    assert.equal(v.elapsedSeconds, 60)
    assert.equal(runView(running, T0, {filesPerSecond: 3, bytesPerSecond: 0}).etaSeconds, 234, '700/3 rounded up')
    assert.equal(runView({...running, filesHandled: 999}, T0, {filesPerSecond: 2.04, bytesPerSecond: 0}).etaSeconds, 1, 'one file left is not 0s away')
  })

  it('zero or unmeasured rate: no ETA rather than an endless one; nothing left: ETA 0', function () {
    assert.equal(runView(running, T0 + 1000, {filesPerSecond: 0, bytesPerSecond: 0}).etaSeconds, undefined)
    const unmeasured = runView(running, T0 + 1000)
    assert.equal(unmeasured.etaSeconds, undefined)
    assert.equal(unmeasured.rate, undefined)
    assert.equal(unmeasured.percent, 30)
    assert.equal(runView({...running, filesHandled: 1000}, T0 + 1000, {filesPerSecond: 0, bytesPerSecond: 0}).etaSeconds, 0)
  })

  it('no job started yet (no worker): no elapsed time, no rate', function () {
    const v = runView({...running, filesHandled: 0, startedAt: undefined}, T0 + 5000)
    assert.equal(v.elapsedSeconds, undefined)
    assert.equal(v.rate, undefined)
    assert.equal(v.percent, 0)
  })

  it('a finished run: 100%, elapsed from its first job to its end, its average rate over that span (not since it was queued)', function () {
    const done: RunFigures = {finished: true, walkDone: true, filesHandled: 1000, filesFound: 1000, bytes: 100 * MiB, startedAt: T0, endedAt: T0 + 50_000}
    // Looked at an hour later: the same numbers, and no current rate is taken even if one is given.
    const v = runView(done, T0 + 3_600_000, {filesPerSecond: 999, bytesPerSecond: 999})
    assert.equal(v.percent, 100)
    assert.equal(v.elapsedSeconds, 50)
    assert.deepEqual(v.rate, {filesPerSecond: 20, bytesPerSecond: 2 * MiB})
    assert.equal(v.rateKind, 'average')
    assert.equal(v.etaSeconds, undefined)
    // Stopped before any job started: no average.
    assert.equal(runView({...done, startedAt: undefined}, T0).rate, undefined)
    assert.deepEqual(averageRate(5, 5000, T0, T0), {filesPerSecond: 5000, bytesPerSecond: 5_000_000}, 'a span under 1 ms counts as 1 ms')
  })

  it('RunRates: the current rate over the last ~10 s of samples, unknown from one sample, restarted after a long gap, forgotten once finished', function () {
    const status = (files: number, bytes: number, state: RunStatus['state'] = 'running'): RunStatus => ({
      runId: 'r1', description: 'd', state, filesDone: files, filesSkipped: 0, filesFailed: 0, jobsPending: 1, bytes,
      filesFound: 1000, walkDone: true, bytesPerSecond: 0, createdAt: new Date(T0).toISOString(), startedAt: new Date(T0).toISOString(), failures: [],
    })
    const rates = new RunRates()
    rates.sample([status(0, 0)], T0)
    assert.equal(rates.current('r1'), undefined, 'one sample is no measurement')
    rates.sample([status(20, 2 * MiB)], T0 + 2000)
    assert.deepEqual(rates.current('r1'), {filesPerSecond: 10, bytesPerSecond: MiB})
    for (let t = 4000; t <= 20_000; t += 2000) rates.sample([status(20 + (t - 2000) / 100, 2 * MiB)], T0 + t)
    // The last 10 s moved 100 files and no bytes (the early burst has left the window).
    assert.deepEqual(rates.current('r1'), {filesPerSecond: 10, bytesPerSecond: 0})
    const v = rates.views([status(200, 2 * MiB)], T0 + 20_000).get('r1')!
    assert.equal(v.etaSeconds, 80)
    assert.equal(v.percent, 20)
    rates.sample([status(300, 3 * MiB)], T0 + 120_000)
    assert.equal(rates.current('r1'), undefined, 'a sample 100 s after the last starts a new measurement')
    rates.sample([status(1000, 9 * MiB, 'done')], T0 + 122_000)
    assert.equal(rates.current('r1'), undefined)
    assert.deepEqual(figuresOf({...status(1000, 9 * MiB, 'done'), finishedAt: new Date(T0 + 9000).toISOString()}),
      {finished: true, walkDone: true, filesHandled: 1000, filesFound: 1000, bytes: 9 * MiB, startedAt: T0, endedAt: T0 + 9000})
  })
})
