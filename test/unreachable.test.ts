import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {startProxy} from './harness/proxy.js'
import {runCliWithin} from './harness/run.js'
import {seededBytes} from './harness/tree.js'

/**
 * An endpoint that never answers fails every verb after a bounded number of attempts (the first
 * and 2 retries: src/base/retry.ts, "Contact"), with one line naming it. Attempts are counted,
 * never timed: connections by a listener of our own; for a closed port or a name that does not
 * resolve, by the request log (`--log info` names every failed attempt).
 */
describe('an endpoint that does not answer: every verb fails fast with one line', function () {
  let dir = ''
  /** A listener that accepts each connection and closes it at once, counting them. */
  let closer: Server
  let accepted = 0
  let closerUrl = ''
  /** A port nothing listens on: a listener's port once it has closed. */
  let closedUrl = ''

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 's3c-unreach-'))
    mkdirSync(join(dir, 'up'))
    writeFileSync(join(dir, 'up', 'a.txt'), 'a')
    writeFileSync(join(dir, 'file.txt'), 'f')
    closer = createServer(s => { accepted++; s.destroy() })
    await new Promise<void>(resolve => closer.listen(0, '127.0.0.1', resolve))
    closerUrl = `http://127.0.0.1:${(closer.address() as {port: number}).port}`
    const gone = createServer()
    await new Promise<void>(resolve => gone.listen(0, '127.0.0.1', resolve))
    closedUrl = `http://127.0.0.1:${(gone.address() as {port: number}).port}`
    await new Promise<void>(resolve => gone.close(() => resolve()))
  })
  after(async () => {
    await new Promise<void>(resolve => closer.close(() => resolve()))
    rmSync(dir, {recursive: true, force: true})
  })

  const verbs = (): [string, string[]][] => [
    ['ls', ['ls', 's3://b/']],
    ['cat', ['cat', 's3://b/k']],
    ['head', ['head', 's3://b/k']],
    ['cp up', ['cp', join(dir, 'file.txt'), 's3://b/k']],
    ['cp down', ['cp', 's3://b/k', join(dir, 'got.txt')]],
    ['upload', ['upload', join(dir, 'up'), 's3://b/p']],
    ['download', ['download', 's3://b/p', join(dir, 'down')]],
    ['rm', ['rm', 's3://b/k']],
  ]

  for (const [what, endpoint, code] of [['a closed port', () => closedUrl, 'ECONNREFUSED'], ['a name that does not resolve', () => 'http://nonexistent.invalid', 'ENOTFOUND']] as const) {
    it(`${what}: exit 3, one line naming the endpoint, at most 3 attempts`, async function () {
      const url = endpoint()
      for (const [name, args] of verbs()) {
        const r = await runCli([...args, '--endpoint-url', url])
        assert.equal(r.code, 3, `${name}: ${r.stderr}`)
        const lines = r.stderr.trim().split('\n')
        assert.equal(lines.length, 1, `${name}: ${r.stderr}`)
        // A name that does not resolve may be a temporary failure of the resolver (EAI_AGAIN) where no DNS server answers.
        assert.match(lines[0], new RegExp(`^s3c: cannot reach the S3 endpoint at ${url.replace(/[.]/g, '\\.')} \\((${code}|EAI_AGAIN)\\): check --endpoint-url`), name)
        const logged = await runCli([...args, '--endpoint-url', url, '--log', 'info'])
        assert.equal(logged.code, 3, `${name}: ${logged.stderr}`)
        const attempts = logged.stderr.split('\n').filter(l => l.startsWith('s3c: request failed:')).length
        assert.ok(attempts >= 1 && attempts <= 3, `${name}: ${attempts} attempts\n${logged.stderr}`)
      }
    })
  }

  it('a server that closes every connection unanswered: exit 3, one line, at most 3 connections', async function () {
    for (const [name, args] of verbs()) {
      accepted = 0
      const r = await runCli([...args, '--endpoint-url', closerUrl])
      assert.equal(r.code, 3, `${name}: ${r.stderr}`)
      assert.deepEqual(r.stderr.trim().split('\n'), [`s3c: the S3 endpoint at ${closerUrl} closed the connection without answering (ECONNRESET): ` +
        'check --endpoint-url / AWS_ENDPOINT_URL (http or https, and the port) and that an S3 server listens there'], name)
      assert.ok(accepted >= 1 && accepted <= 3, `${name}: ${accepted} connections`)
    }
  })
})

/**
 * A server that takes a request and then says nothing: the request is given up after the idle
 * limit (S3C_IDLE_TIMEOUT_MS, 120 s by default, shortened here) and sent again, on the SDK's
 * path (UploadPart) as on the fast one (a ranged GET). Before, the SDK's handler only warned, and
 * one stalled part held an upload for good.
 */
describe('a request the server takes and never answers is given up after the idle limit and sent again', function () {
  let dir = ''
  before(function () { dir = mkdtempSync(join(tmpdir(), 's3c-stall-')) })
  after(function () { rmSync(dir, {recursive: true, force: true}) })

  it('upload (UploadPart) and download (ranged GET) of a 10 MiB file each get past one stalled request', async function () {
    const bucket = await newBucket('stall')
    const src = join(dir, 'src')
    mkdirSync(src)
    const body = seededBytes(7, 10 * 1024 * 1024)
    writeFileSync(join(src, 'big.bin'), body)
    let partStalls = 0
    let rangeStalls = 0
    const proxy = await startProxy(harness().s3.endpoint, {stall: r =>
      (r.method === 'PUT' && /(^|&)partNumber=1(&|$)/.test(r.query) && partStalls++ === 0) ||
      (r.method === 'GET' && r.range?.startsWith('bytes=0-') === true && rangeStalls++ === 0)})
    try {
      const env = {AWS_ENDPOINT_URL: proxy.endpoint, S3C_IDLE_TIMEOUT_MS: '1000'}
      const up = await runCliWithin(['upload', src, `s3://${bucket}/s/`, '-q'], {env}, 60_000)
      assert.equal(up.code, 0, up.stderr)
      assert.equal(proxy.count('PUT', r => /(^|&)partNumber=1(&|$)/.test(r.query)), 2, 'part 1 sent twice: stalled, then again')
      const dl = join(dir, 'dl')
      const down = await runCliWithin(['download', `s3://${bucket}/s/`, dl, '-q'], {env}, 60_000)
      assert.equal(down.code, 0, down.stderr)
      assert.equal(proxy.stalled(), 2)
      assert.ok(readFileSync(join(dl, 'big.bin')).equals(body), 'downloaded bytes differ')
    } finally {
      await proxy.stop()
    }
  })
})
