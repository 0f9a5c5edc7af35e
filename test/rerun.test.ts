import assert from 'node:assert/strict'
import {appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {once} from 'node:events'
import {createGzip} from 'node:zlib'
import {Redis} from 'ioredis'
import {runCli as cli, spawnCli as spawn, type CliOptions} from './harness/cli.js'
import {harness, newBucket, testStateDir} from './harness/hooks.js'
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

/** Requests of a state kept in S3 (--state-url s3://…/states/ in these tests): none by default. */
const isState = (r: RecordedRequest) => r.path.includes('/states/')
const isList = (r: RecordedRequest) => r.method === 'GET' && r.query.includes('list-type')
const counts = (proxy: Proxy) => ({
  head: proxy.count('HEAD'),
  list: proxy.count('GET', isList),
  dataGet: proxy.count('GET', r => !isList(r) && !isState(r)),
  dataPut: proxy.count('PUT', r => !isState(r)) + proxy.count('POST', r => !isState(r)),
  /** Every request that writes or deletes, in any bucket. */
  writes: proxy.count('PUT') + proxy.count('POST') + proxy.count('DELETE'),
})

/** A state on this machine (src/state/local-storage.ts): its file and what its side file says it belongs to. */
interface LocalState {
  path: string
  mtimeMs: number
  about: {endpoint: string; bucket: string; prefix: string; direction: string; local: string}
}

/** The states in `dir` (the tests' XDG state folder unless given) of one bucket, newest first. */
function localStates(bucket: string, dir = testStateDir): LocalState[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter(n => n.endsWith('.ndjson.gz')).map(n => {
    const about = JSON.parse(readFileSync(join(dir, n.replace('.ndjson.gz', '.json')), 'utf8'))
    return {path: join(dir, n), mtimeMs: statSync(join(dir, n)).mtimeMs, about}
  }).filter(st => st.about.bucket === bucket).sort((a, b) => b.mtimeMs - a.mtimeMs)
}

/**
 * A no-change re-run through `proxy`: every one of `n` files skipped, no HEAD, no PUT or GET of
 * data, nothing written to S3 (the state is read and written on this machine). Returns the run's request counts.
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
  assert.equal(c.writes, 0, 'nothing written to S3')
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

/** The keys `upload DIR s3://b/prefix` makes of a folder's files, sorted. */
function makeTreeKeys(root: string, prefix: string): string[] {
  return (readdirSync(root, {recursive: true}) as string[]).filter(rel => statSync(join(root, rel)).isFile()).map(rel => prefix + rel.split('\\').join('/')).sort()
}

function summaryOf(stdout: string): {filesDone: number; filesSkipped: number; filesFailed: number; skippedBy?: Record<string, number>} {
  return JSON.parse(stdout.trim().split('\n').pop()!)
}

/** The paths of the local states of one bucket. */
function stateKeys(bucket: string): string[] {
  return localStates(bucket).map(st => st.path)
}

/**
 * The state is keyed by the endpoint too: every CLI of this file talks to S3 through the proxy
 * (set in beforeEach), the runs that prepare a test like the ones it measures.
 */
const viaProxy = {env: {AWS_ENDPOINT_URL: '' as string}}
const withProxy = (opts: CliOptions = {}): CliOptions => ({...opts, env: {...viaProxy.env, ...opts.env}})
const runCli = (args: string[], opts?: CliOptions) => cli(args, withProxy(opts))
const spawnCli = (args: string[], opts?: CliOptions) => spawn(args, withProxy(opts))

describe('re-runs with the sync state', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-rerun-${name}-`)); dirs.push(d); return d }
  let proxy: Proxy
  before(async () => { proxy = await startProxy(harness().s3.endpoint) })
  after(async () => { await proxy.stop() })
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
      assert.equal(stateKeys(bucket).length, 2, 'one state per direction')
      assert.deepEqual([...(await listKeys(bucket)).keys()].filter(k => !k.startsWith('m/')), [], 'nothing in the bucket but the data')
    })

    it('a no-change re-run sends no HEAD and no PUT/GET of data, in both directions: only listings (the state is on this machine)', async function () {
      // Upload again: ⌈1201/1000⌉ listing pages and the bucket check are the only LISTs; the state is read and written locally.
      const before = localStates(bucket).find(st => st.about.direction === 'upload')!
      const up = await runCli(['upload', src, `s3://${bucket}/m`, '--json'], viaProxy)
      assert.equal(up.code, 0, up.stderr)
      assert.equal(summaryOf(up.stdout).filesSkipped, N)
      assert.equal(summaryOf(up.stdout).filesDone, 0)
      let c = counts(proxy)
      assert.equal(c.head, 0, 'no HEAD')
      assert.equal(c.dataPut, 0, 'no PUT of data')
      assert.equal(c.dataGet, 0, 'no GET of data')
      assert.ok(c.list <= Math.ceil(N / 1000) + 3, `${c.list} LISTs`)
      assert.equal(c.writes, 0, 'nothing written to S3')
      assert.equal(proxy.requests.length, c.list, 'listings only')
      const after = localStates(bucket).find(st => st.about.direction === 'upload')!
      assert.equal(after.path, before.path)
      assert.ok(after.mtimeMs >= before.mtimeMs, 'the state was written again')
      assert.deepEqual({...after.about, written: undefined}, {endpoint: proxy.endpoint, bucket, prefix: 'm/', direction: 'upload', local: src, written: undefined})

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
      assert.equal(c.writes, 0, 'a download writes nothing to S3')
      assert.equal(proxy.requests.length, c.list, 'listings only')
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

    function stateKey(): string {
      const keys = stateKeys(bucket)
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
      rmSync(stateKey())
      await rerunChecks(undefined)
    })

    it('truncated: one warning, HEAD checks, then a fresh state', async function () {
      const key = stateKey()
      const body = readFileSync(key)
      writeFileSync(key, body.subarray(0, Math.floor(body.length / 2)))
      await rerunChecks(/sync state not used: .*; every same-size file is checked with a HEAD this run/)
    })

    it('a byte flipped: one warning, HEAD checks, then a fresh state', async function () {
      const key = stateKey()
      const body = readFileSync(key)
      body[Math.floor(body.length / 2)] ^= 0x55
      writeFileSync(key, body)
      await rerunChecks(/sync state not used/)
    })

    it('one line of 600 MB (a crafted state file): one warning, HEAD checks, then a fresh state', async function () {
      // Read whole, the line took ~650 MB and crashed every later run with a stack trace.
      const gz = createGzip()
      const parts: Buffer[] = []
      gz.on('data', (c: Buffer) => parts.push(c))
      gz.write('{"format":1,"local":"')
      const chunk = Buffer.alloc(1 << 20, 0x61)
      for (let i = 0; i < 600; i++) if (!gz.write(chunk)) await once(gz, 'drain')
      gz.end()
      await once(gz, 'end')
      writeFileSync(stateKey(), Buffer.concat(parts))
      await rerunChecks(/sync state not used: a line is longer than 65536 bytes; every same-size file is checked with a HEAD this run/)
    })

    it('the same download state lost: HEAD checks, then a fresh state', async function () {
      const dst = mk('lost-dst')
      const upState = stateKey()
      assert.equal((await runCli(['download', `s3://${bucket}/p`, dst])).code, 0)
      const downState = stateKeys(bucket).filter(k => k !== upState)
      assert.equal(downState.length, 1)
      rmSync(downState[0])
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
    proxy.reset()
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
    const t = statSync(join(src, 'b.txt')).mtime
    utimesSync(join(src, 'b.txt'), t, new Date(t.getTime() + 5000))
    const stored = readFileSync(stateKeys(bucket)[0])
    proxy.reset()
    // fauxqs lists so itself; AWS, Ceph RGW and MinIO list in S3 key order: the proxy answers as fauxqs does.
    proxy.setFaults({lie: r => (isList(r) ? 'locale-order' : undefined)})
    const up = await runCli(['upload', src, `s3://${bucket}/p`, '--json'], viaProxy).finally(() => proxy.setFaults({}))
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
    assert.equal(stateKeys(bucket).length, 1)
    assert.deepEqual(readFileSync(stateKeys(bucket)[0]), stored, 'no state from a run that could not merge; the old one stays')
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
      assert.equal(stateKeys(bucket).length, 1, 'a --redis run writes the state, on the machine of the CLI that collects the results')
      assert.deepEqual(proxy.requests.filter(r => r.path.includes('/.s3c/')), [], 'no state in the bucket')
      await assertNoOutcomeList(up.stderr)

      await assertQuietRerun(proxy, ['upload', src, `s3://${bucket}/p`, '--json'], viaProxy, N)
      const written = statSync(stateKeys(bucket)[0]).mtimeMs
      const viaRedis = await assertQuietRerun(proxy, ['upload', src, `s3://${bucket}/p`, '--json'], redisEnv(), N)
      assert.ok(statSync(stateKeys(bucket)[0]).mtimeMs >= written, 'the --redis re-run wrote the state again')
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
      assert.equal(counts(proxy).writes, 0, 'a download writes nothing to S3')
      assert.equal(stateKeys(bucket).length, 2, 'a --redis run writes the state: one per direction')
      await assertNoOutcomeList(down.stderr)
      assert.deepEqual(compareTrees(src, dst), [])

      await assertQuietRerun(proxy, ['download', `s3://${bucket}/p`, dst, '--json'], viaProxy, N)
      const viaRedis = await assertQuietRerun(proxy, ['download', `s3://${bucket}/p`, dst, '--json'], redisEnv(), N)
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
      const stored = readFileSync(stateKeys(b)[0])
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
      assert.equal(stateKeys(b).length, 1)
      assert.notDeepEqual(readFileSync(stateKeys(b)[0]), stored, 'the state of the files that made it is written')
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
      assert.equal(stateKeys(b).length, 1, 'the resumed try wrote the state')
      await assertNoOutcomeList(again.stderr)
      await assertQuietRerun(proxy, args, viaProxy, n)
    })

    it('--detach decides from the state but writes none, and its workers push no outcomes to Redis', async function () {
      const dir = mk('redis-detach')
      const names = makeTree(dir, {files: 40})
      const b = await newBucket('redisdetach')
      assert.equal((await runCli(['upload', dir, `s3://${b}/p`])).code, 0)
      const stored = readFileSync(stateKeys(b)[0])
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
      assert.equal(c.writes, 1, 'the one file, and no state in S3')
      assert.deepEqual(stateKeys(b).map(k => readFileSync(k)), [stored], 'a detached run writes no state: the in-process run\'s stays')
      assert.equal(await redis.exists(`s3c:run:${runId}:state`), 0, 'no outcomes pushed for a detached run')
    })
  })

  it('--no-state behaves as before (a HEAD per same-size file) and reads or writes no state anywhere', async function () {
    const src = mk('nostate')
    const N = makeTree(src, {files: 30, depth: 2}).length
    const bucket = await newBucket('nostate')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`, '--no-state'])).code, 0)
    proxy.reset()
    const up = await runCli(['upload', src, `s3://${bucket}/p`, '--no-state', '--json'])
    assert.equal(up.code, 0, up.stderr)
    assert.equal(summaryOf(up.stdout).filesSkipped, N)
    assert.equal(proxy.count('HEAD'), N)
    const dst = mk('nostate-dst')
    assert.equal((await runCli(['download', `s3://${bucket}/p`, dst, '--no-state'])).code, 0)
    proxy.reset()
    const down = await runCli(['download', `s3://${bucket}/p`, dst, '--json'], {env: {S3C_NO_STATE: '1'}})
    assert.equal(down.code, 0, down.stderr)
    assert.equal(summaryOf(down.stdout).filesSkipped, N)
    assert.equal(proxy.count('HEAD'), N)
    assert.deepEqual(stateKeys(bucket), [])
    assert.deepEqual([...(await listKeys(bucket)).keys()].filter(k => !k.startsWith('p/')), [])
  })

  it('by default nothing but the data goes into the bucket, and a download from a bucket the user may only read sends no write and prints no warning', async function () {
    const src = mk('readonly')
    const N = makeTree(src, {files: 25, depth: 1}).length
    const bucket = await newBucket('readonly')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`])).code, 0)
    assert.deepEqual([...(await listKeys(bucket)).keys()].sort(), makeTreeKeys(src, 'p/'), 'only the user\'s objects')
    const dst = mk('readonly-dst')
    proxy.reset()
    // Every write answered 403 AccessDenied, as a read-only or public bucket answers it.
    proxy.setFaults({deny: r => r.method !== 'GET' && r.method !== 'HEAD'})
    try {
      for (let i = 0; i < 2; i++) {
        const down = await runCli(['download', `s3://${bucket}/p`, dst, '--json'])
        assert.equal(down.code, 0, down.stderr)
        assert.equal(down.stderr, '', 'no warning')
        assert.equal(summaryOf(down.stdout)[i === 0 ? 'filesDone' : 'filesSkipped'], N)
      }
    } finally {
      proxy.setFaults({})
    }
    assert.equal(counts(proxy).writes, 0, 'no PUT, POST or DELETE sent')
    assert.equal(proxy.count('HEAD'), 0, 'the second download decided from the state on this machine')
    assert.deepEqual(compareTrees(src, dst), [])
  })

  it('--state-dir, S3C_STATE_DIR and XDG_STATE_HOME choose the folder; two local folders syncing the same prefix get two states', async function () {
    const src = mk('home')
    const N = makeTree(src, {files: 15, depth: 1}).length
    const bucket = await newBucket('home')
    const xdg = mk('xdg')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`], {env: {XDG_STATE_HOME: xdg}})).code, 0)
    assert.equal(localStates(bucket, join(xdg, 's3c', 'sync')).length, 1, 'in $XDG_STATE_HOME/s3c/sync')
    assert.deepEqual(stateKeys(bucket), [], 'not in the default folder')
    const byEnv = mk('by-env')
    const byFlag = mk('by-flag')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`], {env: {S3C_STATE_DIR: byEnv, XDG_STATE_HOME: xdg}})).code, 0)
    assert.equal(localStates(bucket, byEnv).length, 1, 'S3C_STATE_DIR before XDG_STATE_HOME')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`, '--state-dir', byFlag], {env: {S3C_STATE_DIR: byEnv}})).code, 0)
    assert.equal(localStates(bucket, byFlag).length, 1, '--state-dir before S3C_STATE_DIR')
    proxy.reset()
    const again = await runCli(['upload', src, `s3://${bucket}/p`, '--state-dir', byFlag, '--json'])
    assert.equal(summaryOf(again.stdout).filesSkipped, N)
    assert.equal(proxy.count('HEAD'), 0, 'the state in --state-dir is used')
    const both = await runCli(['upload', src, `s3://${bucket}/p`, '--state-dir', byFlag, '--state-url', `s3://${bucket}/states/`])
    assert.equal(both.code, 2)
    assert.match(both.stderr, /--state-url and --state-dir name two places for the sync state: give one/)
    // Two folders, one prefix: a state each, named by the folder too.
    const one = mk('same-a')
    const two = mk('same-b')
    for (const dst of [one, two]) assert.equal((await runCli(['download', `s3://${bucket}/p`, dst], {env: {XDG_STATE_HOME: xdg}})).code, 0)
    const downs = localStates(bucket, join(xdg, 's3c', 'sync')).filter(st => st.about.direction === 'download')
    assert.deepEqual(downs.map(st => st.about.local).sort(), [one, two].sort())
    for (const dst of [one, two]) {
      proxy.reset()
      const r = await runCli(['download', `s3://${bucket}/p`, dst, '--json'], {env: {XDG_STATE_HOME: xdg}})
      assert.equal(summaryOf(r.stdout).filesSkipped, N)
      assert.equal(proxy.count('HEAD'), 0, `${dst}: its own state`)
    }
  })

  it('the folder keeps at most S3C_STATE_MAX_COUNT states: the least recently used is dropped', async function () {
    const dir = mk('capped')
    const env = {S3C_STATE_DIR: dir, S3C_STATE_MAX_COUNT: '2'}
    const src = mk('capped-src')
    makeTree(src, {files: 5})
    const bucket = await newBucket('capped')
    for (const p of ['a', 'b']) assert.equal((await runCli(['upload', src, `s3://${bucket}/${p}`], {env})).code, 0)
    // Used since: a's state is read again by a dry run (it writes none), so b's is the least recently used.
    assert.equal((await runCli(['upload', src, `s3://${bucket}/a`, '--dry-run'], {env})).code, 0)
    assert.equal((await runCli(['upload', src, `s3://${bucket}/c`], {env})).code, 0)
    assert.deepEqual(localStates(bucket, dir).map(st => st.about.prefix).sort(), ['a/', 'c/'])
    assert.deepEqual(readdirSync(dir).length, 4, 'each state with its side file, nothing else')
  })

  it('--state-url keeps the states in S3 (another bucket, or under a prefix of the data\'s own that its listings leave out)', async function () {
    const src = mk('stateurl')
    const N = makeTree(src, {files: 20, depth: 1}).length
    const bucket = await newBucket('data')
    const states = await newBucket('states')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`, '--state-url', `s3://${states}/states`])).code, 0)
    assert.deepEqual(stateKeys(bucket), [], 'none on this machine')
    assert.equal([...(await listKeys(states, 'states/')).keys()].length, 1)
    proxy.reset()
    const up = await runCli(['upload', src, `s3://${bucket}/p`, '--state-url', `s3://${states}/states/`, '--json'])
    assert.equal(up.code, 0, up.stderr)
    assert.equal(summaryOf(up.stdout).filesSkipped, N)
    assert.equal(proxy.count('HEAD'), 0)
    assert.equal(proxy.count('GET', r => isState(r) && !isList(r)), 1, 'the state read from S3')
    const bad = await runCli(['upload', src, `s3://${bucket}/p`, '--state-url', 'somewhere'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--state-url "somewhere" is not an S3 URL/)

    // Inside the data's own tree: a download of the tree does not fetch the states, sync --delete keeps them.
    const inside = ['--state-url', `s3://${bucket}/p/states/`]
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`, ...inside])).code, 0)
    const kept = [...(await listKeys(bucket, 'p/states/')).keys()]
    assert.equal(kept.length, 1)
    const dst = mk('stateurl-dst')
    const down = await runCli(['download', `s3://${bucket}/p`, dst, '--json', ...inside])
    assert.equal(down.code, 0, down.stderr)
    assert.equal(summaryOf(down.stdout).filesDone, N)
    assert.deepEqual(compareTrees(src, dst), [], 'the states were not downloaded')
    const synced = await runCli(['sync', src, `s3://${bucket}/p`, '--delete', ...inside])
    assert.equal(synced.code, 0, synced.stderr)
    assert.deepEqual([...(await listKeys(bucket, 'p/states/')).keys()].length, 2, 'the upload and download states stay')
  })

  it('.s3c/ is an ordinary name: a local .s3c/ folder is uploaded to a bucket root and downloaded back', async function () {
    const src = mk('root')
    makeTree(src, {files: 10, depth: 1})
    mkdirSync(join(src, '.s3c'))
    writeFileSync(join(src, '.s3c', 'mine.txt'), 'the user\'s own')
    const bucket = await newBucket('root')
    const up = await runCli(['upload', src, `s3://${bucket}`, '--json'])
    assert.equal(up.code, 0, up.stderr)
    assert.equal(summaryOf(up.stdout).filesDone, 11)
    assert.deepEqual([...(await listKeys(bucket, '.s3c/')).keys()], ['.s3c/mine.txt'])
    const dst = mk('root-dst')
    const down = await runCli(['download', `s3://${bucket}`, dst, '--json'])
    assert.equal(down.code, 0, down.stderr)
    assert.equal(summaryOf(down.stdout).filesDone, 11)
    assert.deepEqual(compareTrees(src, dst), [])
    const ls = await runCli(['ls', `s3://${bucket}`])
    assert.match(ls.stdout, /\.s3c\//)
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
      const storage = s3StateStorage(s3, bucket, 'states/', 5 * MiB)
      const big = random(12 * MiB)
      await storage.put('big', Readable.from([big.subarray(0, 6 * MiB), big.subarray(6 * MiB)]))
      // Parts of exactly the part size, the last one smaller: one part's buffer is all a state costs.
      const partBytes = proxy.requests.filter(r => r.method === 'PUT' && r.query.includes('partNumber')).map(r => r.requestBytes)
      assert.deepEqual(partBytes, [5 * MiB, 5 * MiB, 2 * MiB], 'two chunks of 6 MiB: parts of 5, 5 and 2 MiB')
      assert.deepEqual(await getObject(bucket, 'states/big'), big)
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
      const storage = s3StateStorage(s3, bucket, 'states/', 5 * MiB)
      await storage.put('kept', Readable.from([Buffer.from('old state')]))
      proxy.reset()
      async function* failing() {
        yield random(6 * MiB)
        throw new Error('writer gave up')
      }
      await assert.rejects(storage.put('kept', Readable.from(failing())), /writer gave up/)
      assert.equal(proxy.count('DELETE', r => r.query.includes('uploadId')), 1, 'the multipart upload is aborted')
      assert.equal((await getObject(bucket, 'states/kept')).toString(), 'old state')
    })
  })
})
