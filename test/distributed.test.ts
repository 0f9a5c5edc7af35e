import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, spawnCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {waitFor} from './harness/wait.js'
import type {Proxy} from './harness/proxy.js'
import {withWorker, withWorkers} from './harness/run.js'
import {startLocalRedis} from './harness/servers.js'
import {compareTrees, makeTree} from './harness/tree.js'

const MiB = 1024 * 1024

/** PUTs per object key of the tree (single PUTs and multipart parts apart). */
function putsPerKey(proxy: Proxy): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of proxy.requests) if (r.method === 'PUT' && !r.query.includes('uploadId')) counts.set(r.path, (counts.get(r.path) ?? 0) + 1)
  return counts
}

describe('distributed runs on BullMQ', function () {
  const dirs: string[] = []
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  /**
   * A worker with BullMQ's stall detection at `stalledSeconds` (its lock lapses after twice
   * that). Only the tests that kill a worker shorten it, to get its jobs back quickly: with 2 s,
   * a worker busy on a loaded machine misses a lock renewal now and then, BullMQ rightly hands
   * the job to the other worker, and the file is sent twice (the cause of rare "one PUT per small
   * file" failures under load). Exactly-once assertions run with the normal detection.
   */
  const stalledAfter = (stalledSeconds = 15): string[] => ['--concurrency', '16', '--stalled-seconds', String(stalledSeconds)]

  it('two workers and the enqueuing CLI move a 3,000-file tree; each file is uploaded once; the CLI writes the sync state in its own folder', async function () {
    const src = mk('bq')
    makeTree(src, {files: 3000, depth: 8, big: [{rel: 'big/twenty.bin', size: 20 * MiB}]})
    const bucket = await newBucket('bq')
    // As if on other machines: the workers' state folder is not the CLI's.
    const cliStates = mk('bq-cli-states')
    const workerStates = join(mk('bq-worker-home'), 'states')
    await withWorkers(2, {proxy: {}, args: stalledAfter(), env: {S3C_STATE_DIR: workerStates}}, async ([{proxy, env}]) => {
      const up = await runCli(['upload', src, `s3://${bucket}/t`, '--json'], {env: {...env, S3C_STATE_DIR: cliStates}})
      assert.equal(up.code, 0, up.stderr)
      const summary = JSON.parse(up.stdout)
      assert.equal(summary.filesDone, 3001)
      const puts = putsPerKey(proxy)
      assert.equal(puts.size, 3000)
      assert.ok([...puts.values()].every(n => n === 1), 'one PUT per small file')
      assert.equal(proxy.count('PUT', r => r.query.includes('uploadId')), 3, '20 MiB in 8 MiB parts, each sent once')
      assert.equal(proxy.requests.filter(r => r.path.includes('/.s3c/')).length, 0, 'no state in the bucket')
      const states = readdirSync(cliStates).filter(n => n.endsWith('.ndjson.gz'))
      assert.equal(states.length, 1, 'the workers\' outcomes made the sync state, in the folder of the CLI that collected them')
      const about = JSON.parse(readFileSync(join(cliStates, states[0].replace('.ndjson.gz', '.json')), 'utf8'))
      assert.deepEqual([about.bucket, about.prefix, about.direction, about.local], [bucket, 't/', 'upload', src])
      assert.ok(!existsSync(workerStates), 'workers write no state')
    })
    const dst = mk('bqdst')
    assert.equal((await runCli(['download', `s3://${bucket}/t`, dst])).code, 0)
    assert.deepEqual(compareTrees(src, dst), [])
  })

  it('SIGKILL of a worker in the middle: the run still completes, nothing lost or corrupted', async function () {
    const src = mk('kill')
    makeTree(src, {files: 1500, depth: 6, big: [{rel: 'big.bin', size: 24 * MiB}]})
    const bucket = await newBucket('kill')
    await withWorkers(2, {proxy: {}, args: stalledAfter(2)}, async ([doomed, {proxy, env}]) => {
      const run = spawnCli(['upload', src, `s3://${bucket}/k`, '--json'], {env})
      await waitFor(() => proxy.count('PUT') >= 300)
      doomed.child.kill('SIGKILL')
      const r = await run.done
      assert.equal(r.code, 0, r.stderr + r.stdout)
      assert.equal(JSON.parse(r.stdout).filesDone + JSON.parse(r.stdout).filesSkipped, 1501)
    })
    const dst = mk('killdst')
    assert.equal((await runCli(['download', `s3://${bucket}/k`, dst])).code, 0)
    assert.deepEqual(compareTrees(src, dst), [])
  })

  it('SIGKILL of the enqueuing CLI, then the same command again: it resumes, no file is uploaded twice', async function () {
    const src = mk('resume')
    makeTree(src, {files: 3000, depth: 8})
    const bucket = await newBucket('resume')
    // Uploads past the 200th are held until the second command has claimed the run. Without the
    // gate the worker could finish the whole run while the second command starts (seconds under
    // load); a finished run is rightly not resumed, and the test failed now and then for that.
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let putsSeen = 0
    const args = ['upload', src, `s3://${bucket}/r`, '--json']
    await withWorker({proxy: {onRequest: async r => { if (r.method === 'PUT' && ++putsSeen > 200) await gate }}, args: stalledAfter()}, async ({proxy, env}) => {
      const first = spawnCli(args, {env})
      await waitFor(() => putsSeen > 200)
      first.child.kill('SIGKILL')
      await first.done
      const second = spawnCli(args, {env})
      let secondStderr = ''
      second.child.stderr!.on('data', d => { secondStderr += d })
      await waitFor(() => /resuming run \d{8}-[0-9a-f]{8}/.test(secondStderr))
      release()
      const again = await second.done
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stderr, /resuming run \d{8}-[0-9a-f]{8}/)
      const puts = putsPerKey(proxy)
      assert.equal(puts.size, 3000)
      assert.deepEqual([...puts.entries()].filter(([, n]) => n > 1), [], 'no file uploaded twice')
      // A run that finished is not resumed: the next try is a new run, and finds nothing to send.
      const third = await runCli(args, {env})
      assert.doesNotMatch(third.stderr, /resuming/)
      assert.equal(JSON.parse(third.stdout).filesSkipped, 3000)
    })
    const dst = mk('resumedst')
    assert.equal((await runCli(['download', `s3://${bucket}/r`, dst])).code, 0)
    assert.deepEqual(compareTrees(src, dst), [])
  })

  it('s3c retry sends only the failed files of a run again', async function () {
    const src = mk('retry')
    makeTree(src, {files: 200, depth: 3})
    writeFileSync(join(src, 'flaky file.txt'), 'arrives on the second try')
    const bucket = await newBucket('retry')
    await withWorker({proxy: {alwaysFail: p => p.includes('flaky file')}, args: stalledAfter()}, async ({proxy, env}) => {
      const first = await runCli(['upload', src, `s3://${bucket}/y`, '--max-retry', '1'], {env})
      assert.equal(first.code, 1, first.stderr)
      assert.match(first.stderr, /failed: y\/flaky file\.txt: InternalError/)
      const runId = /run (\d{8}-[0-9a-f]{8})/.exec(first.stderr)![1]
      proxy.setFaults({})
      proxy.reset()
      const retry = await runCli(['retry', runId, '--json'], {env})
      assert.equal(retry.code, 0, retry.stderr)
      assert.equal(JSON.parse(retry.stdout).filesFailed, 0)
      const puts = putsPerKey(proxy)
      assert.deepEqual([...puts.keys()].map(k => k.split('/').slice(2).join('/')), ['y/flaky file.txt'])
      const again = await runCli(['retry', runId], {env})
      assert.equal(again.code, 2)
      assert.match(again.stderr, /has no failed files: nothing to retry/)
    })
  })

  it('--detach prints the run id at once; s3c status and s3c runs follow the run', async function () {
    const src = mk('detach')
    makeTree(src, {files: 300, depth: 4})
    const bucket = await newBucket('detach')
    const env = {S3C_REDIS_URL: harness().redis.url}
    const up = await runCli(['upload', src, `s3://${bucket}/d`, '--detach'], {env})
    assert.equal(up.code, 0, up.stderr)
    const runId = up.stdout.trim()
    assert.match(runId, /^\d{8}-[0-9a-f]{8}$/)
    const pending = JSON.parse((await runCli(['status', runId, '--json'], {env})).stdout)
    assert.equal(pending.state, 'running', 'nothing runs without a worker')
    assert.equal(pending.workers, 0, 'and none is connected')
    assert.equal(pending.filesDone, 0)
    await withWorker({args: stalledAfter()}, () => waitFor(async () => JSON.parse((await runCli(['status', runId, '--json'], {env})).stdout).state === 'done'))
    const done = await runCli(['status', runId], {env})
    assert.match(done.stdout, new RegExp(`^${runId} done: upload .* s3://${bucket}/d\n  300 done, 0 skipped, 0 failed, 0 jobs pending`))
    const runs = await runCli(['runs', '--json'], {env})
    assert.ok((JSON.parse(runs.stdout).runs as {runId: string; filesDone: number}[]).some(r => r.runId === runId && r.filesDone === 300))
    const unknown = await runCli(['status', 'no-such-run'], {env})
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /no run "no-such-run" in this Redis/)
  })

  it('REDIS_URL alone is ignored: the run is in-process (only --redis or S3C_REDIS_URL make it distributed)', async function () {
    const src = mk('envr')
    makeTree(src, {files: 5, depth: 1})
    const bucket = await newBucket('envr')
    // A Redis that would refuse the run had it been used.
    const r = await runCli(['upload', src, `s3://${bucket}/e`, '--json'], {env: {REDIS_URL: 'redis://127.0.0.1:1'}})
    assert.equal(r.code, 0, r.stderr)
    const summary = JSON.parse(r.stdout)
    assert.equal(summary.filesDone, 5)
    assert.equal(summary.runId, undefined, 'no run in Redis')
    const worker = await runCli(['worker'], {env: {REDIS_URL: harness().redis.url}})
    assert.equal(worker.code, 2)
    assert.equal(worker.stderr, 's3c: no Redis given: pass --redis redis://host:6379 or set S3C_REDIS_URL\n')
  })

  it('a run no worker takes says so once, keeps waiting, and finishes when a worker comes', async function () {
    const src = mk('nowork')
    makeTree(src, {files: 40, depth: 2})
    const bucket = await newBucket('nowork')
    const url = harness().redis.url
    const run = spawnCli(['upload', src, `s3://${bucket}/w`, '--json', '--redis', url], {env: {S3C_WORKER_WAIT_MS: '300'}})
    let err = ''
    run.child.stderr!.on('data', d => { err += d })
    const line = `s3c: waiting for a worker: start one with \`s3c worker --redis ${url}\``
    try {
      await waitFor(() => err.includes(line) || run.child.exitCode !== null, 60_000)
      assert.ok(err.includes(line), err)
      await withWorker({args: stalledAfter()}, async () => {
        const r = await run.done
        assert.equal(r.code, 0, r.stderr)
        assert.equal(JSON.parse(r.stdout).filesDone, 40)
        assert.equal(r.stderr.split('\n').filter(l => l.includes('waiting for a worker')).length, 1, r.stderr)
      })
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGTERM')
      await run.done
    }
  })

  it('refuses a Redis whose maxmemory-policy may evict jobs', async function () {
    // Started and pinged until ready: a fixed 300 ms sleep was not enough on a loaded machine
    // (the cause of a rare ECONNREFUSED here).
    const redis = await startLocalRedis('allkeys-lru')
    try {
      const r = await runCli(['upload', mk('ev'), 's3://whatever/x', '--redis', redis.url])
      assert.equal(r.code, 3, r.stderr)
      assert.match(r.stderr, /maxmemory-policy is "allkeys-lru": BullMQ needs "noeviction"/)
    } finally {
      await redis.stop()
    }
  })

  it('a Redis that cannot be reached: one line, exit 3, for the run and the read-only commands', async function () {
    for (const args of [['upload', mk('nr'), 's3://whatever/x'], ['runs'], ['status', 'no-such-run']]) {
      const r = await runCli([...args, '--redis', 'redis://:hunter2@127.0.0.1:1'])
      assert.equal(r.code, 3, `${args[0]}: ${r.stderr}`)
      assert.equal(r.stderr.trim(), 's3c: cannot reach Redis at redis://***@127.0.0.1:1 (ECONNREFUSED): check --redis / S3C_REDIS_URL and that the server is running')
    }
  })
})
