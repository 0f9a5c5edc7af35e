import assert from 'node:assert/strict'
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {createServer as createHttpsServer} from 'node:https'
import {createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {AbortMultipartUploadCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand} from '@aws-sdk/client-s3'
import {Redis} from 'ioredis'
import {runCli, spawnCli, type CliResult} from './harness/cli.js'
import {harness, newBucket, s3Client} from './harness/hooks.js'
import {listKeys, putObject} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {runCliWithin, runIdOf, startWorker, withWorker, within} from './harness/run.js'
import {makeTree, seededBytes} from './harness/tree.js'
import {waitFor} from './harness/wait.js'
import {runJobsKey} from '../src/run/redis.js'

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address() as {port: number}
      s.close(() => resolve(port))
    })
  })
}


/** Lines s3c printed as errors ("s3c: …"). */
const errorLines = (stderr: string) => stderr.split('\n').filter(l => l.startsWith('s3c: ') && !l.startsWith('s3c: stopping'))

async function runState(runId: string): Promise<string> {
  const r = await runCli(['status', runId, '--json'], {env: {S3C_REDIS_URL: harness().redis.url}})
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout).state
}

describe('run bookkeeping', function () {
  this.timeout(240_000)
  const dirs: string[] = []
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  describe('with --redis, an early error ends the command and fails its run', function () {
    interface Case {
      args: string[]
      env?: Record<string, string>
      code: number
      message: RegExp
      stop?: () => Promise<void>
    }
    const cases: [string, () => Promise<Case>][] = [
      ['a missing bucket', async () => {
        const src = mk('e1')
        makeTree(src, {files: 5, depth: 1})
        return {args: ['upload', src, `s3://s3c-no-such-bucket-${process.pid}/p`], code: 3, message: /^s3c: bucket "s3c-no-such-bucket-\d+" does not exist/m}
      }],
      ['a wrong secret key', async () => {
        const bucket = await newBucket('e2')
        return {args: ['download', `s3://${bucket}/p`, mk('e2dst')], env: {AWS_ENDPOINT_URL: harness().authEndpoint, AWS_SECRET_ACCESS_KEY: 'not-the-secret'},
          code: 3, message: /^s3c: the secret key does not match the access key/m}
      }],
      ['an existing bundle id', async () => {
        const src = mk('e3')
        makeTree(src, {files: 5, depth: 1})
        const bucket = await newBucket('e3')
        assert.equal((await runCli(['bundle', src, 'b1', '--bucket', bucket, '--quiet'])).code, 0)
        return {args: ['bundle', src, 'b1', '--bucket', bucket], code: 2, message: /^s3c: bundle "b1" already exists/m}
      }],
      ['an empty tar create source', async () => {
        const bucket = await newBucket('e4')
        return {args: ['tar', 'create', '-f', `s3://${bucket}/a.tar`, `s3://${bucket}/empty/`], code: 2, message: /^s3c: nothing to archive: no objects under/m}
      }],
      ['a 503 during the listing', async () => {
        const src = mk('e5')
        makeTree(src, {files: 5, depth: 1})
        const bucket = await newBucket('e5')
        await putObject(bucket, 'p/already-there.txt', Buffer.from('x'))
        // The preflight (MaxKeys 1) passes; the full listing that follows gets 503 SlowDown.
        const proxy = await startProxy(harness().s3.endpoint, {alwaysFailStatus: 503,
          alwaysFail: (_p, r) => r.method === 'GET' && r.query.includes('list-type=2') && !r.query.includes('max-keys=1')})
        return {args: ['upload', src, `s3://${bucket}/p`, '--max-retry', '1'], env: {AWS_ENDPOINT_URL: proxy.endpoint}, code: 3,
          message: /^s3c: SlowDown \(HTTP 503\)/m, stop: () => proxy.stop()}
      }],
    ]
    for (const [title, prepare] of cases) {
      it(`${title}: exits with its code, the run is failed, the same command starts a new run`, async function () {
        const c = await prepare()
        try {
          const env = {S3C_REDIS_URL: harness().redis.url, ...c.env}
          const first = await runCliWithin(c.args, {env})
          assert.equal(first.timedOut, false, `still running after 60 s: ${first.stderr}`)
          assert.equal(first.code, c.code, first.stderr)
          assert.match(first.stderr, c.message)
          assert.equal(errorLines(first.stderr).length, 1, first.stderr)
          const runId = runIdOf(first.stderr)
          assert.equal(await runState(runId), 'failed')
          const again = await runCliWithin(c.args, {env})
          assert.equal(again.timedOut, false, `still running after 60 s: ${again.stderr}`)
          assert.equal(again.code, c.code, again.stderr)
          assert.doesNotMatch(again.stderr, /resuming/)
          assert.notEqual(runIdOf(again.stderr), runId, 'a new run')
        } finally {
          await c.stop?.()
        }
      })
    }

    it('SIGTERM while a resumed run waits for its earlier jobs: exits 130 in one line', async function () {
      const src = mk('sig')
      makeTree(src, {files: 20, depth: 1})
      const bucket = await newBucket('sig')
      const env = {S3C_REDIS_URL: harness().redis.url}
      const args = ['upload', src, `s3://${bucket}/s`]
      // No worker: the detached run's jobs stay queued, and the same command resumes it and waits for them.
      const first = await runCliWithin([...args, '--detach'], {env})
      assert.equal(first.code, 0, first.stderr)
      const runId = first.stdout.trim()
      const redis = new Redis(harness().redis.url)
      try {
        const again = spawnCli(args, {env})
        let err = ''
        again.child.stderr!.on('data', d => { err += d })
        await waitFor(() => err.includes(`resuming run ${runId}`), 30_000)
        again.child.kill('SIGTERM')
        const r = await within(again, 30_000)
        assert.equal(r.timedOut, false, `SIGTERM ignored: ${r.stderr}`)
        assert.equal(r.code, 130, r.stderr)
        assert.deepEqual(errorLines(r.stderr), ['s3c: interrupted; unfinished files were cleaned up, run the same command again to resume'])
      } finally {
        // Workers of later tests drop a stopped run's jobs.
        await redis.hset(`s3c:run:${runId}`, 'fatal', 'test over')
        redis.disconnect()
      }
    })
  })

  describe('s3c worker ends on SIGTERM whatever Redis does', function () {
    async function startRedisServer(): Promise<{url: string; child: ChildProcess}> {
      const port = await freePort()
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {stdio: 'ignore'})
      const end = Date.now() + 10_000
      while (spawnSync('redis-cli', ['-p', String(port), 'ping'], {encoding: 'utf8'}).stdout?.trim() !== 'PONG') {
        if (Date.now() > end) throw new Error('redis-server did not start')
        await new Promise(res => setTimeout(res, 100))
      }
      return {url: `redis://127.0.0.1:${port}`, child}
    }

    it('Redis refusing connections: one line, exit 3, at once', async function () {
      const port = await freePort()
      const r = await runCliWithin(['worker', '--redis', `redis://127.0.0.1:${port}`], {}, 30_000)
      assert.equal(r.timedOut, false, `still running: ${r.stderr}`)
      assert.equal(r.code, 3)
      assert.deepEqual(r.stderr.trim().split('\n'), [`s3c: cannot reach Redis at redis://127.0.0.1:${port} (ECONNREFUSED): check --redis / S3C_REDIS_URL and that the server is running`])
    })

    it('Redis that never answers: SIGTERM ends the worker, one line, exit 3', async function () {
      const sockets = new Set<Socket>()
      const silent: Server = createServer(s => { sockets.add(s) })
      await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
      const {port} = silent.address() as {port: number}
      try {
        const w = spawnCli(['worker', '--redis', `redis://127.0.0.1:${port}`])
        await waitFor(() => sockets.size > 0, 10_000)
        w.child.kill('SIGTERM')
        const r = await within(w, 30_000)
        assert.equal(r.timedOut, false, `SIGTERM ignored: ${r.stderr}`)
        assert.equal(r.code, 3, r.stderr)
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
        assert.match(r.stderr, new RegExp(`^s3c: cannot reach Redis at redis://127\\.0\\.0\\.1:${port} \\(`))
      } finally {
        for (const s of sockets) s.destroy()
        silent.close()
      }
    })

    it('Redis stopped while the worker runs: SIGTERM ends it within its grace period, exit 3', async function () {
      const redis = await startRedisServer()
      try {
        const w = spawnCli(['worker', '--redis', redis.url, '--grace-seconds', '10'])
        let err = ''
        w.child.stderr!.on('data', d => { err += d })
        await waitFor(() => err.includes('s3c worker: ready'), 20_000)
        const exited = new Promise(res => redis.child.once('exit', res))
        redis.child.kill('SIGKILL')
        await exited
        await waitFor(() => err.includes('lost Redis'), 20_000)
        w.child.kill('SIGTERM')
        const r = await within(w, 30_000)
        assert.equal(r.timedOut, false, `SIGTERM ignored: ${r.stderr}`)
        assert.equal(r.code, 3, r.stderr)
        assert.deepEqual(errorLines(r.stderr).length, 1, r.stderr)
        assert.match(errorLines(r.stderr)[0], new RegExp(`^s3c: cannot reach Redis at ${redis.url.replace(/\./g, '\\.')} \\(`))
      } finally {
        if (redis.child.exitCode === null && redis.child.signalCode === null) redis.child.kill('SIGKILL')
      }
    })
    it('a job in hand that does not finish: SIGTERM ends the worker after --grace-seconds, exit 130, the job goes back to the queue', async function () {
      const src = mk('grace')
      makeTree(src, {files: 3, depth: 0})
      const bucket = await newBucket('grace')
      const proxy = await startProxy(harness().s3.endpoint, {stall: r => r.method === 'PUT'})
      const env = {AWS_ENDPOINT_URL: proxy.endpoint, S3C_REDIS_URL: harness().redis.url}
      const w = startWorker(proxy.endpoint, ['--grace-seconds', '1'])
      let runId = ''
      try {
        const up = await runCliWithin(['upload', src, `s3://${bucket}/g`, '--detach'], {env})
        assert.equal(up.code, 0, up.stderr)
        runId = up.stdout.trim()
        // Every file's PUT hangs: every job of the run is in the worker's hand (the first
        // batches of a run are cut small, so the 3 files may be more than one job).
        await waitFor(() => proxy.stalled() === 3, 30_000)
        const redis = new Redis(harness().redis.url)
        const jobs = await redis.scard(runJobsKey(runId)).finally(() => redis.disconnect())
        w.child.kill('SIGTERM')
        const r = await within(w, 30_000)
        assert.equal(r.timedOut, false, `SIGTERM ignored: ${r.stderr}`)
        assert.equal(r.code, 130, r.stderr)
        assert.deepEqual(errorLines(r.stderr), [`s3c: stopped after --grace-seconds 1; its ${jobs} jobs in hand return to the queue when their locks lapse`])
        // Another worker finishes the run once the stopped one's lock lapses.
        proxy.setFaults({})
        proxy.releaseStalled()
        await withWorker({endpoint: proxy.endpoint}, () => waitFor(async () => (await runState(runId)) === 'done', 60_000))
        assert.equal((await listKeys(bucket, 'g/')).size, 3)
      } finally {
        if (w.child.exitCode === null) w.child.kill('SIGKILL')
        await proxy.stop()
      }
    })
  })

  describe('counters: every file once per run', function () {
    it('a run resumed after kill -9 of its CLI counts each file once', async function () {
      const src = mk('cres')
      makeTree(src, {files: 2000, depth: 6})
      const bucket = await newBucket('cres')
      // One PUT hangs until the second try is under way: the run cannot finish before the kill.
      const args = ['upload', src, `s3://${bucket}/r`, '--json']
      await withWorker({proxy: {stall: r => r.method === 'PUT' && r.path === `/${bucket}/r/plain 0.txt`}}, async ({proxy, env}) => {
        const first = spawnCli(args, {env})
        await waitFor(() => proxy.stalled() > 0 && proxy.count('PUT') >= 300)
        first.child.kill('SIGKILL')
        await first.done
        const again = spawnCli(args, {env})
        let err = ''
        again.child.stderr!.on('data', d => { err += d })
        await waitFor(() => err.includes('resuming run'), 60_000)
        proxy.setFaults({})
        proxy.releaseStalled()
        const r = await within(again, 180_000)
        assert.equal(r.code, 0, r.stderr)
        const s = JSON.parse(r.stdout)
        assert.deepEqual([s.filesDone + s.filesSkipped, s.filesFailed], [2000, 0], r.stdout)
        const status = JSON.parse((await runCli(['status', runIdOf(r.stderr), '--json'], {env})).stdout)
        assert.deepEqual([status.filesDone + status.filesSkipped, status.filesFailed, status.state], [2000, 0, 'done'])
      })
    })

    it('the same command twice at once: the second is refused in one line, the first counts each file once', async function () {
      const src = mk('ccon')
      makeTree(src, {files: 2000, depth: 6})
      const bucket = await newBucket('ccon')
      // One PUT hangs until the second command has been seen: the first run cannot finish before.
      const args = ['upload', src, `s3://${bucket}/c`, '--json']
      await withWorker({proxy: {stall: r => r.method === 'PUT' && r.path === `/${bucket}/c/plain 0.txt`}}, async ({proxy, env}) => {
        const first = spawnCli(args, {env})
        let err = ''
        first.child.stderr!.on('data', d => { err += d })
        await waitFor(() => /run \d{8}-/.test(err) && proxy.stalled() > 0)
        const runId = runIdOf(err)
        const second = await runCliWithin(args, {env}, 180_000)
        assert.equal(second.code, 2, second.stderr)
        // --json: the one object on stdout is the error (issue 11 item 5).
        assert.deepEqual(second.stdout.trim().split('\n').length, 1, second.stdout)
        const refused = JSON.parse(second.stdout)
        assert.equal(refused.exitCode, 2)
        assert.match(refused.error, new RegExp(`^run ${runId} is being enqueued by another s3c`))
        assert.equal(errorLines(second.stderr).length, 1, second.stderr)
        assert.match(second.stderr, new RegExp(`^s3c: run ${runId} is being enqueued by another s3c .*: wait for it to finish \\(s3c status ${runId}\\) or stop it first$`, 'm'))
        proxy.setFaults({})
        proxy.releaseStalled()
        const r = await within(first, 180_000)
        assert.equal(r.code, 0, r.stderr)
        const s = JSON.parse(r.stdout)
        assert.deepEqual([s.filesDone + s.filesSkipped, s.filesFailed], [2000, 0], r.stdout)
      })
    })
  })

  describe('leftovers of a killed run are found by prefix', function () {
    /** Puts small objects under src/ and kills an in-process tar create once it is stuck deleting its temporary objects. */
    async function killedTarCreate(bucket: string): Promise<string[]> {
      for (let i = 0; i < 6; i++) await putObject(bucket, `src/s${i}.bin`, seededBytes(200 + i, 10 * 1024))
      const proxy = await startProxy(harness().s3.endpoint, {stall: r => r.method === 'POST' && /(^|&)delete(=|&|$)/.test(r.query)})
      try {
        const run = spawnCli(['tar', 'create', '-f', `s3://${bucket}/arch/a.tar`, `s3://${bucket}/src/`, '--mode', 'copy'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        await waitFor(() => proxy.stalled() > 0, 60_000)
        run.child.kill('SIGKILL')
        await run.done
      } finally {
        await proxy.stop()
      }
      const left = [...(await listKeys(bucket, 'arch/')).keys()].filter(k => k.includes('.s3c-'))
      assert.ok(left.some(k => k.includes('.s3c-toc-')) && left.some(k => k.includes('.s3c-tmp-')), `leftovers: ${left.join(', ')}`)
      return left
    }

    it('s3c cleanup --dry-run lists s3c\'s temporary objects; s3c cleanup deletes them, one summary line', async function () {
      const bucket = await newBucket('cln')
      const left = await killedTarCreate(bucket)
      await putObject(bucket, 'arch/keep.txt', Buffer.from('not s3c\'s'))
      const dry = await runCliWithin(['cleanup', `s3://${bucket}/arch/`, '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      const lines = dry.stdout.trim().split('\n')
      assert.deepEqual(lines.slice(0, -1).filter(l => l.startsWith('temporary object ')).map(l => l.slice('temporary object '.length)).sort(),
        left.map(k => `s3://${bucket}/${k}`).sort())
      assert.match(lines.at(-1)!, new RegExp(`^cleanup \\(dry run\\): would delete ${left.length} temporary objects`))
      assert.deepEqual([...(await listKeys(bucket, 'arch/')).keys()].filter(k => k.includes('.s3c-')).sort(), [...left].sort(), 'a dry run deletes nothing')

      const real = await runCliWithin(['cleanup', `s3://${bucket}/arch/`, '--json'])
      assert.equal(real.code, 0, real.stderr)
      assert.equal(real.stdout.trim().split('\n').length, 1)
      const summary = JSON.parse(real.stdout)
      assert.equal(summary.command, 'cleanup')
      assert.equal(summary.temporaryObjects, left.length)
      assert.deepEqual([...(await listKeys(bucket, 'arch/')).keys()], ['arch/keep.txt'])
      const text = await runCliWithin(['cleanup', `s3://${bucket}/arch/`])
      assert.equal(text.code, 0, text.stderr)
      assert.match(text.stdout, /^cleanup: 0 temporary objects deleted, /)
      assert.equal(text.stdout.trim().split('\n').length, 1)
    })

    it('a rerun of tar create removes what the killed run left for the same archive', async function () {
      const bucket = await newBucket('clr')
      await killedTarCreate(bucket)
      const again = await runCliWithin(['tar', 'create', '-f', `s3://${bucket}/arch/a.tar`, `s3://${bucket}/src/`, '--mode', 'copy'])
      assert.equal(again.code, 0, again.stderr)
      assert.deepEqual([...(await listKeys(bucket, 'arch/')).keys()].sort(), ['arch/a.tar', 'arch/a.tar.s3ci'])
    })

    it('multipart uploads left by kill -9 are aborted by s3c cleanup and by a rerun of bundle', async function () {
      const bucket = await newBucket('clm')
      const c = s3Client()
      try {
        // fauxqs has no ListMultipartUploads (it answers with an object listing): nothing to check there.
        const probe = await c.send(new CreateMultipartUploadCommand({Bucket: bucket, Key: 'probe/x'}))
        const listed = await c.send(new ListMultipartUploadsCommand({Bucket: bucket, Prefix: 'probe/'})).catch(() => undefined)
        await c.send(new AbortMultipartUploadCommand({Bucket: bucket, Key: 'probe/x', UploadId: probe.UploadId})).catch(() => undefined)
        if (!listed?.Uploads?.some(u => u.UploadId === probe.UploadId)) {
          console.log('      (skipped: this S3 server does not list multipart uploads: ListMultipartUploads is not implemented)')
          this.skip()
        }
        const src = mk('clm')
        makeTree(src, {files: 20, depth: 2})
        const uploads = async () => ((await c.send(new ListMultipartUploadsCommand({Bucket: bucket, Prefix: 'bund/'}))).Uploads ?? []).map(u => u.Key)
        const killedBundle = async () => {
          const proxy = await startProxy(harness().s3.endpoint, {stall: r => r.method === 'PUT' && /(^|&)partNumber=/.test(r.query)})
          try {
            const run = spawnCli(['bundle', src, 'm1', '--bucket', bucket, '--prefix', 'bund'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
            await waitFor(() => proxy.stalled() > 0, 60_000)
            run.child.kill('SIGKILL')
            await run.done
          } finally {
            await proxy.stop()
          }
          assert.deepEqual(await uploads(), ['bund/m1/bundle.tar'])
        }
        await killedBundle()
        const r = await runCliWithin(['cleanup', `s3://${bucket}/bund/`, '--json'])
        assert.equal(r.code, 0, r.stderr)
        assert.equal(JSON.parse(r.stdout).multipartUploads, 1)
        assert.deepEqual(await uploads(), [])
        await killedBundle()
        const again = await runCliWithin(['bundle', src, 'm1', '--bucket', bucket, '--prefix', 'bund', '--quiet'])
        assert.equal(again.code, 0, again.stderr)
        assert.deepEqual(await uploads(), [])
      } finally {
        c.destroy()
      }
    })
  })

  describe('endpoint errors in one line', function () {
    it('an https endpoint with a self-signed certificate: names the endpoint and the reason in words, exit 3', async function () {
      const dir = mk('tls')
      const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
        '-days', '1', '-subj', '/CN=127.0.0.1'], {encoding: 'utf8'})
      assert.equal(gen.status, 0, gen.stderr)
      const server = createHttpsServer({key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem'))}, (_req, res) => res.end())
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      const {port} = server.address() as {port: number}
      try {
        const src = mk('tlssrc')
        makeTree(src, {files: 3, depth: 1})
        const r = await runCliWithin(['upload', src, 's3://any-bucket/p', '--endpoint-url', `https://127.0.0.1:${port}`], {}, 60_000)
        assert.equal(r.code, 3, r.stderr)
        assert.deepEqual(r.stderr.trim().split('\n'), [`s3c: TLS to https://127.0.0.1:${port} failed: the certificate is self-signed / not trusted: set AWS_CA_BUNDLE or use http://`])
      } finally {
        server.closeAllConnections()
        server.close()
      }
    })

    it('an endpoint URL that does not parse: bad input, exit 2, naming where it came from', async function () {
      const src = mk('badurl')
      makeTree(src, {files: 3, depth: 1})
      for (const [extra, env, name] of [
        [['--endpoint-url', 'http//no-colon'], {}, '--endpoint-url'],
        [[], {AWS_ENDPOINT_URL: 'localhost:9000'}, 'AWS_ENDPOINT_URL'],
        [[], {AWS_ENDPOINT_URL_S3: 'http://[::1'}, 'AWS_ENDPOINT_URL_S3'],
      ] as [string[], Record<string, string>, string][]) {
        const r = await runCliWithin(['upload', src, 's3://any-bucket/p', ...extra], {env})
        assert.equal(r.code, 2, r.stderr)
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
        assert.match(r.stderr, new RegExp(`^s3c: ${name} ".*" is not an http:// or https:// URL`))
      }
    })
  })
})
