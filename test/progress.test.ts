import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {stripVTControlCharacters} from 'node:util'
import {spawnCliInPty} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {startProxy} from './harness/proxy.js'
import {makeTree} from './harness/tree.js'
import {waitFor} from './harness/wait.js'

/** The lines a terminal showed: each redraw of the bar starts at column 0, so split there, then drop the escape codes. */
function frames(raw: string): string[] {
  // eslint-disable-next-line no-control-regex
  return raw.split(/\x1b\[\d*G|\r|\n/).map(f => stripVTControlCharacters(f).trim()).filter(Boolean)
}

describe('progress', function () {
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
