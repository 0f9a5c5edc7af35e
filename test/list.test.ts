import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ListObjectsV2Command, PutObjectCommand} from '@aws-sdk/client-s3'
import type {ListingStats} from '../src/s3/list.js'
import type {S3Storage} from '../src/s3/storage.js'
import {compareKeys} from '../src/base/keys.js'
import {runCli} from './harness/cli.js'
import {harness, newBucket, openTestStorage, s3Client} from './harness/hooks.js'
import {startProxy, type Proxy, type RecordedRequest} from './harness/proxy.js'
import {compareTrees} from './harness/tree.js'

/*
 * The ordered parallel listing (src/s3/list.ts): the same objects in the same order as a
 * sequential listing, with more than one request in flight, within the stated request bound
 * (docs/DESIGN.md). Requests are counted, and overlap is counted, by the proxy; never timed.
 */

const isList = (r: RecordedRequest) => r.method === 'GET' && r.query.includes('list-type')
const newStats = (): ListingStats => ({ranges: 0, delimiterPages: 0, endChecks: 0, fellBack: false})
const pages = (n: number) => Math.ceil(n / 1000)

/**
 * Keys around every split point a folder listing makes: the folder's own key ("d010/"), the
 * names that sort just before and after it ("d010", "d010-a", "d010.a", "d0100/…"), folders of one
 * key, of 25 and of 300, folders inside folders, and one folder of 1,600 keys in two levels.
 * Lower-case ASCII, digits, '-', '.' and '/' only: fauxqs (localeCompare) lists these in byte order too.
 */
function plainKeys(): string[] {
  const keys: string[] = []
  for (let i = 0; i < 150; i++) {
    const f = `d${String(i).padStart(3, '0')}`
    const n = i % 10 === 0 ? 300 : i % 3 === 0 ? 1 : 25
    keys.push(`${f}/`, `${f}-a`)
    if (i % 4 === 0) keys.push(f)
    if (i % 5 === 0) keys.push(`${f}.a`, `${f}.b/x`)
    if (i % 7 === 0) keys.push(`${f}0/x`, `${f}0/y/z`)
    for (let j = 0; j < n; j++) keys.push(j % 3 === 0 ? `${f}/f${j}` : `${f}/s${j % 4}/f${j}`)
  }
  for (let j = 0; j < 1600; j++) keys.push(`big/${'abcd'[j % 4]}/${j % 8}/k${j}`)
  return keys
}

/** Names whose byte order differs from a locale's: upper case, '_', spaces, non-ASCII, an emoji, U+FFFD, '+'. */
function awkwardKeys(): string[] {
  const parts = ['a', 'A', 'a_', 'a b', 'é', 'Ü', 'z\u{1F600}', '\uFFFD', 'x+y', '日本', 'a-', 'a.']
  const keys: string[] = []
  for (let i = 0; i < 2600; i++) {
    const top = parts[i % parts.length]
    const mid = parts[(i * 7 + 3) % parts.length]
    keys.push(i % 9 === 0 ? `${top}${i}` : `${top}/${mid}${i % 40}/${parts[(i * 5) % parts.length]}${i}`)
  }
  for (const p of parts) keys.push(p, `${p}/`)
  return [...new Set(keys)]
}

async function putAll(bucket: string, keys: string[]): Promise<void> {
  const c = s3Client()
  try {
    let next = 0
    await Promise.all(Array.from({length: 32}, async () => {
      while (next < keys.length) {
        const key = keys[next++]
        await c.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: Buffer.from(key)}))
      }
    }))
  } finally {
    c.destroy()
  }
}

/** The objects under `prefix` as a plain SDK client lists them, page after page. */
async function sdkListing(bucket: string, prefix: string): Promise<[string, number, string][]> {
  const c = s3Client()
  const out: [string, number, string][] = []
  try {
    let token: string | undefined
    do {
      const res = await c.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token}))
      for (const o of res.Contents ?? []) out.push([o.Key!, o.Size ?? 0, o.ETag ?? ''])
      token = res.IsTruncated ? res.NextContinuationToken : undefined
    } while (token)
  } finally {
    c.destroy()
  }
  return out
}

async function s3cListing(s3: S3Storage, bucket: string, prefix: string, stats?: ListingStats): Promise<[string, number, string][]> {
  const out: [string, number, string][] = []
  for await (const page of s3.listObjectPages(bucket, prefix, stats)) for (const o of page) out.push([o.key, o.size, o.etag ?? ''])
  return out
}

const inByteOrder = (keys: string[]) => keys.every((k, i) => i === 0 || compareKeys(keys[i - 1], k) < 0)

describe('listing in parallel, in order', function () {
  let proxy: Proxy
  let s3: S3Storage
  let plain: string
  let awkward: string
  const plainList = plainKeys()
  const awkwardList = awkwardKeys()
  const saved: Record<string, string | undefined> = {}

  before(async function () {
    proxy = await startProxy(harness().s3.endpoint)
    proxy.inFlight = isList
    // These listings are of a few thousand keys: split them after their first page (the default waits for 10, src/s3/list.ts).
    saved.S3C_LIST_SEQUENTIAL_PAGES = process.env.S3C_LIST_SEQUENTIAL_PAGES
    process.env.S3C_LIST_SEQUENTIAL_PAGES = '1'
    s3 = await openTestStorage(proxy.endpoint, {maxSockets: 16, listConcurrency: 16})
    plain = await newBucket('list-plain')
    awkward = await newBucket('list-awkward')
    await Promise.all([putAll(plain, plainList), putAll(awkward, awkwardList)])
  })
  after(async function () {
    await s3?.close()
    await proxy?.stop()
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
  beforeEach(() => {
    proxy.setFaults({})
    proxy.reset()
  })

  it('gives the objects of a sequential listing, in its order, around every split point, for several prefixes', async function () {
    for (const prefix of ['', 'd0', 'd010', 'd010/', 'big/', 'big/a/', 'd14']) {
      const expected = await sdkListing(plain, prefix)
      const stats = newStats()
      proxy.reset()
      const got = await s3cListing(s3, plain, prefix, stats)
      assert.equal(got.length, expected.length, `prefix "${prefix}": ${got.length} objects, ${expected.length} expected`)
      assert.deepEqual(got, expected, `prefix "${prefix}"`)
      assert.ok(!stats.fellBack)
      // The stated bound (docs/DESIGN.md): a page per 1,000 keys, plus one per range and per delimiter page.
      const lists = proxy.count('GET', isList)
      assert.ok(lists <= pages(got.length) + stats.ranges + stats.endChecks + stats.delimiterPages, `prefix "${prefix}": ${lists} LISTs for ${got.length} keys, ${JSON.stringify(stats)}`)
      if (got.length <= 1000) assert.equal(lists, 1, `prefix "${prefix}": a listing of one page is one request`)
    }
    assert.equal(new Set(plainList).size, (await sdkListing(plain, '')).length, 'the bucket holds every key written')
  })

  it('splits a long listing: more than one request in flight, at most the concurrency, and few extra requests for 150 folders', async function () {
    proxy.setFaults({latencyMs: 30})
    const stats = newStats()
    const got = await s3cListing(s3.with({listConcurrency: 8}), plain, '', stats)
    const n = new Set(plainList).size
    assert.equal(got.length, n)
    const lists = proxy.count('GET', isList)
    assert.ok(stats.ranges > 1, `split into ranges: ${JSON.stringify(stats)}`)
    assert.ok(proxy.maxInFlight() > 1, `${proxy.maxInFlight()} LISTs in flight at most`)
    assert.ok(proxy.maxInFlight() <= 8, `${proxy.maxInFlight()} LISTs in flight at most, 8 allowed`)
    // 150 folders (and 400 keys between them) are not 150 listings: small folders share a range.
    assert.ok(stats.ranges < 60, `${stats.ranges} ranges for 150 folders`)
    assert.ok(lists <= pages(n) + stats.ranges + stats.endChecks + stats.delimiterPages, `${lists} LISTs, ${JSON.stringify(stats)}`)
  })

  it('lists sequentially with a concurrency of 1: one request at a time, a page per 1,000 keys', async function () {
    proxy.setFaults({latencyMs: 5})
    const stats = newStats()
    const got = await s3cListing(s3.with({listConcurrency: 1}), plain, '', stats)
    assert.deepEqual(got, await sdkListing(plain, ''))
    assert.equal(stats.ranges + stats.endChecks + stats.delimiterPages, 0)
    assert.equal(proxy.count('GET', isList), pages(got.length), 'a request per page')
    assert.equal(proxy.maxInFlight(), 1)
  })

  it('names whose byte order is not a locale\'s: the same objects in the same order (split where the server lists in byte order)', async function () {
    for (const prefix of ['', 'a', 'a/', 'é/']) {
      const expected = await sdkListing(awkward, prefix)
      const stats = newStats()
      const got = await s3cListing(s3, awkward, prefix, stats)
      assert.deepEqual(got, expected, `prefix "${prefix}"`)
      if (prefix === '') {
        if (inByteOrder(expected.map(e => e[0]))) {
          assert.equal(got.length, awkwardList.length, 'every key written is listed, once')
          assert.ok(stats.ranges > 0, `split: ${JSON.stringify(stats)}`)
        } else {
          // fauxqs sorts by localeCompare but resumes a page after its last key in code-unit order, so
          // its own sequential listing repeats and skips such keys: s3c gives what it gives, unsplit.
          assert.equal(stats.ranges, 0, 'a server that lists out of byte order is listed sequentially')
        }
      }
    }
  })

  describe('a listing of large folders', function () {
    // Folders of 1,000 keys (each its own range): the first page is one folder, so the lister asks
    // for the folders that follow at once (the probe, src/s3/list.ts) instead of reading pages one
    // after another. `odd/` holds, in its second folder, two names whose byte order is not a
    // locale's ("B" < "a").
    let large: string
    const folderKeys = (top: string, folders: number) =>
      Array.from({length: folders * 1000}, (_, i) => `${top}/d${String(Math.floor(i / 1000)).padStart(2, '0')}/k${String(i % 1000).padStart(3, '0')}`)
    const oddKeys = [...folderKeys('odd', 3), 'odd/d01/B', 'odd/d01/a']
    // The first LISTs: one page of the top level, then the delimiter listing that splits it (not a second page).
    const firstTwo = () => proxy.requests.filter(isList).slice(0, 2).map(r => {
      const q = new URLSearchParams(r.query)
      return `${q.get('prefix')}${q.has('delimiter') ? ' delimiter' : ''}${q.has('continuation-token') ? ' next page' : ''}`
    })
    before(async function () {
      large = await newBucket('list-large')
      await putAll(large, [...folderKeys('big', 5), ...oddKeys])
    })

    it('splits after the first page: more than one request in flight, each key once, in byte order', async function () {
      proxy.setFaults({latencyMs: 10})
      const stats = newStats()
      const got: string[] = []
      for await (const page of s3.with({listConcurrency: 8}).listObjectPages(large, 'big/', stats, {sequentialPages: 2})) for (const o of page) got.push(o.key)
      assert.deepEqual(got, folderKeys('big', 5))
      assert.deepEqual(firstTwo(), ['big/', 'big/ delimiter'], 'one page of the top level, then the folders')
      assert.equal(stats.delimiterPages, 1, JSON.stringify(stats))
      assert.ok(proxy.maxInFlight() > 1 && proxy.maxInFlight() <= 8, `${proxy.maxInFlight()} LISTs in flight at most, 8 allowed`)
      assert.ok(!stats.fellBack)
      assert.ok(proxy.count('GET', isList) <= pages(got.length) + stats.ranges + stats.endChecks + stats.delimiterPages, JSON.stringify(stats))
    })

    it('a folder listed out of byte order after the split is still found: the rest is listed sequentially, every key once', async function () {
      const expected = (await sdkListing(large, 'odd/')).map(e => e[0])
      assert.equal(expected.length, oddKeys.length)
      // A server that lists by locale (fauxqs does already; the lie makes any other one do so) inside the folders.
      proxy.setFaults({lie: r => (isList(r) && /(^|&)prefix=odd%2Fd/.test(r.query) ? 'locale-order' : undefined)})
      const stats = newStats()
      const got: string[] = []
      for await (const page of s3.listObjectPages(large, 'odd/', stats, {sequentialPages: 2})) for (const o of page) got.push(o.key)
      assert.ok(stats.ranges > 0 && stats.fellBack, `split, then fell back: ${JSON.stringify(stats)}`)
      assert.deepEqual(got, expected)
    })

    it('download --dry-run (default flags) and ls with a wildcard split after the first page too', async function () {
      const env = {env: {AWS_ENDPOINT_URL: proxy.endpoint, S3C_LIST_SEQUENTIAL_PAGES: '2'}}
      const keys = folderKeys('big', 5)
      const root = mkdtempSync(join(tmpdir(), 's3c-list-'))
      try {
        proxy.setFaults({latencyMs: 10})
        const dry = await runCli(['download', `s3://${large}/big/`, join(root, 'none'), '--dry-run'], env)
        assert.equal(dry.code, 0, dry.stderr)
        const planned = dry.stdout.split('\n').map(l => /big\/d\d+\/k\d+/.exec(l)?.[0]).filter(k => k !== undefined)
        assert.deepEqual(planned, keys)
        assert.deepEqual(firstTwo(), ['big/', 'big/ delimiter'], 'one page of the top level, then the folders')
        assert.ok(proxy.maxInFlight() > 1, `${proxy.maxInFlight()} LISTs in flight at most`)
        proxy.reset()
        const ls = await runCli(['ls', `s3://${large}/big/*`], env)
        assert.equal(ls.code, 0, ls.stderr)
        // (ls names a key below the wildcard's folder: d00/k000)
        assert.deepEqual(ls.stdout.split('\n').map(l => /d\d+\/k\d+$/.exec(l)?.[0]).filter(k => k !== undefined).map(k => `big/${k}`), keys)
        assert.deepEqual(firstTwo(), ['big/', 'big/ delimiter'])
        assert.ok(proxy.maxInFlight() > 1, `${proxy.maxInFlight()} LISTs in flight at most`)
      } finally {
        rmSync(root, {recursive: true, force: true})
      }
    })
  })

  it('download, its no-change re-run and sync of 2,400 files in 48 folders are exact with the listing in parallel', async function () {
    const root = mkdtempSync(join(tmpdir(), 's3c-list-'))
    try {
      const src = join(root, 'src')
      let n = 0
      for (let a = 0; a < 2; a++) for (let b = 0; b < 24; b++) {
        const dir = join(src, `g${a}`, `h${b}`)
        mkdirSync(dir, {recursive: true})
        for (let i = 0; i < 50; i++, n++) writeFileSync(join(dir, `f${i}.txt`), `${a}/${b}/${i}\n`)
      }
      const bucket = await newBucket('list-cli')
      const env = {env: {AWS_ENDPOINT_URL: proxy.endpoint}}
      const up = await runCli(['upload', src, `s3://${bucket}/t`, '--json'], env)
      assert.equal(up.code, 0, up.stderr)
      proxy.setFaults({latencyMs: 10})
      proxy.reset()
      const dst = join(root, 'dst')
      const down = await runCli(['download', `s3://${bucket}/t`, dst, '--thread-count', '8', '--json'], env)
      assert.equal(down.code, 0, down.stderr)
      assert.deepEqual(compareTrees(src, dst), [])
      // The listing split (its requests say so). Whether two of its LISTs were in flight at once here
      // depends on the GETs of the first page's files, which share the sockets: the dry run shows it.
      const lists = proxy.requests.filter(isList).map(r => new URLSearchParams(r.query))
      assert.ok(lists.some(q => q.get('delimiter') === '/'), 'the split asked where the folders are')
      assert.deepEqual([...new Set(lists.filter(q => !q.get('delimiter')).map(q => q.get('prefix')))].sort(), ['t/', 't/g0/', 't/g1/'],
        'after the first page, both top folders were listed as ranges of their own')
      proxy.reset()
      const dry = await runCli(['download', `s3://${bucket}/t`, join(root, 'dry'), '--thread-count', '8', '--dry-run', '-q'], env)
      assert.equal(dry.code, 0, dry.stderr)
      assert.ok(proxy.maxInFlight() > 1, 'the listing had more than one request in flight')
      proxy.reset()
      const again = await runCli(['download', `s3://${bucket}/t`, dst, '--thread-count', '8', '--json'], env)
      assert.equal(again.code, 0, again.stderr)
      assert.equal(JSON.parse(again.stdout.trim().split('\n').at(-1)!).filesSkipped, n)
      assert.equal(proxy.count('GET', r => !isList(r) && !r.path.includes('/.s3c/')), 0, 'no GET of data')
      proxy.reset()
      const mirror = join(root, 'mirror')
      const sync = await runCli(['sync', `s3://${bucket}/t`, mirror, '--thread-count', '8', '--json'], env)
      assert.equal(sync.code, 0, sync.stderr)
      assert.deepEqual(compareTrees(src, mirror), [])
      proxy.reset()
      const seq = await runCli(['download', `s3://${bucket}/t`, dst, '--thread-count', '1', '--json'], env)
      assert.equal(seq.code, 0, seq.stderr)
      assert.equal(proxy.maxInFlight(), 1, '--thread-count 1 lists one request at a time')
    } finally {
      rmSync(root, {recursive: true, force: true})
    }
  })
})
