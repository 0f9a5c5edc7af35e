import assert from 'node:assert/strict'
import {MovingRate, ProgressReporter, progressNumbers, progressText} from '../../src/run/progress.js'
import {RunStats} from '../../src/run/stats.js'

const MiB = 1024 * 1024

// The bar's numbers on a fake clock; test/progress.test.ts watches the bar on a terminal.
describe('progress', function () {
  describe('the numbers (fake clock)', function () {
    it('while the walk runs: done / found+ for files and bytes, no percentage, no ETA', function () {
      const n = progressNumbers({filesHandled: 120, filesSeen: 2000, bytesDone: 1.2 * MiB, bytesSeen: 3.4 * MiB, walkDone: false},
        {bytesPerSecond: MiB, filesPerSecond: 100})
      assert.equal(n.files, '120/2,000+')
      assert.equal(n.bytes, '1.2 MiB/3.4 MiB+')
      assert.equal(n.percent, undefined)
      assert.equal(n.etaSeconds, undefined)
      assert.equal(progressText(n), '120/2,000+ files | 1.2 MiB/3.4 MiB+ | 1.0 MiB/s')
    })

    it('once the walk is done: the percentage of the bytes, and an ETA that waits for the slower of bytes and files', function () {
      const counts = {filesHandled: 900, filesSeen: 2000, bytesDone: 45 * MiB, bytesSeen: 100 * MiB, walkDone: true}
      const n = progressNumbers(counts, {bytesPerSecond: 5 * MiB, filesPerSecond: 50})
      assert.equal(n.files, '900/2,000')
      assert.equal(n.bytes, '45.0 MiB/100.0 MiB')
      assert.equal(n.percent, 45)
      assert.equal(n.etaSeconds, 22, '1,100 files at 50/s outlast 55 MiB at 5 MiB/s (11 s)')
      assert.equal(progressText(n), '45% | 900/2,000 files | 45.0 MiB/100.0 MiB | 5.0 MiB/s | ETA 22s')
      assert.equal(progressNumbers(counts, {bytesPerSecond: 0.5 * MiB, filesPerSecond: 1000}).etaSeconds, 110)
      assert.match(progressText(progressNumbers(counts, {bytesPerSecond: 0.01 * MiB, filesPerSecond: 1000})), /ETA 1h32m$/)
      // Nothing moved in the last seconds: no ETA rather than a made-up one; only empty files: the percentage of the files.
      assert.equal(progressNumbers(counts, {bytesPerSecond: 0, filesPerSecond: 0}).etaSeconds, undefined)
      assert.equal(progressNumbers({filesHandled: 1, filesSeen: 4, bytesDone: 0, bytesSeen: 0, walkDone: true}, {bytesPerSecond: 0, filesPerSecond: 1}).percent, 25)
    })

    it('the rate is over the last 5 s, not an average since the start', function () {
      const rate = new MovingRate(5000)
      assert.equal(rate.bytesPerSecond, 0, 'no rate from one sample')
      // 10 MiB/s for 10 s, then 1 MiB/s for 10 s, sampled every 500 ms.
      const bytesAt = (ms: number) => (ms <= 10_000 ? ms * 10 : 100_000 + (ms - 10_000)) * MiB / 1000
      for (let t = 0; t <= 12_000; t += 500) rate.sample(t, bytesAt(t), t / 100)
      assert.equal(rate.bytesPerSecond, (bytesAt(12_000) - bytesAt(7000)) / 5)
      for (let t = 12_500; t <= 20_000; t += 500) rate.sample(t, bytesAt(t), t / 100)
      assert.equal(rate.bytesPerSecond, MiB, 'the average since the start would be 5.5 MiB/s')
      assert.equal(rate.filesPerSecond, 10)
      for (let t = 20_500; t <= 26_000; t += 500) rate.sample(t, bytesAt(20_000), 200)
      assert.equal(rate.bytesPerSecond, 0, 'stalled for 6 s')
    })

    it('the line printed off a terminal says what the bar says', function () {
      let now = 0
      const stats = new RunStats()
      const reporter = new ProgressReporter(stats, {label: 'upload', enabled: false, now: () => now})
      for (let i = 0; i < 2000; i++) stats.seen(i < 1000 ? 2 * MiB : 0)
      reporter.sample()
      now = 4000
      for (let i = 0; i < 400; i++) stats.record({key: `k${i}`, path: `p${i}`, bytes: 2 * MiB, status: 'done'})
      stats.bytesDone = 800 * MiB
      reporter.sample()
      assert.equal(reporter.line(), 'upload: 400/2,000+ files (0 skipped, 0 failed) | 800.0 MiB/2.0 GiB+ | 200.0 MiB/s')
      stats.walkDone = true
      assert.equal(reporter.line(), 'upload: 40% | 400/2,000 files (0 skipped, 0 failed) | 800.0 MiB/2.0 GiB | 200.0 MiB/s | ETA 16s')
    })
  })
})
