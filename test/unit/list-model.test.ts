import assert from 'node:assert/strict'
import type {StorageEntry} from '../../src/base/storage.js'
import {compareKeys} from '../../src/base/keys.js'
import {keyBoundaries, listInOrder, type FetchPage, type ListingStats, type PageRequest} from '../../src/s3/list.js'

/*
 * The ordered parallel listing (src/s3/list.ts) over a model of ListObjectsV2, with no server;
 * test/list.test.ts checks it against one. Requests are counted, never timed.
 */

const newStats = (): ListingStats => ({ranges: 0, delimiterPages: 0, endChecks: 0, fellBack: false})
const pages = (n: number) => Math.ceil(n / 1000)

/**
 * The lister over a model of ListObjectsV2 in byte order (AWS's documented semantics: a
 * delimiter listing after a key rolls that key's folder up again): shapes too large to write to a
 * test server (60,000 keys in 20,000 folders, a deep tree, a flat one), each checked key for key
 * and request by request.
 */
describe('listing in parallel over a model of ListObjectsV2', function () {
  function model(keys: string[]) {
    const sorted = [...new Set(keys)].sort(compareKeys)
    const counts = {requests: 0, inFlight: 0, maxInFlight: 0}
    const log: PageRequest[] = []
    const fetch: FetchPage = async req => {
      counts.requests++
      log.push(req)
      counts.maxInFlight = Math.max(counts.maxInFlight, ++counts.inFlight)
      await new Promise(resolve => setImmediate(resolve))
      counts.inFlight--
      const after = req.token ?? req.startAfter
      const entries: StorageEntry[] = []
      const prefixes: string[] = []
      let lo = 0
      let hi = sorted.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (after !== undefined ? compareKeys(sorted[mid], after) <= 0 : compareKeys(sorted[mid], req.prefix) < 0) lo = mid + 1
        else hi = mid
      }
      let last: string | undefined
      for (let i = lo; i < sorted.length && sorted[i].startsWith(req.prefix); i++) {
        const k = sorted[i]
        const slash = req.delimiter ? k.indexOf('/', req.prefix.length) : -1
        const item = slash >= 0 ? k.slice(0, slash + 1) : k
        if (slash >= 0 && prefixes.at(-1) === item) {
          last = k
          continue
        }
        if (entries.length + prefixes.length === (req.maxKeys ?? 1000)) return {entries, prefixes, next: last}
        if (slash >= 0) prefixes.push(item)
        else entries.push({key: k, size: k.length, lastModifiedMs: 0})
        last = k
      }
      return {entries, prefixes}
    }
    return {fetch, sorted, counts, log}
  }
  const shapes: Record<string, () => string[]> = {
    '100 folders of 1,000 keys': () => Array.from({length: 100_000}, (_, i) => `p${String(i % 100).padStart(3, '0')}/k${i}`),
    '20,000 folders of 3 keys': () => Array.from({length: 60_000}, (_, i) => `f${i % 20_000}/x${i}`),
    'a deep tree under one folder': () => Array.from({length: 40_000}, (_, i) => `packages/${i % 4}/${(i >> 2) % 50}/f${i}`),
    'a flat listing': () => Array.from({length: 20_000}, (_, i) => `h${((i * 2654435761) >>> 0).toString(16)}`),
    'a flat folder of numbered names': () => Array.from({length: 30_000}, (_, i) => `logs/k${String(i).padStart(5, '0')}.gz`),
  }
  it('by default a listing of up to 10 pages is read page after page (⌈N/1000⌉ requests); an 11th page starts the split', async function () {
    const saved = process.env.S3C_LIST_SEQUENTIAL_PAGES
    delete process.env.S3C_LIST_SEQUENTIAL_PAGES
    try {
      for (const [n, splits] of [[5_000, false], [10_000, false], [30_000, true]] as const) {
        const m = model(Array.from({length: n}, (_, i) => `p${String(i % 100).padStart(3, '0')}/k${i}`))
        const stats = newStats()
        let count = 0
        for await (const page of listInOrder(m.fetch, '', {concurrency: 32, stats})) count += page.length
        assert.equal(count, n)
        if (!splits) {
          assert.equal(m.counts.requests, pages(n), `${n} keys: ${m.counts.requests} requests`)
          assert.equal(m.counts.maxInFlight, 1)
        } else {
          assert.ok(stats.ranges > 1 && m.counts.maxInFlight > 1, `${n} keys: ${JSON.stringify(stats)}, ${m.counts.maxInFlight} in flight`)
          assert.ok(m.counts.requests <= pages(n) + stats.ranges + stats.endChecks + stats.delimiterPages)
        }
      }
    } finally {
      if (saved !== undefined) process.env.S3C_LIST_SEQUENTIAL_PAGES = saved
    }
  })

  it('a first page in few large folders asks the folders that follow at once (the probe): a long listing splits after one page, a short one stays sequential', async function () {
    const saved = process.env.S3C_LIST_SEQUENTIAL_PAGES
    delete process.env.S3C_LIST_SEQUENTIAL_PAGES
    // Folders of 1,000 keys, each folder's keys together: the first page is one folder.
    const folders = (n: number) => Array.from({length: n * 1000}, (_, i) => `p${String(Math.floor(i / 1000)).padStart(3, '0')}/k${String(i % 1000).padStart(3, '0')}`)
    try {
      for (const [n, splits] of [[5, false], [10, false], [30, true], [100, true]] as const) {
        const m = model(folders(n))
        const stats = newStats()
        const keys: string[] = []
        for await (const page of listInOrder(m.fetch, '', {concurrency: 32, stats})) for (const e of page) keys.push(e.key)
        assert.ok(keys.length === m.sorted.length && keys.every((k, i) => k === m.sorted[i]), `${n} folders: key for key`)
        // Pages of the top level's own listing (no delimiter, no folder prefix): read one after another.
        const topPages = m.log.filter(r => r.prefix === '' && !r.delimiter).length
        assert.equal(stats.delimiterPages, 1, `${n} folders: ${JSON.stringify(stats)}`)
        if (splits) {
          assert.equal(topPages, 1, `${n} folders: the split follows the first page`)
          assert.ok(m.counts.maxInFlight > Math.min(n, 32) / 2, `${n} folders: ${m.counts.maxInFlight} in flight`)
          // A page per folder, the probe, and the rest of the first folder after the first page.
          assert.ok(m.counts.requests <= n + 2, `${n} folders: ${m.counts.requests} requests`)
        } else {
          // The probe showed few folders: page after page, one request more than ⌈N/1000⌉.
          assert.equal(topPages, n)
          assert.equal(m.counts.requests, n + 1)
          assert.equal(stats.ranges, 0)
        }
      }
    } finally {
      if (saved !== undefined) process.env.S3C_LIST_SEQUENTIAL_PAGES = saved
    }
  })

  for (const [name, make] of Object.entries(shapes)) {
    it(`${name}: the sequential listing's keys, in order, within the request bound`, async function () {
      const m = model(make())
      const stats = newStats()
      const keys: string[] = []
      for await (const page of listInOrder(m.fetch, '', {concurrency: 32, stats})) for (const e of page) keys.push(e.key)
      assert.equal(keys.length, m.sorted.length)
      assert.ok(keys.every((k, i) => k === m.sorted[i]), 'key for key')
      const n = keys.length
      assert.ok(m.counts.requests <= pages(n) + stats.ranges + stats.endChecks + stats.delimiterPages, `${m.counts.requests} requests, ${JSON.stringify(stats)}`)
      assert.ok(m.counts.maxInFlight <= 32)
      if (name.startsWith('100 folders')) {
        assert.ok(m.counts.requests <= pages(n) + 4, `${m.counts.requests} requests`)
        assert.ok(m.counts.maxInFlight > 16, `${m.counts.maxInFlight} in flight`)
      }
      if (name.startsWith('20,000')) assert.ok(stats.ranges < 100, `${stats.ranges} ranges for 20,000 folders`)
      // A flat folder has no folder to split at: its key space is cut at guessed keys (keyBoundaries).
      if (name.startsWith('a flat')) {
        // (logs/ is found as the one folder by one delimiter page; inside it, no more.)
        assert.ok(stats.delimiterPages <= 1, JSON.stringify(stats))
        assert.ok(stats.ranges > 1 && m.counts.maxInFlight > 8, `${JSON.stringify(stats)}, ${m.counts.maxInFlight} in flight`)
      }
    })
  }

  it('cuts a flat folder after its first page at keys guessed from it: the next digit, the next one a place up', function () {
    const page = Array.from({length: 1000}, (_, i) => `ls/k${String(i).padStart(4, '0')}`)
    assert.deepEqual(keyBoundaries('ls/', page), ['ls/k1', 'ls/k2', 'ls/k3', 'ls/k4', 'ls/k5', 'ls/k6', 'ls/k7', 'ls/k8', 'ls/k9'])
    assert.deepEqual(keyBoundaries('ls/', page, 'ls/k3'), ['ls/k1', 'ls/k2'])
    // Hex names: the letters the page shows, every digit; a key outside ASCII is not cut inside.
    assert.deepEqual(keyBoundaries('', ['0a1', '0f3']), ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'f'])
    assert.deepEqual(keyBoundaries('', ['é1', 'é2']), [])
  })
})
