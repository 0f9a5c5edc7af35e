import assert from 'node:assert/strict'
import {closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, spawnCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import type {RecordedRequest} from './harness/proxy.js'
import {withWorker, withWorkers} from './harness/run.js'
import {makeTree} from './harness/tree.js'
import {waitFor} from './harness/wait.js'

/*
 * What a worker does at once (issue 24): `--concurrency` is requests in flight, shared by every
 * file of every job in hand; and the run's batches reach every worker early. Counted through
 * the harness proxy (one per worker, so each request says whose it is), never timed.
 */

const isPut = (r: RecordedRequest) => r.method === 'PUT'
const isPart = (r: RecordedRequest) => r.method === 'PUT' && /(^|&)partNumber=/.test(r.query)

describe('workers: requests in flight and work for every worker', function () {
  const dirs: string[] = []
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  /** `s3c worker --json` (with `--concurrency` if given), ready before the body runs. */
  const workerArgs = (concurrency?: number) => [...(concurrency ? ['--concurrency', String(concurrency)] : []), '--json']

  it('--concurrency 3: the worker\'s batch files share 3 request slots: 3 in flight, never more', async function () {
    const src = mk('slots')
    makeTree(src, {files: 200, depth: 2})
    const bucket = await newBucket('slots')
    // Every PUT waits until the test lets go: the slots fill, by construction.
    await withWorker({proxy: {hold: isPut}, args: workerArgs(3), ready: true}, async ({proxy}) => {
      proxy.inFlight = isPut
      const up = spawnCli(['upload', src, `s3://${bucket}/s`, '--json'], {env: {S3C_REDIS_URL: harness().redis.url}})
      await waitFor(() => proxy.held() >= 3)
      proxy.setFaults({latencyMs: 5})
      const r = await up.done
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).filesDone, 200)
      assert.equal(proxy.count('PUT'), 200)
      // Old workers took 3 jobs of up to 64 files and sent each job's files at once (6 sockets).
      assert.equal(proxy.maxInFlight(), 3, `${proxy.maxInFlight()} PUTs in flight at most`)
    })
  })

  it('without --concurrency a worker keeps parts of large files at 128 MiB in flight (16 of 8 MiB), and small files go past them', async function () {
    const src = mk('parts')
    // 20 parts of 8 MiB and 30 small files.
    const fd = openSync(join(src, 'big.bin'), 'w')
    const chunk = Buffer.alloc(1 << 20, 5)
    for (let i = 0; i < 160; i++) writeSync(fd, chunk)
    closeSync(fd)
    for (let i = 0; i < 30; i++) writeFileSync(join(src, `small${i}`), `small ${i}\n`)
    const bucket = await newBucket('parts')
    // Parts wait until 16 are held and every small file is in: the budget is reached, and does not hold the small files back.
    await withWorker({proxy: {hold: isPart}, args: workerArgs(), ready: true}, async ({proxy}) => {
      proxy.inFlight = isPart
      const up = spawnCli(['upload', src, `s3://${bucket}/p`, '--json'], {env: {S3C_REDIS_URL: harness().redis.url}})
      await waitFor(() => proxy.held() >= 16 && proxy.count('PUT', r => !isPart(r) && r.status === 200) >= 30)
      proxy.setFaults({})
      const r = await up.done
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).filesDone, 31)
      assert.equal(proxy.count('PUT', isPart), 20)
      assert.equal(proxy.maxInFlight(), 16, `${proxy.maxInFlight()} parts in flight at most`)
    })
  })

  it('without --concurrency a worker\'s limit is measured, as in-process: it starts at 64 requests in flight', async function () {
    const src = mk('adaptive')
    makeTree(src, {files: 150, depth: 2})
    const bucket = await newBucket('adaptive')
    await withWorker({proxy: {hold: isPut}, args: workerArgs(), ready: true}, async ({proxy}) => {
      proxy.inFlight = isPut
      const up = spawnCli(['upload', src, `s3://${bucket}/a`, '--json'], {env: {S3C_REDIS_URL: harness().redis.url}})
      await waitFor(() => proxy.held() >= 64)
      proxy.setFaults({})
      const r = await up.done
      assert.equal(r.code, 0, r.stderr)
      assert.equal(proxy.count('PUT'), 150)
      // 64 at the start (transferDefaults.adaptiveStart), up to 128 (adaptiveMax) if the rate grows with it.
      assert.ok(proxy.maxInFlight() >= 64 && proxy.maxInFlight() <= 128, `${proxy.maxInFlight()} PUTs in flight at most`)
    })
  })

  it('4 workers × --concurrency 2, 1,000 small files: every worker does jobs, and each starts before any worker has sent 64 files', async function () {
    const src = mk('spread')
    makeTree(src, {files: 1000, depth: 3})
    const bucket = await newBucket('spread')
    // One proxy per worker, +50 ms per answer as a remote region. The PUTs' arrival order across
    // the four (one process: one order) says whose each was.
    const order: number[] = []
    const workers = await withWorkers(4, {proxyEach: i => ({latencyMs: 50, onRequest: r => { if (isPut(r)) order.push(i) }}), args: workerArgs(2), ready: true}, async started => {
      const up = await runCli(['upload', src, `s3://${bucket}/w`, '--json'], {env: {S3C_REDIS_URL: harness().redis.url}})
      assert.equal(up.code, 0, up.stderr)
      assert.equal(JSON.parse(up.stdout).filesDone, 1000)
      return started
    })
    const done = await Promise.all(workers.map(w => w.done))
    const perWorker = done.map(d => JSON.parse(d.stdout) as {jobs: number; filesDone: number})
    assert.ok(perWorker.every(w => w.jobs > 0), `jobs per worker: ${perWorker.map(w => w.jobs)}`)
    assert.equal(perWorker.reduce((n, w) => n + w.filesDone, 0), 1000)
    assert.equal(order.length, 1000, 'one PUT per file')
    // Where each worker's first PUT falls, and how many PUTs each worker had sent before it.
    for (let w = 0; w < 4; w++) {
      const first = order.indexOf(w)
      const before = [0, 1, 2, 3].map(o => order.slice(0, first).filter(x => x === o).length)
      assert.ok(Math.max(...before) < 64, `worker ${w} started after ${before} PUTs of the workers: one took a large share before the others had work`)
    }
  })
})
