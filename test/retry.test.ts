import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Redis} from 'ioredis'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {listKeys, putObject} from './harness/objects.js'
import type {Proxy, ProxyOptions, RecordedRequest} from './harness/proxy.js'
import {runCliWithin, runIdOf, withWorker} from './harness/run.js'
import {compareTrees, makeTree, seededBytes} from './harness/tree.js'

/** Requests about one object (not bucket-level listings): GET/HEAD/PUT/POST on /bucket/key. */
const objectRequests = (proxy: Proxy, bucket: string) => proxy.requests.filter(r => r.path.startsWith(`/${bucket}/`) && r.path.length > bucket.length + 2)
const keyOf = (r: RecordedRequest, bucket: string) => r.path.slice(bucket.length + 2)
const isPart = (r: RecordedRequest) => /(^|&)uploadId=/.test(r.query) && /(^|&)partNumber=/.test(r.query)

describe('s3c retry replays the run\'s own command, only its failed work', function () {
  this.timeout(180_000)
  const dirs: string[] = []
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  /** An empty working directory for the retry: a retry that falls back to "the current folder" shows there. */
  function emptyCwd(): string {
    const d = mk('cwd')
    writeFileSync(join(d, 'marker.txt'), 'a retry must not touch this folder')
    return d
  }

  /** Runs `fn` with a proxy with faults, a worker behind it, and the env for CLIs talking through it; stops them after. */
  function withSetup(faults: ProxyOptions, fn: (s: {proxy: Proxy; env: Record<string, string>}) => Promise<void>): Promise<void> {
    return withWorker({proxy: faults}, ({proxy, env}) => fn({proxy, env: {...env, S3C_CACHE_DIR: mk('cache')}}))
  }

  it('upload: only the failed file goes again; the run counts every file once', async function () {
    const src = mk('rup')
    makeTree(src, {files: 150, depth: 3})
    writeFileSync(join(src, 'flaky file.txt'), 'arrives on the second try')
    const bucket = await newBucket('rup')
    await withSetup({alwaysFail: p => p.endsWith('/flaky file.txt')}, async s => {
      const first = await runCliWithin(['upload', src, `s3://${bucket}/u`, '--max-retry', '1', '--json'], {env: s.env})
      assert.equal(first.code, 1, first.stderr)
      const runId = runIdOf(first.stderr)
      s.proxy.setFaults({})
      s.proxy.reset()
      const retry = await runCliWithin(['retry', runId, '--json'], {env: s.env, cwd: emptyCwd()})
      assert.equal(retry.code, 0, retry.stderr)
      assert.match(retry.stderr, new RegExp(`resuming run ${runId}|run ${runId}`))
      const summary = JSON.parse(retry.stdout)
      assert.equal(summary.command, 'upload')
      assert.deepEqual([summary.filesDone + summary.filesSkipped, summary.filesFailed], [151, 0], retry.stdout)
      // Nothing about the files that arrived: no PUT, no HEAD.
      assert.deepEqual(objectRequests(s.proxy, bucket).map(r => `${r.method} ${keyOf(r, bucket)}`), ['PUT u/flaky file.txt'])
    })
  })

  it('download: only the failed object is fetched again', async function () {
    const src = mk('rdl')
    makeTree(src, {files: 150, depth: 3})
    writeFileSync(join(src, 'flaky file.txt'), 'arrives on the second try')
    const bucket = await newBucket('rdl')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/d`, '--quiet'])).code, 0)
    const dst = mk('rdldst')
    await withSetup({alwaysFail: (p, r) => r.method === 'GET' && p.endsWith('/flaky file.txt')}, async s => {
      const first = await runCliWithin(['download', `s3://${bucket}/d`, dst, '--max-retry', '1', '--json'], {env: s.env})
      assert.equal(first.code, 1, first.stderr)
      assert.deepEqual(JSON.parse(first.stdout).failures.map((f: {key: string}) => f.key), ['d/flaky file.txt'])
      const runId = runIdOf(first.stderr)
      s.proxy.setFaults({})
      s.proxy.reset()
      const cwd = emptyCwd()
      const retry = await runCliWithin(['retry', runId, '--json'], {env: s.env, cwd})
      assert.equal(retry.code, 0, retry.stderr)
      const summary = JSON.parse(retry.stdout)
      assert.equal(summary.command, 'download')
      assert.deepEqual([summary.filesDone + summary.filesSkipped, summary.filesFailed], [151, 0], retry.stdout)
      assert.deepEqual(objectRequests(s.proxy, bucket).map(r => `${r.method} ${keyOf(r, bucket)}`), ['GET d/flaky file.txt'])
      assert.deepEqual(readdirSync(cwd), ['marker.txt'])
    })
    assert.deepEqual(compareTrees(src, dst), [])
  })

  it('bundle: the bundle is built again (same id, same run), nothing else is sent', async function () {
    const src = mk('rbu')
    makeTree(src, {files: 40, depth: 3})
    const bucket = await newBucket('rbu')
    const tarKey = 'bund/b1/bundle.tar'
    await withSetup({alwaysFail: (p, r) => p === `/${bucket}/${tarKey}` && isPart(r)}, async s => {
      const first = await runCliWithin(['bundle', src, 'b1', '--bucket', bucket, '--prefix', 'bund', '--max-retry', '1', '--json'], {env: s.env})
      assert.equal(first.code, 1, first.stderr)
      const runId = runIdOf(first.stderr)
      assert.deepEqual([...(await listKeys(bucket)).keys()], [], 'the failed bundle left nothing')
      s.proxy.setFaults({})
      s.proxy.reset()
      const cwd = emptyCwd()
      const retry = await runCliWithin(['retry', runId, '--json'], {env: s.env, cwd})
      assert.equal(retry.code, 0, retry.stderr)
      const summary = JSON.parse(retry.stdout.trim().split('\n').at(-1)!)
      assert.equal(summary.command, 'bundle')
      // A bundle counts its files once it is complete.
      assert.deepEqual([summary.filesDone, summary.filesFailed], [40, 0], retry.stdout)
      const sent = objectRequests(s.proxy, bucket)
      assert.deepEqual(sent.filter(r => !keyOf(r, bucket).startsWith(tarKey)).map(r => `${r.method} ${r.path}`), [], 'only the bundle and its index')
      assert.equal(sent.filter(r => r.method === 'POST' && r.query.startsWith('uploads')).length, 1, 'one multipart upload')
      assert.deepEqual([...(await listKeys(bucket)).keys()].sort(), [tarKey, `${tarKey}.s3ci`])
      assert.deepEqual(readdirSync(cwd), ['marker.txt'])
    })
    const out = mk('rbuout')
    const all = await runCli(['download-all', 'b1', out, '--bucket', bucket, '--prefix', 'bund'])
    assert.equal(all.code, 0, all.stderr)
    assert.deepEqual(compareTrees(src, out), [])
  })

  it('tar create: only the archive that failed is built again', async function () {
    const bucket = await newBucket('rtc')
    for (let i = 0; i < 8; i++) await putObject(bucket, `src/o${i}.bin`, seededBytes(100 + i, 100 * 1024))
    await withSetup({alwaysFail: (p, r) => p === `/${bucket}/arch/set.02.tar` && isPart(r)}, async s => {
      const args = ['tar', 'create', '-f', `s3://${bucket}/arch/set.tar`, `s3://${bucket}/src/`, '--size-limit', '450KiB', '--mode', 'memory', '--max-retry', '1', '--json']
      const first = await runCliWithin(args, {env: s.env})
      assert.equal(first.code, 1, first.stderr)
      assert.deepEqual(JSON.parse(first.stdout).failures.map((f: {key: string}) => f.key), ['arch/set.02.tar'])
      const runId = runIdOf(first.stderr)
      s.proxy.setFaults({})
      s.proxy.reset()
      const cwd = emptyCwd()
      const retry = await runCliWithin(['retry', runId, '--json'], {env: s.env, cwd})
      assert.equal(retry.code, 0, retry.stderr)
      const summary = JSON.parse(retry.stdout)
      assert.equal(summary.command, 'tar create')
      // Each archive counts its members (four objects and the TOC) once it is complete.
      assert.deepEqual([summary.filesDone, summary.filesFailed], [10, 0], retry.stdout)
      const sent = objectRequests(s.proxy, bucket)
      assert.deepEqual(sent.filter(r => r.method !== 'GET' && r.method !== 'HEAD' && !keyOf(r, bucket).startsWith('arch/set.02.tar')).map(r => `${r.method} ${r.path}`), [],
        'nothing written but the second archive (and its temporary objects)')
      // Members take their objects' mtime metadata: HEADs of the second archive's objects only.
      assert.deepEqual(sent.filter(r => r.method === 'HEAD' && keyOf(r, bucket).startsWith('src/')).map(r => keyOf(r, bucket)).sort(), ['src/o4.bin', 'src/o5.bin', 'src/o6.bin', 'src/o7.bin'])
      assert.deepEqual(sent.filter(r => r.method === 'GET' && keyOf(r, bucket).startsWith('src/')).map(r => keyOf(r, bucket)).sort(), ['src/o4.bin', 'src/o5.bin', 'src/o6.bin', 'src/o7.bin'],
        'only the second archive\'s members are read')
      assert.deepEqual(readdirSync(cwd), ['marker.txt'])
    })
    const keys = [...(await listKeys(bucket, 'arch/')).keys()].sort()
    assert.deepEqual(keys, ['arch/set.01.tar', 'arch/set.01.tar.s3ci', 'arch/set.02.tar', 'arch/set.02.tar.s3ci'])
    const list = await runCli(['tar', 'list', '-f', `s3://${bucket}/arch/set.02.tar`])
    assert.deepEqual(list.stdout.trim().split('\n'), ['o4.bin', 'o5.bin', 'o6.bin', 'o7.bin'])
  })

  it('tar extract to S3: only the members that failed are copied again', async function () {
    const src = mk('rtx')
    makeTree(src, {files: 30, depth: 2})
    const bucket = await newBucket('rtx')
    assert.equal((await runCli(['bundle', src, 'x', '--bucket', bucket, '--prefix', 'bx', '--quiet'])).code, 0)
    const members = (JSON.parse((await runCli(['list-files', `s3://${bucket}/bx/x/bundle.tar`, '--json'])).stdout).members as {name: string; type: string}[])
      .filter((m: {type: string}) => m.type === 'file') as {name: string}[]
    const victim = members[7].name
    await withSetup({alwaysFail: (p, r) => r.method === 'PUT' && p === `/${bucket}/out/${victim}`}, async s => {
      const cwd = emptyCwd()
      const first = await runCliWithin(['tar', 'extract', '-f', `s3://${bucket}/bx/x/bundle.tar`, '-C', `s3://${bucket}/out/`, '--max-retry', '1', '--json'], {env: s.env, cwd})
      assert.equal(first.code, 1, first.stderr)
      assert.deepEqual(JSON.parse(first.stdout).failures.map((f: {key: string}) => f.key), [`out/${victim}`])
      const runId = runIdOf(first.stderr)
      s.proxy.setFaults({})
      s.proxy.reset()
      const retry = await runCliWithin(['retry', runId, '--json'], {env: s.env, cwd})
      assert.equal(retry.code, 0, retry.stderr)
      const summary = JSON.parse(retry.stdout)
      assert.equal(summary.command, 'tar extract')
      assert.deepEqual([summary.filesDone + summary.filesSkipped, summary.filesFailed], [members.length, 0], retry.stdout)
      assert.deepEqual(objectRequests(s.proxy, bucket).filter(r => r.method !== 'GET' && r.method !== 'HEAD').map(r => `${r.method} ${keyOf(r, bucket)}`), [`PUT out/${victim}`])
      assert.deepEqual(readdirSync(cwd), ['marker.txt'], 'nothing was downloaded into the current folder')
    })
    const out = await listKeys(bucket, 'out/')
    assert.deepEqual([...out.keys()].sort(), members.map(m => `out/${m.name}`).sort())
  })

  it('download-all: only the members that failed are fetched again, into DEST', async function () {
    const src = mk('rda')
    makeTree(src, {files: 40, depth: 2})
    const bucket = await newBucket('rda')
    assert.equal((await runCli(['bundle', src, 'y', '--bucket', bucket, '--prefix', 'bz', '--quiet'])).code, 0)
    const tarKey = 'bz/y/bundle.tar'
    const members = (JSON.parse((await runCli(['list-files', `s3://${bucket}/${tarKey}`, '--json'])).stdout).members as {name: string; type: string; size: number; offset: number}[])
      .filter((m: {type: string; size: number}) => m.type === 'file' && m.size > 0) as {name: string; offset: number; size: number}[]
    const victim = members[Math.floor(members.length / 2)]
    const rangeOf = (r: RecordedRequest) => {
      const m = /bytes=(\d+)-(\d+)/.exec(r.range ?? '')
      return m ? [Number(m[1]), Number(m[2]) + 1] : [0, Infinity]
    }
    const covers = (r: RecordedRequest, at: number) => { const [a, b] = rangeOf(r); return a <= at && at < b }
    const dst = mk('rdadst')
    await withSetup({alwaysFail: (p, r) => r.method === 'GET' && p === `/${bucket}/${tarKey}` && covers(r, victim.offset)}, async s => {
      // Small coalesced reads, so one failed read is a few members, not the whole bundle.
      const first = await runCliWithin(['download-all', `s3://${bucket}/${tarKey}`, dst, '--part-size', '64KiB', '--max-retry', '1', '--json'], {env: s.env})
      assert.equal(first.code, 1, first.stderr)
      const failedNames = new Set<string>(JSON.parse(first.stdout).failures.map((f: {key: string}) => f.key))
      assert.ok(failedNames.has(victim.name), first.stdout)
      assert.ok(failedNames.size < members.length / 2, `${failedNames.size} of ${members.length} failed: the test needs fewer`)
      const runId = runIdOf(first.stderr)
      s.proxy.setFaults({})
      s.proxy.reset()
      const cwd = emptyCwd()
      const retry = await runCliWithin(['retry', runId, '--json'], {env: s.env, cwd})
      assert.equal(retry.code, 0, retry.stderr)
      const summary = JSON.parse(retry.stdout)
      assert.equal(summary.command, 'download-all')
      assert.equal(summary.filesFailed, 0)
      const reads = objectRequests(s.proxy, bucket).filter(r => keyOf(r, bucket) === tarKey)
      assert.ok(reads.length > 0)
      for (const r of reads) {
        const [a, b] = rangeOf(r)
        const others = members.filter(m => !failedNames.has(m.name) && m.offset < b && a < m.offset + m.size)
        assert.deepEqual(others.map(m => m.name), [], `${r.method} ${r.range ?? 'whole object'} reads members that had arrived`)
      }
      assert.deepEqual(objectRequests(s.proxy, bucket).filter(r => r.method !== 'GET').map(r => r.path), [])
      assert.deepEqual(readdirSync(cwd), ['marker.txt'])
    })
    assert.deepEqual(compareTrees(src, dst), [])
  })

  it('a run stored by an older s3c (no verb): refused in one line, nothing sent', async function () {
    const redis = new Redis(harness().redis.url)
    const runId = '20200101-0bad0bad'
    try {
      await redis.hset(`s3c:run:${runId}`, {
        createdAt: Date.now(), description: 'tar create s3://b/a.tar', status: 'done', enqueued: 1, filesFailed: 1,
        command: JSON.stringify({kind: 'upload', localFolder: '', options: {location: {bucket: 'no-such-bucket-for-retry', prefix: ''}, multipartThreshold: 8 << 20, partSize: 8 << 20, checksum: false, maxRetry: 0, threadCount: 4}}),
      })
      const cwd = emptyCwd()
      const r = await runCliWithin(['retry', runId], {env: {S3C_REDIS_URL: harness().redis.url}, cwd})
      assert.equal(r.code, 2, r.stderr)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, /^s3c: run "20200101-0bad0bad" was stored by an older s3c .*: run its command again\n$/)
    } finally {
      await redis.del(`s3c:run:${runId}`)
      redis.disconnect()
    }
  })
})
