import assert from 'node:assert/strict'
import {appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {once} from 'node:events'
import {createGzip} from 'node:zlib'
import {DeleteObjectCommand} from '@aws-sdk/client-s3'
import {Redis} from 'ioredis'
import {runCli, spawnCli, type CliOptions} from './harness/cli.js'
import {harness, newBucket, s3Client} from './harness/hooks.js'
import {getObject, listKeys, putObject} from './harness/objects.js'
import {startProxy, type Proxy, type RecordedRequest} from './harness/proxy.js'
import {compareTrees, seededBytes} from './harness/tree.js'
import {runIdOf} from './harness/run.js'
import {waitFor} from './harness/wait.js'
import {retryPolicy} from '../src/base/retry.js'
import {resolveS3Config} from '../src/s3/config.js'
import {S3Storage} from '../src/s3/storage.js'
import {utimesValue} from '../src/base/times.js'
import {s3StateStorage} from '../src/state/s3-storage.js'

const MiB = 1024 * 1024

/**
 * The sync state wired into upload and download (issue 14 items 3 and 4, docs/DESIGN-state.md):
 * request counts through the proxy, never times.
 */

const isState = (r: RecordedRequest) => r.path.includes('/.s3c/')
const isList = (r: RecordedRequest) => r.method === 'GET' && r.query.includes('list-type')
const counts = (proxy: Proxy) => ({
  head: proxy.count('HEAD'),
  list: proxy.count('GET', isList),
  dataGet: proxy.count('GET', r => !isList(r) && !isState(r)),
  dataPut: proxy.count('PUT', r => !isState(r)) + proxy.count('POST', r => !isState(r)),
  stateGet: proxy.count('GET', r => !isList(r) && isState(r)),
  statePut: proxy.count('PUT', isState) + proxy.count('POST', isState),
})

/**
 * A no-change re-run through `proxy`: every one of `n` files skipped, no HEAD, no PUT or GET of
 * data (the state's own requests aside). Returns the run's request counts.
 */
async function assertQuietRerun(proxy: Proxy, args: string[], opts: CliOptions, n: number): Promise<ReturnType<typeof counts> & {stderr: string}> {
  proxy.reset()
  const r = await runCli(args, opts)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(summaryOf(r.stdout).filesSkipped, n)
  const c = counts(proxy)
  assert.equal(c.head, 0, 'no HEAD: every file is in the state')
  assert.equal(c.dataPut, 0, 'no PUT of data')
  assert.equal(c.dataGet, 0, 'no GET of data')
  return {...c, stderr: r.stderr}
}

/**
 * A tree whose names are lower-case ASCII, digits, '/' and '.': fauxqs lists keys in
 * localeCompare order, which agrees with S3's UTF-8 byte order only on such names (elsewhere s3c
 * sees a listing out of order and falls back to HEAD checks: tested below).
 */
function makeTree(root: string, spec: {files: number; depth?: number; big?: {rel: string; size: number}[]}): string[] {
  const rels: string[] = []
  for (let i = 0; i < spec.files; i++) {
    const rel = `d${i % 10}/s${(i >> 3) % 5}/f${i}.txt`
    mkdirSync(join(root, rel, '..'), {recursive: true})
    writeFileSync(join(root, rel), seededBytes(i + 1, 1 + ((i * 997) % 5000)))
    rels.push(rel)
  }
  for (const b of spec.big ?? []) {
    mkdirSync(join(root, b.rel, '..'), {recursive: true})
    writeFileSync(join(root, b.rel), seededBytes(7919, b.size))
    rels.push(b.rel)
  }
  return rels
}

function summaryOf(stdout: string): {filesDone: number; filesSkipped: number; filesFailed: number; skippedBy?: Record<string, number>} {
  return JSON.parse(stdout.trim().split('\n').pop()!)
}

async function stateKeys(bucket: string): Promise<string[]> {
  return [...(await listKeys(bucket, '.s3c/')).keys()]
}

async function deleteObject(bucket: string, key: string): Promise<void> {
  const c = s3Client()
  try {
    await c.send(new DeleteObjectCommand({Bucket: bucket, Key: key}))
  } finally {
    c.destroy()
  }
}

describe('re-runs with the sync state', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-rerun-${name}-`)); dirs.push(d); return d }
  let proxy: Proxy
  before(async () => { proxy = await startProxy(harness().s3.endpoint) })
  after(async () => { await proxy.stop() })
  const viaProxy = {env: {AWS_ENDPOINT_URL: '' as string}}
  beforeEach(() => { viaProxy.env.AWS_ENDPOINT_URL = proxy.endpoint; proxy.reset() })

  describe('1,200 files and a 20 MiB file (multipart)', function () {
    const N = 1201
    let src: string
    let dst: string
    let bucket: string
    let rels: string[]
    before(async function () {
      src = mk('src')
      dst = mk('dst')
      rels = makeTree(src, {files: 1200, depth: 3, big: [{rel: 'big/twenty.bin', size: 20 * MiB}]})
      bucket = await newBucket('rerun')
      const up = await runCli(['upload', src, `s3://${bucket}/m`, '--json'])
      assert.equal(up.code, 0, up.stderr)
      assert.equal(summaryOf(up.stdout).filesDone, N)
      const down = await runCli(['download', `s3://${bucket}/m`, dst, '--json'])
      assert.equal(down.code, 0, down.stderr)
      assert.equal(summaryOf(down.stdout).filesDone, N)
      assert.equal((await stateKeys(bucket)).length, 2, 'one state per direction')
    })

    it('a no-change re-run sends no HEAD and no PUT/GET of data, in both directions: only listings and the state\'s own GET and PUT', async function () {
      // Upload again: ⌈1201/1000⌉ listing pages and the bucket check are the only LISTs; the state is read once and written once.
      const up = await runCli(['upload', src, `s3://${bucket}/m`, '--json'], viaProxy)
      assert.equal(up.code, 0, up.stderr)
      assert.equal(summaryOf(up.stdout).filesSkipped, N)
      assert.equal(summaryOf(up.stdout).filesDone, 0)
      let c = counts(proxy)
      assert.equal(c.head, 0, 'no HEAD')
      assert.equal(c.dataPut, 0, 'no PUT of data')
      assert.equal(c.dataGet, 0, 'no GET of data')
      assert.ok(c.list <= Math.ceil(N / 1000) + 3, `${c.list} LISTs`)
      assert.equal(c.stateGet, 1, 'the state is read once')
      assert.equal(c.statePut, 1, 'the new state is one PUT (small)')

      proxy.reset()
      const down = await runCli(['download', `s3://${bucket}/m`, dst, '--json'], viaProxy)
      assert.equal(down.code, 0, down.stderr)
      assert.equal(summaryOf(down.stdout).filesSkipped, N)
      assert.equal(summaryOf(down.stdout).filesDone, 0)
      c = counts(proxy)
      assert.equal(c.head, 0, 'no HEAD')
      assert.equal(c.dataGet, 0, 'no GET of data')
      assert.equal(c.dataPut, 0, 'no PUT of data')
      assert.ok(c.list <= Math.ceil(N / 1000) + 3, `${c.list} LISTs`)
      assert.equal(c.stateGet, 1)
      assert.equal(c.statePut, 1)
      assert.deepEqual(compareTrees(src, dst), [])
    })

    it('a touched file, a resized file and an object replaced by another writer are sent again; nothing else is asked for', async function () {
      const touched = join(src, rels[1])
      const resized = join(src, rels[2])
      const replacedKey = `m/${rels[3]}`
      const t = statSync(touched).mtime
      utimesSync(touched, t, new Date(t.getTime() + 5000))
      appendFileSync(resized, 'more')
      const size = statSync(join(src, rels[3])).size
      assert.ok(size > 0)
      await putObject(bucket, replacedKey, Buffer.alloc(size, 0x41))
      const up = await runCli(['upload', src, `s3://${bucket}/m`, '--json'], viaProxy)
      assert.equal(up.code, 0, up.stderr)
      assert.equal(summaryOf(up.stdout).filesDone, 3)
      assert.equal(summaryOf(up.stdout).filesSkipped, N - 3)
      assert.equal(proxy.count('HEAD'), 0, 'decided from the listing and the state alone')
      assert.deepEqual(proxy.requests.filter(r => r.method === 'PUT' && !isState(r)).map(r => r.path).sort(),
        [`/${bucket}/m/${rels[1]}`, `/${bucket}/m/${rels[2]}`, `/${bucket}/${replacedKey}`].sort())
      assert.deepEqual(await getObject(bucket, replacedKey), readFileSync(join(src, rels[3])))

      // Download: the objects s3c just wrote are the ones the next download fetches (another
      // writer, as far as the download state knows), and an object replaced behind its back too.
      await runCli(['download', `s3://${bucket}/m`, dst])
      const other = `m/${rels[4]}`
      const otherSize = statSync(join(dst, rels[4])).size
      await putObject(bucket, other, Buffer.alloc(otherSize, 0x42))
      proxy.reset()
      const down = await runCli(['download', `s3://${bucket}/m`, dst, '--json'], viaProxy)
      assert.equal(down.code, 0, down.stderr)
      assert.equal(summaryOf(down.stdout).filesDone, 1)
      assert.equal(proxy.count('HEAD'), 0)
      assert.deepEqual(proxy.requests.filter(r => r.method === 'GET' && !isList(r) && !isState(r)).map(r => r.path), [`/${bucket}/${other}`])
      assert.deepEqual(readFileSync(join(dst, rels[4])), Buffer.alloc(otherSize, 0x42))
      // Back as it was, for the tests after this one.
      await putObject(bucket, other, readFileSync(join(src, rels[4])))
      assert.equal((await runCli(['download', `s3://${bucket}/m`, dst])).code, 0)
      assert.deepEqual(compareTrees(src, dst), [])
    })
  })

  describe('a lost or damaged state', function () {
    let src: string
    let bucket: string
    let N: number
    before(async function () {
      src = mk('lost')
      N = makeTree(src, {files: 40, depth: 2}).length
      bucket = await newBucket('lost')
      assert.equal((await runCli(['upload', src, `s3://${bucket}/p`])).code, 0)
    })

    async function stateKey(): Promise<string> {
      const keys = await stateKeys(bucket)
      assert.equal(keys.length, 1)
      return keys[0]
    }

    async function rerunChecks(expectWarning: RegExp | undefined) {
      proxy.reset()
      const up = await runCli(['upload', src, `s3://${bucket}/p`, '--json'], viaProxy)
      assert.equal(up.code, 0, up.stderr)
      assert.equal(summaryOf(up.stdout).filesSkipped, N, 'the right result: nothing changed')
      assert.equal(counts(proxy).dataPut, 0)
      // Without a usable state every same-size file is checked with a HEAD, as before the state existed.
      assert.equal(proxy.count('HEAD'), N)
      if (expectWarning) assert.match(up.stderr, expectWarning)
      assert.equal(up.stderr.trim().split('\n').filter(l => /sync state/.test(l)).length, expectWarning ? 1 : 0, up.stderr)
      // A fresh state was written: the next run is listing-only again.
      proxy.reset()
      const again = await runCli(['upload', src, `s3://${bucket}/p`, '--json'], viaProxy)
      assert.equal(again.code, 0, again.stderr)
      assert.equal(summaryOf(again.stdout).filesSkipped, N)
      assert.equal(proxy.count('HEAD'), 0)
    }

    it('deleted: HEAD checks, then a fresh state', async function () {
      await deleteObject(bucket, await stateKey())
      await rerunChecks(undefined)
    })

    it('truncated: one warning, HEAD checks, then a fresh state', async function () {
      const key = await stateKey()
      const body = await getObject(bucket, key)
      await putObject(bucket, key, body.subarray(0, Math.floor(body.length / 2)))
      await rerunChecks(/sync state not used: .*; every same-size file is checked with a HEAD this run/)
    })

    it('a byte flipped: one warning, HEAD checks, then a fresh state', async function () {
      const key = await stateKey()
      const body = Buffer.from(await getObject(bucket, key))
      body[Math.floor(body.length / 2)] ^= 0x55
      await putObject(bucket, key, body)
      await rerunChecks(/sync state not used/)
    })

    it('one line of 600 MB (a crafted state object): one warning, HEAD checks, then a fresh state', async function () {
      // Read whole, the line took ~650 MB and crashed every later run with a stack trace.
      const gz = createGzip()
      const parts: Buffer[] = []
      gz.on('data', (c: Buffer) => parts.push(c))
      gz.write('{"format":1,"local":"')
      const chunk = Buffer.alloc(1 << 20, 0x61)
      for (let i = 0; i < 600; i++) if (!gz.write(chunk)) await once(gz, 'drain')
      gz.end()
      await once(gz, 'end')
      await putObject(bucket, await stateKey(), Buffer.concat(parts))
      await rerunChecks(/sync state not used: a line is longer than 65536 bytes; every same-size file is checked with a HEAD this run/)
    })

    it('the same download state lost: HEAD checks, then a fresh state', async function () {
      const dst = mk('lost-dst')
      const upState = await stateKey()
      assert.equal((await runCli(['download', `s3://${bucket}/p`, dst])).code, 0)
      const downState = (await stateKeys(bucket)).filter(k => k !== upState)
      assert.equal(downState.length, 1)
      await deleteObject(bucket, downState[0])
      proxy.reset()
      const down = await runCli(['download', `s3://${bucket}/p`, dst, '--json'], viaProxy)
      assert.equal(down.code, 0, down.stderr)
      assert.equal(summaryOf(down.stdout).filesSkipped, N)
      assert.equal(proxy.count('HEAD'), N)
      proxy.reset()
      assert.equal((await runCli(['download', `s3://${bucket}/p`, dst], viaProxy)).code, 0)
      assert.equal(proxy.count('HEAD'), 0)
      assert.equal(counts(proxy).dataGet, 0)
    })
  })

  it('a file rewritten in place with its mtime put back: the state sees its ctime and compares its content with the recorded SHA-256, no HEAD', async function () {
    const src = mk('ctime')
    const N = makeTree(src, {files: 12}).length
    const file = join(src, 'd1', 's0', 'f1.txt')
    const bucket = await newBucket('ctime')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`])).code, 0)
    const before = statSync(file, {bigint: true})
    writeFileSync(file, Buffer.alloc(Number(before.size), 0x43))
    utimesSync(file, new Date(), utimesValue(before.mtimeNs))
    const up = await runCli(['upload', src, `s3://${bucket}/p`, '--json'], viaProxy)
    assert.equal(up.code, 0, up.stderr)
    assert.equal(summaryOf(up.stdout).filesDone, 1)
    assert.equal(summaryOf(up.stdout).filesSkipped, N - 1)
    assert.equal(proxy.count('HEAD'), 0)
    assert.deepEqual(await getObject(bucket, 'p/d1/s0/f1.txt'), Buffer.alloc(Number(before.size), 0x43))
  })

  it('a multipart file (no SHA-256 recorded) rewritten in place with its mtime put back is sent again, never skipped by the time rule', async function () {
    const src = mk('ctime-mp')
    const file = join(src, 'big.bin')
    writeFileSync(file, Buffer.alloc(6 * 1024 * 1024, 0x41))
    writeFileSync(join(src, 'small.txt'), 'small')
    const bucket = await newBucket('ctimemp')
    const args = ['upload', src, `s3://${bucket}/p`, '--multipart-threshold', '5MiB', '--part-size', '5MiB']
    assert.equal((await runCli(args)).code, 0)
    const before = statSync(file, {bigint: true})
    writeFileSync(file, Buffer.alloc(6 * 1024 * 1024, 0x42))
    utimesSync(file, new Date(), utimesValue(before.mtimeNs))
    const up = await runCli([...args, '--json'])
    assert.equal(up.code, 0, up.stderr)
    assert.equal(summaryOf(up.stdout).filesDone, 1)
    assert.deepEqual(await getObject(bucket, 'p/big.bin'), Buffer.alloc(6 * 1024 * 1024, 0x42))
  })

  it('a listing out of S3 key order (fauxqs sorts by localeCompare): one warning, then sizes and HEAD checks as before the state, every file accounted for', async function () {
    const src = mk('order')
    // fauxqs lists a/doc.txt before a#b.txt ('#' sorts after '/' in localeCompare, before it in bytes).
    const rels = ['a#b.txt', 'a/doc.txt', 'a0.txt', 'b.txt', 'c/d.txt']
    for (const rel of rels) {
      mkdirSync(join(src, rel, '..'), {recursive: true})
      writeFileSync(join(src, rel), `content of ${rel}`)
    }
    const bucket = await newBucket('order')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`])).code, 0)
    // Only a server that lists out of byte order (fauxqs) has a fallback to test; AWS, Ceph RGW
    // and MinIO list in S3 key order.
    const listed = [...(await listKeys(bucket, 'p/')).keys()]
    const bytewise = [...listed].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    if (listed.join('\n') === bytewise.join('\n')) this.skip()
    const t = statSync(join(src, 'b.txt')).mtime
    utimesSync(join(src, 'b.txt'), t, new Date(t.getTime() + 5000))
    const up = await runCli(['upload', src, `s3://${bucket}/p`, '--json'], viaProxy)
    assert.equal(up.code, 0, up.stderr)
    assert.match(up.stderr, /the S3 listing is not in S3 key order: .*; comparing by size and HEAD checks for the rest of this run/)
    assert.match(up.stderr, /sync state not written/)
    // The page was checked whole before any of its keys was joined: nothing was taken for new
    // because its object is listed further on; only the touched file is sent, by the HEAD checks.
    const sent = proxy.requests.filter(r => r.method === 'PUT' && !isState(r)).map(r => r.path)
    assert.deepEqual(sent, [`/${bucket}/p/b.txt`])
    assert.equal(summaryOf(up.stdout).filesDone, 1)
    assert.equal(summaryOf(up.stdout).filesSkipped, rels.length - 1)
    assert.equal(proxy.count('HEAD'), rels.length, 'every same-size file checked, as before the state')
    for (const rel of rels) assert.deepEqual(await getObject(bucket, `p/${rel}`), readFileSync(join(src, rel)), rel)
    assert.equal(counts(proxy).statePut, 0, 'no state from a run that could not merge; the old one stays')
    assert.equal((await stateKeys(bucket)).length, 1)
  })

  describe('--redis runs on two workers: the outcomes come back through Redis and the state is written', function () {
    let redis: Redis
    let workers: ReturnType<typeof spawnCli>[] = []
    // Normal stall detection (15 s): a 2 s one lets a busy worker's job go twice under load (see distributed.test.ts).
    const startWorkers = () => { workers = [0, 1].map(() => spawnCli(['worker', '--concurrency', '8', '--stalled-seconds', '15'], {env: {AWS_ENDPOINT_URL: proxy.endpoint, S3C_REDIS_URL: harness().redis.url}})) }
    before(() => { redis = new Redis(harness().redis.url); startWorkers() })
    after(async () => {
      for (const w of workers) w.child.kill('SIGTERM')
      await Promise.all(workers.map(w => w.done))
      redis.disconnect()
    })
    const redisEnv = () => ({env: {...viaProxy.env, S3C_REDIS_URL: harness().redis.url}})
    /** The run's list of outcomes must be gone once the run ended. */
    async function assertNoOutcomeList(stderr: string) {
      const runId = runIdOf(stderr)
      assert.equal(await redis.exists(`s3c:run:${runId}:state`), 0, 'no outcome list left in Redis')
      assert.equal(await redis.hget(`s3c:run:${runId}`, 'outcomes'), null)
    }
    let src: string
    let bucket: string
    let rels: string[]
    let N: number

    it('upload: the run writes a state; the next no-change re-run, in-process and --redis alike, sends 0 HEAD and 0 PUT of data; a touched file is sent again', async function () {
      src = mk('redis')
      rels = makeTree(src, {files: 300, big: [{rel: 'big/twenty.bin', size: 20 * MiB}]})
      N = rels.length
      bucket = await newBucket('redis')
      const up = await runCli(['upload', src, `s3://${bucket}/p`, '--json'], redisEnv())
      assert.equal(up.code, 0, up.stderr)
      assert.equal(summaryOf(up.stdout).filesDone, N)
      assert.equal(counts(proxy).statePut, 1, 'a --redis run writes the state')
      assert.equal((await stateKeys(bucket)).length, 1)
      await assertNoOutcomeList(up.stderr)

      await assertQuietRerun(proxy, ['upload', src, `s3://${bucket}/p`, '--json'], viaProxy, N)
      const viaRedis = await assertQuietRerun(proxy, ['upload', src, `s3://${bucket}/p`, '--json'], redisEnv(), N)
      assert.equal(viaRedis.statePut, 1)
      await assertNoOutcomeList(viaRedis.stderr)

      // A touched file is sent again by the workers, and its new entry comes back through Redis.
      const touched = join(src, rels[5])
      const t = statSync(touched).mtime
      utimesSync(touched, t, new Date(t.getTime() + 5000))
      proxy.reset()
      const again = await runCli(['upload', src, `s3://${bucket}/p`, '--json'], redisEnv())
      assert.equal(again.code, 0, again.stderr)
      assert.equal(summaryOf(again.stdout).filesDone, 1)
      assert.equal(proxy.count('HEAD'), 0)
      assert.deepEqual(proxy.requests.filter(r => r.method === 'PUT' && !isState(r)).map(r => r.path), [`/${bucket}/p/${rels[5]}`])
      await assertNoOutcomeList(again.stderr)
      await assertQuietRerun(proxy, ['upload', src, `s3://${bucket}/p`, '--json'], viaProxy, N)
    })

    it('download: the run writes a state; the next no-change re-run, in-process and --redis alike, sends 0 HEAD and 0 GET of data', async function () {
      const dst = mk('redis-dst')
      proxy.reset()
      const down = await runCli(['download', `s3://${bucket}/p`, dst, '--json'], redisEnv())
      assert.equal(down.code, 0, down.stderr)
      assert.equal(summaryOf(down.stdout).filesDone, N)
      assert.equal(counts(proxy).statePut, 1, 'a --redis run writes the state')
      assert.equal((await stateKeys(bucket)).length, 2, 'one state per direction')
      await assertNoOutcomeList(down.stderr)
      assert.deepEqual(compareTrees(src, dst), [])

      await assertQuietRerun(proxy, ['download', `s3://${bucket}/p`, dst, '--json'], viaProxy, N)
      const viaRedis = await assertQuietRerun(proxy, ['download', `s3://${bucket}/p`, dst, '--json'], redisEnv(), N)
      assert.equal(viaRedis.statePut, 1)
      await assertNoOutcomeList(viaRedis.stderr)
      assert.deepEqual(compareTrees(src, dst), [])
    })

    it('a file that failed on a worker gets no entry: the next run sends it again', async function () {
      const dir = mk('redis-fail')
      const names = makeTree(dir, {files: 30})
      const b = await newBucket('redisfail')
      assert.equal((await runCli(['upload', dir, `s3://${b}/p`], redisEnv())).code, 0)
      // Same size, new content and time: the upload is tried, and refused.
      const victim = join(dir, names[3])
      writeFileSync(victim, Buffer.alloc(statSync(victim).size, 0x44))
      const t = statSync(victim).mtime
      utimesSync(victim, t, new Date(t.getTime() + 5000))
      proxy.reset()
      proxy.setFaults({alwaysFail: (path, r) => r.method === 'PUT' && path === `/${b}/p/${names[3]}`})
      let failed
      try {
        failed = await runCli(['upload', dir, `s3://${b}/p`, '--json', '--max-retry', '0'], redisEnv())
      } finally {
        proxy.setFaults({})
      }
      assert.equal(failed.code, 1, failed.stderr)
      assert.equal(summaryOf(failed.stdout).filesFailed, 1)
      assert.equal(counts(proxy).statePut, 1, 'the state of the files that made it is written')
      await assertNoOutcomeList(failed.stderr)
      proxy.reset()
      const next = await runCli(['upload', dir, `s3://${b}/p`, '--json'], viaProxy)
      assert.equal(next.code, 0, next.stderr)
      assert.equal(summaryOf(next.stdout).filesDone, 1)
      // No entry for it (the old one was dropped, no new one made): same size, so today's HEAD check, then the PUT.
      assert.deepEqual(proxy.requests.filter(r => r.method === 'HEAD').map(r => r.path), [`/${b}/p/${names[3]}`])
      assert.deepEqual(proxy.requests.filter(r => r.method === 'PUT' && !isState(r)).map(r => r.path), [`/${b}/p/${names[3]}`])
      assert.deepEqual(await getObject(b, `p/${names[3]}`), readFileSync(victim))
    })

    it('a run whose CLI was killed mid-way, resumed: the resumed try writes a state of its own, and the next re-run sends 0 HEAD and 0 PUT of data', async function () {
      const dir = mk('redis-resume')
      const n = makeTree(dir, {files: 400}).length
      const b = await newBucket('redisresume')
      const args = ['upload', dir, `s3://${b}/p`, '--json']
      proxy.reset()
      // The workers' PUTs past the 100th wait until the second command has claimed the run.
      let puts = 0
      proxy.setFaults({hold: r => r.method === 'PUT' && !isState(r) && ++puts > 100})
      let again
      try {
        const first = spawnCli(args, redisEnv())
        await waitFor(() => proxy.held() > 0)
        first.child.kill('SIGKILL')
        await first.done
        const second = spawnCli(args, redisEnv())
        let err = ''
        second.child.stderr!.on('data', d => { err += d })
        await waitFor(() => /resuming run/.test(err))
        proxy.setFaults({})
        again = await second.done
      } finally {
        proxy.setFaults({})
      }
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stderr, /resuming run/)
      assert.equal(counts(proxy).statePut, 1, 'the resumed try wrote the state')
      await assertNoOutcomeList(again.stderr)
      await assertQuietRerun(proxy, args, viaProxy, n)
    })

    it('--detach decides from the state but writes none, and its workers push no outcomes to Redis', async function () {
      const dir = mk('redis-detach')
      const names = makeTree(dir, {files: 40})
      const b = await newBucket('redisdetach')
      assert.equal((await runCli(['upload', dir, `s3://${b}/p`])).code, 0)
      const touched = join(dir, names[2])
      const t = statSync(touched).mtime
      utimesSync(touched, t, new Date(t.getTime() + 5000))
      const env = {env: {...viaProxy.env, S3C_REDIS_URL: harness().redis.url}}
      proxy.reset()
      const detached = await runCli(['upload', dir, `s3://${b}/p`, '--detach'], env)
      assert.equal(detached.code, 0, detached.stderr)
      const runId = detached.stdout.trim()
      await waitFor(async () => JSON.parse((await runCli(['status', runId, '--json'], env)).stdout).state === 'done')
      const status = JSON.parse((await runCli(['status', runId, '--json'], env)).stdout)
      assert.equal(status.filesDone, 1)
      assert.equal(status.filesSkipped, names.length - 1)
      const c = counts(proxy)
      assert.equal(c.head, 0, 'decided from the state')
      assert.equal(c.dataPut, 1)
      assert.equal(c.statePut, 0, 'a detached run writes no state')
      assert.equal((await stateKeys(b)).length, 1, 'the state of the in-process run stays')
      assert.equal(await redis.exists(`s3c:run:${runId}:state`), 0, 'no outcomes pushed for a detached run')
    })
  })

  it('--no-state behaves as before (a HEAD per same-size file) and writes no .s3c/', async function () {
    const src = mk('nostate')
    const N = makeTree(src, {files: 30, depth: 2}).length
    const bucket = await newBucket('nostate')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`, '--no-state'])).code, 0)
    const up = await runCli(['upload', src, `s3://${bucket}/p`, '--no-state', '--json'], viaProxy)
    assert.equal(up.code, 0, up.stderr)
    assert.equal(summaryOf(up.stdout).filesSkipped, N)
    assert.equal(proxy.count('HEAD'), N)
    assert.equal(proxy.count('GET', isState) + proxy.count('PUT', isState), 0)
    const dst = mk('nostate-dst')
    assert.equal((await runCli(['download', `s3://${bucket}/p`, dst, '--no-state'])).code, 0)
    proxy.reset()
    const down = await runCli(['download', `s3://${bucket}/p`, dst, '--json'], {env: {...viaProxy.env, S3C_NO_STATE: '1'}})
    assert.equal(down.code, 0, down.stderr)
    assert.equal(summaryOf(down.stdout).filesSkipped, N)
    assert.equal(proxy.count('HEAD'), N)
    assert.equal(proxy.count('GET', isState) + proxy.count('PUT', isState), 0)
    assert.deepEqual(await stateKeys(bucket), [])
  })

  it('--state-url keeps the states in another bucket', async function () {
    const src = mk('stateurl')
    const N = makeTree(src, {files: 20, depth: 1}).length
    const bucket = await newBucket('data')
    const states = await newBucket('states')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`, '--state-url', `s3://${states}/kept`])).code, 0)
    assert.deepEqual(await stateKeys(bucket), [])
    assert.equal([...(await listKeys(states, 'kept/')).keys()].length, 1)
    const up = await runCli(['upload', src, `s3://${bucket}/p`, '--state-url', `s3://${states}/kept/`, '--json'], viaProxy)
    assert.equal(up.code, 0, up.stderr)
    assert.equal(summaryOf(up.stdout).filesSkipped, N)
    assert.equal(proxy.count('HEAD'), 0)
    const bad = await runCli(['upload', src, `s3://${bucket}/p`, '--state-url', 'somewhere'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--state-url "somewhere" is not an S3 URL/)
  })

  it('a bucket-root download does not download .s3c/, and a local .s3c/ is not uploaded to the bucket root', async function () {
    const src = mk('root')
    makeTree(src, {files: 10, depth: 1})
    mkdirSync(join(src, '.s3c'))
    writeFileSync(join(src, '.s3c', 'mine.txt'), 'not for the bucket root')
    const bucket = await newBucket('root')
    const up = await runCli(['upload', src, `s3://${bucket}`, '--json'])
    assert.equal(up.code, 0, up.stderr)
    assert.equal(summaryOf(up.stdout).skippedBy?.['reserved for s3c state'], 1)
    const reserved = await stateKeys(bucket)
    assert.equal(reserved.filter(k => k.startsWith('.s3c/state/')).length, 1, 'the upload state')
    assert.ok(!reserved.includes('.s3c/mine.txt'))
    const dst = mk('root-dst')
    const down = await runCli(['download', `s3://${bucket}`, dst, '--json'])
    assert.equal(down.code, 0, down.stderr)
    assert.equal(summaryOf(down.stdout).filesDone, 10)
    assert.ok(!existsSync(join(dst, '.s3c')), 'no .s3c/ downloaded')
    rmSync(join(src, '.s3c'), {recursive: true})
    assert.deepEqual(compareTrees(src, dst), [])
  })

  describe('the S3 state storage', function () {
    let s3: S3Storage
    let bucket: string
    before(async function () {
      const {s3: env} = harness()
      const config = await resolveS3Config({'endpoint-url': proxy.endpoint}, 4,
        {AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region, HOME: tmpdir()})
      // The SDK's credentials come from the environment.
      Object.assign(process.env, {AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey})
      s3 = await S3Storage.open(config, retryPolicy(2))
      bucket = await newBucket('storage')
    })
    after(async () => {
      await s3.close()
      delete process.env.AWS_ACCESS_KEY_ID
      delete process.env.AWS_SECRET_ACCESS_KEY
    })
    const random = (n: number) => Buffer.from(Array.from({length: n}, (_, i) => (i * 2654435761) >>> 24))

    it('a state above the part size goes up in parts, completed only at the end; one below is one PUT', async function () {
      proxy.reset()
      const storage = s3StateStorage(s3, bucket, '.s3c/state/', 5 * MiB)
      const big = random(12 * MiB)
      await storage.put('big', Readable.from([big.subarray(0, 6 * MiB), big.subarray(6 * MiB)]))
      // Parts of exactly the part size, the last one smaller: one part's buffer is all a state costs.
      const partBytes = proxy.requests.filter(r => r.method === 'PUT' && r.query.includes('partNumber')).map(r => r.requestBytes)
      assert.deepEqual(partBytes, [5 * MiB, 5 * MiB, 2 * MiB], 'two chunks of 6 MiB: parts of 5, 5 and 2 MiB')
      assert.deepEqual(await getObject(bucket, '.s3c/state/big'), big)
      proxy.reset()
      await storage.put('small', Readable.from([Buffer.from('abc')]))
      assert.equal(proxy.count('PUT'), 1)
      assert.equal(proxy.count('POST'), 0)
      const read = await storage.get('small')
      const chunks: Buffer[] = []
      for await (const c of read!) chunks.push(c as Buffer)
      assert.equal(Buffer.concat(chunks).toString(), 'abc')
      assert.equal(await storage.get('none'), undefined)
    })

    it('a body that fails mid-way aborts the upload: the old state stays', async function () {
      const storage = s3StateStorage(s3, bucket, '.s3c/state/', 5 * MiB)
      await storage.put('kept', Readable.from([Buffer.from('old state')]))
      proxy.reset()
      async function* failing() {
        yield random(6 * MiB)
        throw new Error('writer gave up')
      }
      await assert.rejects(storage.put('kept', Readable.from(failing())), /writer gave up/)
      assert.equal(proxy.count('DELETE', r => r.query.includes('uploadId')), 1, 'the multipart upload is aborted')
      assert.equal((await getObject(bucket, '.s3c/state/kept')).toString(), 'old state')
    })
  })
})
