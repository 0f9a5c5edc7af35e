import assert from 'node:assert/strict'
import {closeSync, mkdirSync, openSync, writeFileSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {startProxy, type Proxy, type RecordedRequest} from './harness/proxy.js'
import {scratchDirs} from './harness/scratch.js'
import {waitFor} from './harness/wait.js'

const scratch = scratchDirs()

/*
 * Requests in flight found by measuring (src/run/adaptive.ts), end to end: through a distant
 * server the run goes past its starting 64 when that pays; --thread-count fixes it; a server that
 * says "slow down" halves it. Counted at the proxy (requests in flight at once), never timed.
 * 200 ms per answer keeps the run far from this machine's CPU limit (64 in flight: 320 files/s),
 * so the first step up always pays, however busy the machine.
 */

const isPut = (r: RecordedRequest) => r.method === 'PUT'
/** An upload part or a download range: a part of a large file whose bytes pass through the client. */
const isPart = (r: RecordedRequest) => (r.method === 'PUT' && /(^|&)partNumber=/.test(r.query)) || (r.method === 'GET' && r.range !== undefined)
const summaryOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!)

function makeFiles(dir: string, n: number): void {
  mkdirSync(dir, {recursive: true})
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `f${String(i).padStart(5, '0')}`), `file ${i}\n`)
}

describe('adaptive concurrency: requests in flight follow the link', function () {
  let proxy: Proxy
  let root: string
  before(async function () {
    proxy = await startProxy(harness().s3.endpoint)
    proxy.inFlight = isPut
    root = scratch('adaptive')
  })
  after(async function () {
    await proxy.stop()
  })

  it('without --thread-count, an upload through 200 ms of distance goes past its starting 64 in flight; the summary says how far', async function () {
    const bucket = await newBucket()
    const src = join(root, 'far')
    makeFiles(src, 1500)
    proxy.setFaults({latencyMs: 200})
    proxy.reset()
    const r = await runCli(['upload', src, `s3://${bucket}/far`, '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
    proxy.setFaults({})
    assert.equal(r.code, 0, r.stderr)
    const s = summaryOf(r.stdout)
    assert.equal(s.filesDone, 1500)
    assert.ok(s.concurrency.peak >= 96, JSON.stringify(s.concurrency))
    assert.ok(proxy.maxInFlight() > 64, `${proxy.maxInFlight()} PUTs in flight at most`)
    assert.ok(proxy.maxInFlight() <= s.concurrency.peak, `${proxy.maxInFlight()} in flight, limit peaked at ${s.concurrency.peak}`)
  })

  it('--thread-count fixes it: never more in flight, and no concurrency in the summary', async function () {
    const bucket = await newBucket()
    const src = join(root, 'fixed')
    makeFiles(src, 300)
    proxy.setFaults({latencyMs: 50})
    proxy.reset()
    const r = await runCli(['upload', src, `s3://${bucket}/fixed`, '--json', '--thread-count', '16'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
    proxy.setFaults({})
    assert.equal(r.code, 0, r.stderr)
    const s = summaryOf(r.stdout)
    assert.equal(s.filesDone, 300)
    assert.equal(s.concurrency, undefined)
    assert.ok(proxy.maxInFlight() <= 16, `${proxy.maxInFlight()} PUTs in flight at most`)
  })

  it('parts of large files: without --thread-count at most 128 MiB in flight (16 of 8 MiB) both ways, reached; --thread-count fixes them too', async function () {
    const bucket = await newBucket()
    const src = join(root, 'large')
    mkdirSync(src, {recursive: true})
    // 20 parts of 8 MiB: more than the budget's 16, fewer than the 64 requests a run starts with.
    const fd = openSync(join(src, 'big.bin'), 'w')
    const chunk = Buffer.alloc(1 << 20, 7)
    for (let i = 0; i < 160; i++) writeSync(fd, chunk)
    closeSync(fd)
    proxy.inFlight = isPart
    try {
      for (const [dir, args] of [['up', ['upload', src, `s3://${bucket}/big/`]], ['down', ['download', `s3://${bucket}/big/`, join(root, 'large-down')]]] as const) {
        // Parts are held until 16 wait at once: the budget is reached, by construction; none beyond it is ever in flight.
        proxy.reset()
        proxy.setFaults({hold: isPart})
        const run = runCli([...args, '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        await waitFor(() => proxy.held() >= 16)
        proxy.setFaults({})
        const r = await run
        assert.equal(r.code, 0, r.stderr)
        assert.equal(summaryOf(r.stdout).filesDone, 1)
        assert.equal(proxy.count(undefined, isPart), 20)
        assert.equal(proxy.maxInFlight(), 16, `${dir}: ${proxy.maxInFlight()} parts in flight at most`)
      }
      // A fixed --thread-count counts every request the same: all 20 ranges at once.
      proxy.reset()
      proxy.setFaults({hold: isPart})
      const run = runCli(['download', `s3://${bucket}/big/`, join(root, 'large-fixed'), '--json', '--thread-count', '32'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      await waitFor(() => proxy.held() >= 20)
      proxy.setFaults({})
      assert.equal((await run).code, 0)
      assert.equal(proxy.maxInFlight(), 20)
    } finally {
      proxy.inFlight = isPut
      proxy.setFaults({})
    }
  })

  it('a server that answers 503 SlowDown halves the limit at once', async function () {
    const bucket = await newBucket()
    const src = join(root, 'throttled')
    makeFiles(src, 200)
    // The first file's PUT is throttled every time it is sent (3 tries): the limit goes 64 → 32 at least.
    proxy.setFaults({alwaysFail: (path, req) => req.method === 'PUT' && path.endsWith('/f00000'), alwaysFailStatus: 503})
    proxy.reset()
    const r = await runCli(['upload', src, `s3://${bucket}/throttled`, '--json', '--max-retry', '2'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
    proxy.setFaults({})
    const s = summaryOf(r.stdout)
    assert.equal(s.filesFailed, 1, r.stderr)
    assert.equal(s.filesDone, 199)
    assert.ok(s.concurrency.last <= 32, JSON.stringify(s.concurrency))
  })
})
