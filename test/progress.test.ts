import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {stripVTControlCharacters} from 'node:util'
import {MovingRate, ProgressReporter, progressNumbers, progressText} from '../src/run/progress.js'
import {RunStats} from '../src/run/stats.js'
import {spawnCliInPty} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {startProxy} from './harness/proxy.js'
import {makeTree} from './harness/tree.js'
import {waitFor} from './harness/wait.js'

const MiB = 1024 * 1024

/** The lines a terminal showed: each redraw of the bar starts at column 0, so split there, then drop the escape codes. */
function frames(raw: string): string[] {
  // eslint-disable-next-line no-control-regex
  return raw.split(/\x1b\[\d*G|\r|\n/).map(f => stripVTControlCharacters(f).trim()).filter(Boolean)
}

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

  describe('on a terminal', function () {
    const dirs: string[] = []
    after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

    it('shows done / found+ and no percentage while the walk runs, the percentage once the total is known', async function () {
      const src = mkdtempSync(join(tmpdir(), 's3c-pty-'))
      dirs.push(src)
      // More files than the runner queues (1,024) plus its slots: with every PUT held, the walk cannot end.
      const rels = makeTree(src, {files: 1500, depth: 2})
      const bucket = await newBucket('pty')
      const proxy = await startProxy(harness().s3.endpoint, {hold: r => r.method === 'PUT'})
      const cli = spawnCliInPty(['upload', src, `s3://${bucket}/p`, '--thread-count', '8'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      try {
        const found = (f: string) => Number(/(\d[\d,]*)\+ files/.exec(f)?.[1]?.replace(/,/g, '') ?? 0)
        await waitFor(() => frames(cli.output()).some(f => found(f) > 1000))
        const walking = frames(cli.output())
        const bars = walking.filter(f => f.startsWith('upload '))
        assert.ok(bars.some(f => /^upload \d+\/\d[\d,]*\+ files \| [\d.]+ [KMG]?i?B\/[\d.]+ [KMG]?i?B\+ \| /.test(f)), bars.join('\n'))
        for (const f of bars) assert.doesNotMatch(f, /%|ETA/, `while walking: ${f}`)

        // Now hold one file only: the walk ends, the run cannot.
        const last = `/${bucket}/p/${rels[rels.length - 1]}`
        proxy.setFaults({hold: r => r.method === 'PUT' && r.path === last})
        await waitFor(() => frames(cli.output()).slice(walking.length).some(f => /\d+\/1,500 files/.test(f)))
        const known = frames(cli.output()).slice(walking.length).filter(f => /\d+\/1,500 files/.test(f))
        for (const f of known) assert.match(f, /^upload \[.*\] \d+% \| \d[\d,]*\/1,500 files \| /, f)
        for (const f of known) assert.doesNotMatch(f, /\+/, f)
        proxy.setFaults({})
        const res = await cli.done
        assert.equal(res.code, 0, res.stdout)
        assert.match(res.stdout, /upload: 1500 done/)
      } finally {
        cli.child.kill()
        await proxy.stop()
      }
    })
  })
})
