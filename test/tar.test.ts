import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, utimesSync, writeFileSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {runCli, spawnCli} from './harness/cli.js'
import {waitFor} from './harness/wait.js'
import {harness, newBucket} from './harness/hooks.js'
import {copyObject, getObject, listKeys, putObject} from './harness/objects.js'
import {startProxy, type Proxy, type RecordedRequest} from './harness/proxy.js'
import {compareTrees, hashTree, seededBytes} from './harness/tree.js'

const MiB = 1024 * 1024
const KiB = 1024

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** Downloads every object under prefix into a local folder (names relative to the prefix), to compare trees. */
async function mirrorPrefix(bucket: string, prefix: string, dest: string): Promise<void> {
  for (const key of (await listKeys(bucket, prefix)).keys()) {
    const path = join(dest, key.slice(prefix.length))
    mkdirSync(dirname(path), {recursive: true})
    writeFileSync(path, await getObject(bucket, key))
  }
}

/** GNU tar extracts the archive; returns the folder. */
async function gnuExtract(bucket: string, key: string, dest: string): Promise<string> {
  const tarPath = `${dest}.tar`
  writeFileSync(tarPath, await getObject(bucket, key))
  mkdirSync(dest, {recursive: true})
  execFileSync('tar', ['-xf', tarPath, '-C', dest])
  return dest
}

/**
 * Multipart uploads the proxy saw started and never completed or aborted. fauxqs has no
 * ListMultipartUploads, so the proxy's record is how "nothing left behind" is checked.
 */
function openUploads(proxy: Proxy): string[] {
  const open = new Map<string, number>()
  for (const r of proxy.requests) {
    if (r.method === 'POST' && /(^|&)uploads(=|&|$)/.test(r.query)) open.set(r.path, (open.get(r.path) ?? 0) + 1)
    else if ((r.method === 'POST' || r.method === 'DELETE') && r.query.includes('uploadId=')) open.set(r.path, (open.get(r.path) ?? 0) - 1)
  }
  // (An upload both completed and then aborted — Ctrl-C while its Complete was in flight — ends twice: not a leak.)
  return [...open].filter(([, n]) => n > 0).map(([path, n]) => `${path} (${n})`)
}

/**
 * The successful requests of each kind the proxy saw, named as in `--stats`. (On Ceph RGW a copy
 * of a key with "%" fails once with 404 before the workaround in copyPart: not part of the plan.)
 */
function observedCounts(proxy: Proxy, sourcePrefix: string): Record<string, number> {
  const q = proxy.requests.filter(r => r.status !== undefined && r.status < 300)
  return {
    // one per source object, for its mtime metadata
    HeadObject: q.filter(r => r.method === 'HEAD' && r.path.startsWith(sourcePrefix)).length,
    CreateMultipartUpload: q.filter(r => r.method === 'POST' && /(^|&)uploads(=|&|$)/.test(r.query)).length,
    CompleteMultipartUpload: q.filter(r => r.method === 'POST' && r.query.includes('uploadId=')).length,
    UploadPartCopy: q.filter(isCopy).length,
    UploadPart: q.filter(r => r.method === 'PUT' && r.query.includes('partNumber=') && r.copySource === undefined).length,
    // the source objects, and toc.csv from the temporary object it is staged in
    GetObject: q.filter(r => r.method === 'GET' && (r.path.startsWith(sourcePrefix) || r.path.includes('.s3c-toc-'))).length,
    PutObject: q.filter(r => r.method === 'PUT' && !r.query.includes('partNumber=')).length,
    DeleteObjects: q.filter(r => r.method === 'POST' && /(^|&)delete(=|&|$)/.test(r.query)).length,
  }
}

/** The planned counts `--stats --json` printed, summed over the archives. */
function plannedCounts(stdout: string): Record<string, number> {
  const sum: Record<string, number> = {}
  for (const archive of JSON.parse(stdout).archives as {requests: Record<string, number>}[]) {
    for (const [k, v] of Object.entries(archive.requests)) if (k !== 'bytesDownloaded' && k !== 'temporaryObjects') sum[k] = (sum[k] ?? 0) + v
  }
  return sum
}

const isCopy = (r: RecordedRequest) => r.method === 'PUT' && r.copySource !== undefined && r.query.includes('partNumber=')

/** A source tree: 1,500 files of mixed sizes, keys with spaces and unicode; a few 6–12 MiB. */
function makeSource(root: string): Map<string, number> {
  const names = ['plain', 'with space', 'héllo wörld ✓', '日本語', 'Ünïcödé ✈', 'a+b=c', 'pct%20']
  const sizes = new Map<string, number>()
  const write = (rel: string, size: number, seed: number) => {
    const path = join(root, rel)
    mkdirSync(dirname(path), {recursive: true})
    const fd = openSync(path, 'w')
    for (let off = 0, n = 0; off < size; off += MiB, n++) writeSync(fd, seededBytes(seed * 131 + n, Math.min(MiB, size - off)))
    closeSync(fd)
    // A time far from the upload's, with a fraction: tar members must show it (whole seconds), not Last-Modified.
    utimesSync(path, 1_000_000_000 + seed, 1_000_000_000 + seed + 0.75)
    sizes.set(rel, size)
  }
  for (let i = 0; i < 1500; i++) {
    const dir = i % 3 === 0 ? '' : `${names[i % names.length]} ${i % 5}/${i % 2 ? 'deep/er/' : ''}`
    // 0 B, then 1 KiB … 64 KiB mostly, a few 1–4 MiB
    const size = i % 11 === 0 ? 0 : i % 97 === 0 ? (1 + (i % 4)) * MiB - 7 : KiB * (1 + (i * 37) % 64) + (i % 3)
    write(`${dir}${names[(i * 7) % names.length]} ${i}.bin`, size, i + 1)
  }
  const big = [6 * MiB, 5 * MiB, 7 * MiB + 123, 9 * MiB + 511, 12 * MiB]
  big.forEach((size, j) => write(`big/${j === 2 ? 'héllo wörld ' : ''}large ${j}.bin`, size, 9000 + j))
  return sizes
}

describe('s3c tar create | list | extract (archives built in S3)', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  let cache: string
  beforeEach(() => { cache = mk('cache') })

  let src: string
  let sizes: Map<string, number>
  let bucket: string
  let proxy: Proxy
  /** The CLI through the counting proxy. */
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, {env: {S3C_CACHE_DIR: cache, AWS_ENDPOINT_URL: proxy.endpoint, ...env}})

  before(async function () {
    src = mk('tsrc')
    sizes = makeSource(src)
    bucket = await newBucket('tar')
    const up = await runCli(['upload', src, `s3://${bucket}/src/`, '--quiet', '--part-size', '8MiB'])
    assert.equal(up.code, 0, up.stderr)
    proxy = await startProxy(harness().s3.endpoint)
  })
  after(async () => { await proxy?.stop() })
  beforeEach(() => proxy.reset())

  describe('from a prefix of 1,500 objects (0 B … 4 MiB, five of 5–12 MiB)', function () {
    before(async function () {
      const r = await runCli(['tar', 'create', '-f', `s3://${bucket}/archives/all.tar`, `s3://${bucket}/src/`, '--stats', '--part-size', '8MiB'],
        {env: {S3C_CACHE_DIR: cache, AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /1506 members/)
    })

    it('GNU tar extracts exactly the source objects, and toc.csv first', async function () {
      const out = await gnuExtract(bucket, 'archives/all.tar', join(mk('gx'), 'x'))
      const toc = readFileSync(join(out, 'toc.csv'), 'utf8')
      rmSync(join(out, 'toc.csv'))
      assert.deepEqual(compareTrees(src, out), [])
      const names = execFileSync('tar', ['-tf', `${out}.tar`], {encoding: 'utf8'}).split('\n').filter(Boolean)
      assert.equal(names[0], 'toc.csv', 'the TOC is the first member, as s3tar writes it')
      // toc.csv: name,offset,size,etag — the offsets point at the member's bytes in the archive.
      const rows = toc.trim().split('\n')
      assert.equal(rows.length, 1505)
      const fd = openSync(`${out}.tar`, 'r')
      try {
        for (const row of rows.filter((_, i) => i % 100 === 0)) {
          const m = /^(?:"((?:[^"]|"")*)"|([^,]*)),(\d+),(\d+),([0-9a-f-]*)$/.exec(row)
          assert.ok(m, `toc row ${row}`)
          const name = m[1]?.replace(/""/g, '"') ?? m[2]
          const [offset, size] = [Number(m[3]), Number(m[4])]
          assert.equal(size, sizes.get(name), name)
          const buf = Buffer.alloc(Math.min(size, 4096))
          readSync(fd, buf, 0, buf.length, offset)
          assert.ok(buf.equals(readFileSync(join(src, name)).subarray(0, buf.length)), `toc offset of ${name}`)
          assert.ok(m[5].length >= 32, 'etag without quotes')
        }
      } finally {
        closeSync(fd)
      }
    })

    it("members carry the objects' mtime metadata (GNU tar --full-time), not Last-Modified", async function () {
      const tarPath = join(mk('times'), 'all.tar')
      writeFileSync(tarPath, await getObject(bucket, 'archives/all.tar'))
      const listing = execFileSync('tar', ['--full-time', '-tvf', tarPath], {encoding: 'utf8', env: {...process.env, TZ: 'UTC'}, maxBuffer: 64 * MiB})
      const times = new Map<string, string>()
      for (const line of listing.split('\n').filter(Boolean)) {
        const m = /^\S+ \S+\s+\d+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (.*)$/.exec(line)
        assert.ok(m, line)
        times.set(m[2], m[1])
      }
      const utc = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')
      for (const rel of sizes.keys()) assert.equal(times.get(rel), utc(Math.floor(statSync(join(src, rel)).mtimeMs / 1000)), rel)
    })

    it('create again through the proxy: no GetObject on the ≥ 5 MiB objects, UploadPartCopy for each of them', async function () {
      const r = await cli(['tar', 'create', '-f', `s3://${bucket}/archives/again.tar`, `s3://${bucket}/src/`, '--part-size', '8MiB', '--stats', '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(observedCounts(proxy, `/${bucket}/src/`), plannedCounts(r.stdout), '--stats gives the requests that were sent')
      const bigKeys = [...sizes].filter(([, s]) => s >= 5 * MiB).map(([rel]) => `/${bucket}/src/${rel}`)
      assert.equal(bigKeys.length, 5)
      for (const k of bigKeys) {
        assert.equal(proxy.count('GET', r => r.path === k), 0, `GET on ${k}`)
        assert.ok(proxy.requests.some(r => isCopy(r) && r.copySource!.endsWith(k.slice(1))), `UploadPartCopy of ${k}`)
      }
      // A small object that straddles two parts is read by two ranged GETs: no byte is read twice.
      const reads = new Map<string, [number, number][]>()
      for (const q of proxy.requests) if (q.method === 'GET' && q.path.startsWith(`/${bucket}/src/`)) {
        const rel = q.path.slice(`/${bucket}/src/`.length)
        const m = /bytes=(\d+)-(\d+)/.exec(q.range ?? '')
        const range: [number, number] = m ? [Number(m[1]), Number(m[2]) + 1] : [0, sizes.get(rel)!]
        reads.set(rel, [...(reads.get(rel) ?? []), range])
      }
      for (const [rel, ranges] of reads) {
        ranges.sort((a, b) => a[0] - b[0])
        assert.equal(ranges.reduce((n, [a, b]) => n + b - a, 0), sizes.get(rel), `${rel} read exactly once: ${JSON.stringify(ranges)}`)
        for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i][0] >= ranges[i - 1][1], `${rel}: overlapping reads`)
      }
      assert.equal(reads.size, [...sizes.values()].filter(s => s > 0 && s < 5 * MiB).length, 'every non-empty small object read')
      assert.deepEqual(openUploads(proxy), [])
      assert.deepEqual([...(await listKeys(bucket, 'archives/')).keys()].filter(k => /s3c-(tmp|toc)/.test(k)), [], 'temporary objects deleted')
    })

    it('download-single and list-files use the archive\'s index', async function () {
      const ls = await cli(['list-files', `s3://${bucket}/archives/all.tar`])
      assert.equal(ls.code, 0, ls.stderr)
      assert.deepEqual(ls.stdout.split('\n').filter(Boolean).sort(), ['toc.csv', ...sizes.keys()].sort())
      assert.equal(proxy.count('GET', r => r.path.endsWith('/all.tar')), 0, 'list-files never reads the tar')
      const out = mk('ds')
      const picks = [...sizes.keys()].filter((_, i) => i % 150 === 0).concat([...sizes].filter(([, s]) => s >= 9 * MiB).map(([k]) => k))
      for (const [i, name] of picks.entries()) {
        const r = await cli(['download-single', `s3://${bucket}/archives/all.tar`, name, '--out', join(out, `f${i}`)])
        assert.equal(r.code, 0, r.stderr)
        assert.equal(sha(readFileSync(join(out, `f${i}`))), sha(readFileSync(join(src, name))), name)
      }
    })

    it('tar list names every member but the archive\'s toc.csv; --extended gives name,offset,size,etag', async function () {
      const r = await cli(['tar', 'list', '-f', `s3://${bucket}/archives/all.tar`])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), [...sizes.keys()].sort())
      const x = await cli(['tar', 'list', '-f', `s3://${bucket}/archives/all.tar`, '--extended'])
      assert.equal(x.code, 0, x.stderr)
      const line = x.stdout.split('\n').find(l => l.startsWith('big/large 4.bin,'))
      assert.match(line ?? '', /^big\/large 4\.bin,\d+,12582912,[0-9a-f]+-?\d*$/)
    })

    it('an archive with only s3tar\'s toc.csv (no s3c index): tar list and tar extract read the TOC', async function () {
      // What s3tar leaves: the same tar, toc.csv first, no .s3ci next to it.
      await copyObject(bucket, 'archives/all.tar', 'archives/s3tar-style.tar')
      const size = (await listKeys(bucket, 'archives/s3tar-style.tar')).get('archives/s3tar-style.tar')!
      proxy.reset()
      const r = await cli(['tar', 'list', '-f', `s3://${bucket}/archives/s3tar-style.tar`, '--extended'])
      assert.equal(r.code, 0, r.stderr)
      const rows = r.stdout.split('\n').filter(Boolean)
      assert.equal(rows.length, sizes.size, 'every object, from the TOC (which does not list itself)')
      assert.match(rows.find(l => l.startsWith('big/large 4.bin,')) ?? '', /^big\/large 4\.bin,\d+,12582912,[0-9a-f]+/)
      const tarBytes = proxy.requests.filter(q => q.method === 'GET' && q.path.endsWith('/s3tar-style.tar'))
        .reduce((n, q) => { const m = /bytes=(\d+)-(\d+)/.exec(q.range ?? ''); return n + (m ? Number(m[2]) - Number(m[1]) + 1 : size) }, 0)
      // The scanner's first window (1 MiB) and the TOC's bytes, out of a ~150 MB archive.
      assert.ok(tarBytes < 2 * 1024 * 1024 && tarBytes < size / 50, `read ${tarBytes} of ${size} bytes of the tar: the TOC, not the archive`)
      const dest = mk('tocx')
      const x = await cli(['tar', 'extract', '-f', `s3://${bucket}/archives/s3tar-style.tar`, '-C', dest, 'big/', 'with space 1/'])
      assert.equal(x.code, 0, x.stderr)
      for (const rel of hashTree(dest).keys()) assert.equal(sha(readFileSync(join(dest, rel))), sha(readFileSync(join(src, rel))), rel)
      assert.deepEqual([...hashTree(dest).keys()].sort(), [...sizes.keys()].filter(k => k.startsWith('big/') || k.startsWith('with space 1/')).sort())
      // The TOC lists no times: each member's comes from its header block (the object's mtime metadata, whole seconds).
      for (const rel of hashTree(dest).keys()) assert.equal(Math.floor(statSync(join(dest, rel)).mtimeMs / 1000), Math.floor(statSync(join(src, rel)).mtimeMs / 1000), rel)
    })

    it('tar extract to S3: the whole archive, one member, one prefix — server-side, byte-exact', async function () {
      const whole = await cli(['tar', 'extract', '-f', `s3://${bucket}/archives/all.tar`, '-C', `s3://${bucket}/restored/`])
      assert.equal(whole.code, 0, whole.stderr)
      const back = mk('rs')
      await mirrorPrefix(bucket, 'restored/', back)
      // Only members: the archive's own toc.csv is not restored as an object.
      assert.deepEqual(compareTrees(src, back), [])
      // Members ≥ 256 KiB are copied inside S3: no GET reads a byte of the 12 MiB one.
      const entry = (await cli(['tar', 'list', '-f', `s3://${bucket}/archives/all.tar`, '--extended'])).stdout.split('\n').find(l => l.startsWith('big/large 4.bin,'))!
      const [, at, len] = entry.split(',').map(Number)
      const tarGets = proxy.requests.filter(r => r.method === 'GET' && r.path.endsWith('/all.tar'))
      assert.ok(tarGets.length > 0 && tarGets.every(r => r.range), 'small members are fetched with ranged GETs')
      for (const r of tarGets) {
        const [a, b] = /bytes=(\d+)-(\d+)/.exec(r.range!)!.slice(1).map(Number)
        assert.ok(b < at || a >= at + len, `GET ${r.range} reads the 12 MiB member at ${at}`)
      }
      assert.ok(proxy.requests.some(r => isCopy(r) && r.path === `/${bucket}/restored/big/large 4.bin`))

      proxy.reset()
      const one = await cli(['tar', 'extract', '-f', `s3://${bucket}/archives/all.tar`, '-C', `s3://${bucket}/one/`, 'big/large 1.bin'])
      assert.equal(one.code, 0, one.stderr)
      assert.deepEqual([...(await listKeys(bucket, 'one/')).keys()], ['one/big/large 1.bin'])
      assert.equal(sha(await getObject(bucket, 'one/big/large 1.bin')), sha(readFileSync(join(src, 'big/large 1.bin'))))

      const pre = await cli(['tar', 'extract', '-f', `s3://${bucket}/archives/all.tar`, '-C', `s3://${bucket}/pre/`, 'with space 1/'])
      assert.equal(pre.code, 0, pre.stderr)
      const expected = [...sizes.keys()].filter(k => k.startsWith('with space 1/')).map(k => `pre/${k}`).sort()
      assert.ok(expected.length > 10)
      assert.deepEqual([...(await listKeys(bucket, 'pre/')).keys()].sort(), expected)
      for (const k of expected.slice(0, 20)) assert.equal(sha(await getObject(bucket, k)), sha(readFileSync(join(src, k.slice(4)))), k)
    })

    it('tar extract to a local folder: all, and a prefix matching whole path segments only', async function () {
      const dest = mk('lx')
      const r = await cli(['tar', 'extract', '-f', `s3://${bucket}/archives/all.tar`, '-C', dest])
      assert.equal(r.code, 0, r.stderr)
      // Only members, as to S3: no toc.csv.
      assert.deepEqual(compareTrees(src, dest), [])
      for (const rel of [...sizes.keys()].filter((_, i) => i % 50 === 0 || sizes.get(_)! >= 5 * MiB))
        assert.equal(Math.floor(statSync(join(dest, rel)).mtimeMs / 1000), Math.floor(statSync(join(src, rel)).mtimeMs / 1000), rel)
      const sub = mk('lxs')
      const s = await cli(['tar', 'extract', '-f', `s3://${bucket}/archives/all.tar`, '-C', sub, 'big/large 0.bin', 'with space 1'])
      assert.equal(s.code, 0, s.stderr)
      const got = [...hashTree(sub).keys()].sort()
      const want = [...sizes.keys()].filter(k => k === 'big/large 0.bin' || k.startsWith('with space 1/')).sort()
      assert.deepEqual(got, want, '"with space 1" does not match "with space 10…"')
    })

    it('the archive\'s toc.csv is extracted when named, to S3 and to a folder', async function () {
      const dest = mk('tocnamed')
      const r = await cli(['tar', 'extract', '-f', `s3://${bucket}/archives/all.tar`, '-C', dest, 'toc.csv'])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual([...hashTree(dest).keys()], ['toc.csv'])
      assert.equal(readFileSync(join(dest, 'toc.csv'), 'utf8').split('\n').filter(Boolean).length, sizes.size)
      const s3 = await cli(['tar', 'extract', '-f', `s3://${bucket}/archives/all.tar`, '-C', `s3://${bucket}/tocnamed/`, 'toc.csv'])
      assert.equal(s3.code, 0, s3.stderr)
      assert.deepEqual([...(await listKeys(bucket, 'tocnamed/')).keys()], ['tocnamed/toc.csv'])
      assert.ok((await getObject(bucket, 'tocnamed/toc.csv')).equals(readFileSync(join(dest, 'toc.csv'))))
    })
  })

  describe('from a manifest, split with --size-limit', function () {
    let manifestRows: string[]
    let picked: string[]
    before(function () {
      picked = [...sizes.keys()].filter((k, i) => i % 5 === 0 || sizes.get(k)! >= 5 * MiB)
      manifestRows = picked.map(k => [bucket, `src/${k}`, String(sizes.get(k))].map(f => (/[",]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(','))
    })

    async function checkSplit(base: string, count: number): Promise<void> {
      const keys = [...(await listKeys(bucket, `${base}.`)).keys()].filter(k => /\.\d\d\.tar$/.test(k)).sort()
      assert.ok(keys.length >= 3, `several archives: ${keys.join(' ')}`)
      const all = mk('mx')
      const listed: string[] = []
      for (const [i, key] of keys.entries()) {
        assert.equal(key, `${base}.${String(i + 1).padStart(2, '0')}.tar`)
        const ls = await cli(['list-files', `s3://${bucket}/${key}`])
        assert.equal(ls.code, 0, `${key} has its own index: ${ls.stderr}`)
        listed.push(...ls.stdout.split('\n').filter(n => n && n !== 'toc.csv'))
        await gnuExtract(bucket, key, join(all, `p${i}`))
      }
      assert.equal(listed.length, count)
      assert.deepEqual(listed.sort(), picked.map(k => `src/${k}`).sort(), 'manifest members are named by their full key')
      for (const k of picked.filter((_, i) => i % 10 === 0)) {
        const found = keys.map((_, i) => join(all, `p${i}`, 'src', k)).find(p => { try { readFileSync(p); return true } catch { return false } })
        assert.ok(found, k)
        assert.equal(sha(readFileSync(found)), sha(readFileSync(join(src, k))), k)
      }
    }

    it('a local manifest (with a header line and quoted keys) → archive.01.tar, .02, … each ≤ the limit and indexed', async function () {
      const path = join(mk('man'), 'manifest.csv')
      writeFileSync(path, `bucket,key,size\n${manifestRows.join('\n')}\n`)
      const r = await cli(['tar', 'create', '-f', `s3://${bucket}/split/local.tar`, '-m', path, '--size-limit', '16MiB', '--part-size', '8MiB'])
      assert.equal(r.code, 0, r.stderr)
      for (const [key, size] of await listKeys(bucket, 'split/local.')) if (key.endsWith('.tar'))
        assert.ok(size <= 16 * MiB || (await cli(['list-files', `s3://${bucket}/${key}`])).stdout.split('\n').filter(n => n && n !== 'toc.csv').length === 1,
          `${key} is ${size} bytes: over the limit only when it holds one object bigger than the limit`)
      await checkSplit('split/local', picked.length)
      assert.deepEqual(openUploads(proxy), [])
    })

    it('an s3:// manifest gives the same archives', async function () {
      await putObject(bucket, 'manifests/m.csv', Buffer.from(manifestRows.join('\n')))
      const r = await cli(['tar', 'create', '-f', `s3://${bucket}/split/remote.tar`, '-m', `s3://${bucket}/manifests/m.csv`, '--size-limit', '16MiB'])
      assert.equal(r.code, 0, r.stderr)
      await checkSplit('split/remote', picked.length)
    })
  })

  describe('modes, copy-range splitting and dry runs', function () {
    let subset: string[]
    before(async function () {
      // A smaller prefix: 40 small objects, a 0-byte one and two big ones.
      subset = [...sizes.keys()].filter((k, i) => (i % 37 === 0 && sizes.get(k)! < MiB) || k.startsWith('big/large 0') || k.startsWith('big/large 4'))
      const local = mk('sub')
      for (const k of subset) {
        mkdirSync(dirname(join(local, k)), {recursive: true})
        writeFileSync(join(local, k), readFileSync(join(src, k)))
      }
      const up = await runCli(['upload', local, `s3://${bucket}/sub/`, '--quiet', '--part-size', '8MiB'])
      assert.equal(up.code, 0, up.stderr)
    })

    const checkArchive = async (key: string, toc = true) => {
      const out = await gnuExtract(bucket, key, join(mk('mode'), 'x'))
      for (const k of subset) assert.equal(sha(readFileSync(join(out, k))), sha(readFileSync(join(src, k))), k)
      const ls = await cli(['list-files', `s3://${bucket}/${key}`])
      assert.equal(ls.code, 0, ls.stderr)
      assert.equal(ls.stdout.split('\n').filter(Boolean).length, subset.length + (toc ? 1 : 0))
    }

    it('--mode copy: no object is downloaded, small ones too enter by UploadPartCopy', async function () {
      const r = await cli(['tar', 'create', '-f', `s3://${bucket}/modes/copy.tar`, `s3://${bucket}/sub/`, '--mode', 'copy', '--stats', '--json'])
      assert.equal(r.code, 0, r.stderr + r.stdout)
      const gets = proxy.requests.filter(q => q.method === 'GET' && q.path.startsWith(`/${bucket}/sub/`))
      assert.deepEqual(gets, [], 'no source object is read')
      const small = subset.filter(k => sizes.get(k)! > 0 && sizes.get(k)! < MiB)
      for (const k of small) assert.ok(proxy.requests.some(q => isCopy(q) && q.copySource!.endsWith(`sub/${k}`)), `${k} copied`)
      assert.deepEqual(observedCounts(proxy, `/${bucket}/sub/`), plannedCounts(r.stdout), '--stats gives the requests that were sent')
      await checkArchive('modes/copy.tar')
      assert.deepEqual(openUploads(proxy), [])
      assert.deepEqual([...(await listKeys(bucket, 'modes/')).keys()].filter(k => /s3c-(tmp|toc)/.test(k)), [], 'temporary objects deleted')
    })

    it('runs on BullMQ workers (--redis, two worker processes): tar create in auto and copy mode, tar extract to S3', async function () {
      const redis = {S3C_REDIS_URL: harness().redis.url}
      const workers = [1, 2].map(() => spawnCli(['worker', '--concurrency', '4'], {env: {...redis, AWS_ENDPOINT_URL: proxy.endpoint}}))
      try {
        for (const mode of ['auto', 'copy']) {
          const r = await cli(['tar', 'create', '-f', `s3://${bucket}/modes/redis-${mode}.tar`, `s3://${bucket}/sub/`, '--mode', mode, '--redis', harness().redis.url])
          assert.equal(r.code, 0, r.stderr)
          await checkArchive(`modes/redis-${mode}.tar`)
        }
        const x = await cli(['tar', 'extract', '-f', `s3://${bucket}/modes/redis-auto.tar`, '-C', `s3://${bucket}/redis-out/`, '--redis', harness().redis.url])
        assert.equal(x.code, 0, x.stderr)
        for (const k of subset) assert.equal(sha(await getObject(bucket, `redis-out/${k}`)), sha(readFileSync(join(src, k))), k)
        assert.deepEqual(openUploads(proxy), [])
        assert.deepEqual([...(await listKeys(bucket, 'modes/')).keys()].filter(k => /s3c-(tmp|toc)/.test(k)), [], 'temporary objects deleted')
      } finally {
        for (const w of workers) w.child.kill('SIGTERM')
        await Promise.all(workers.map(w => w.done))
      }
    })

    it('--mode memory: no UploadPartCopy at all, the index is still written', async function () {
      const r = await cli(['tar', 'create', '-f', `s3://${bucket}/modes/memory.tar`, `s3://${bucket}/sub/`, '--mode', 'memory', '--no-toc', '--no-mtime-metadata'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(proxy.count('PUT', isCopy), 0)
      assert.equal(proxy.count('HEAD', r => r.path.startsWith(`/${bucket}/sub/`)), 0, '--no-mtime-metadata: Last-Modified from the listing, no HEADs')
      await checkArchive('modes/memory.tar', false)
    })

    it('--format gnu gives a tar GNU tar reads as GNU format', async function () {
      const r = await cli(['tar', 'create', '-f', `s3://${bucket}/modes/gnu.tar`, `s3://${bucket}/sub/`, '--format', 'gnu'])
      assert.equal(r.code, 0, r.stderr)
      await checkArchive('modes/gnu.tar')
      const head = (await getObject(bucket, 'modes/gnu.tar')).subarray(257, 265).toString('latin1')
      assert.equal(head, 'ustar  \0', 'GNU magic')
      const pax = (await getObject(bucket, 'modes/copy.tar')).subarray(257, 265).toString('latin1')
      assert.equal(pax, 'ustar\x0000', 'POSIX magic by default')
    })

    // A > 5 GiB object cannot be uploaded to the test server in reasonable time, so the 5 GiB
    // limit of one UploadPartCopy is lowered to 10 MiB by S3C_MAX_COPY_RANGE: the 12 MiB object
    // then takes the path a 12 GiB one takes against AWS.
    it('objects larger than the copy-range limit are copied in several ranges (limit lowered to 10 MiB)', async function () {
      const env = {S3C_MAX_COPY_RANGE: String(10 * MiB)}
      const r = await cli(['tar', 'create', '-f', `s3://${bucket}/modes/ranges.tar`, `s3://${bucket}/sub/`, '--part-size', '8MiB'], env)
      assert.equal(r.code, 0, r.stderr)
      const copies = proxy.requests.filter(q => isCopy(q) && q.copySource!.includes('large 4.bin'))
      assert.ok(copies.length >= 2, `12 MiB copied in ${copies.length} ranges`)
      for (const q of proxy.requests.filter(isCopy)) {
        const m = /bytes=(\d+)-(\d+)/.exec(q.copyRange ?? '')
        if (m) assert.ok(Number(m[2]) - Number(m[1]) + 1 <= 10 * MiB, `range ${q.copyRange}`)
      }
      await checkArchive('modes/ranges.tar')

      proxy.reset()
      const x = await cli(['tar', 'extract', '-f', `s3://${bucket}/modes/ranges.tar`, '-C', `s3://${bucket}/ranges-out/`, 'big/large 4.bin'], env)
      assert.equal(x.code, 0, x.stderr)
      const parts = proxy.requests.filter(q => isCopy(q) && q.path.endsWith('ranges-out/big/large 4.bin'))
      assert.ok(parts.length >= 2, `extract copied the member in ${parts.length} ranges`)
      assert.equal(sha(await getObject(bucket, 'ranges-out/big/large 4.bin')), sha(readFileSync(join(src, 'big/large 4.bin'))))
    })

    it('--dry-run prints the requests of each kind and writes nothing', async function () {
      const r = await cli(['tar', 'create', '-f', `s3://${bucket}/modes/dry.tar`, `s3://${bucket}/sub/`, '--dry-run'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /UploadPartCopy/)
      assert.match(r.stdout, /bytes downloaded/)
      assert.equal(proxy.count('PUT'), 0)
      assert.equal(proxy.count('POST'), 0)
      assert.equal((await listKeys(bucket, 'modes/dry')).size, 0)
    })
  })

  describe('bad input: a clear error, no multipart upload left behind', function () {
    const expectError = async (args: string[], pattern: RegExp) => {
      const r = await cli(args)
      assert.notEqual(r.code, 0, `${args.join(' ')} should fail`)
      assert.match(r.stderr, pattern)
      assert.ok(r.stderr.trim().split('\n').length <= 2, `short message: ${r.stderr}`)
      assert.deepEqual(openUploads(proxy), [], 'no multipart upload left open')
      return r
    }

    it('an empty source prefix', async function () {
      await expectError(['tar', 'create', '-f', `s3://${bucket}/bad/a.tar`, `s3://${bucket}/nothing-here/`], /nothing to archive/)
    })

    it('a manifest naming a missing object, or the wrong size', async function () {
      const dir = mk('badman')
      writeFileSync(join(dir, 'missing.csv'), `${bucket},src/plain 0.bin,0\n${bucket},src/not there.bin,5\n`)
      await expectError(['tar', 'create', '-f', `s3://${bucket}/bad/m.tar`, '-m', join(dir, 'missing.csv')], /not there\.bin does not exist/)
      const [name, size] = [...sizes].find(([, s]) => s > 1000)!
      writeFileSync(join(dir, 'size.csv'), `${bucket},src/${name},${size + 1}\n`)
      await expectError(['tar', 'create', '-f', `s3://${bucket}/bad/s.tar`, '-m', join(dir, 'size.csv')], /the manifest says/)
      await expectError(['tar', 'create', '-f', `s3://${bucket}/bad/s.tar`, '-m', join(dir, 'nope.csv')], /cannot read manifest/)
      assert.equal((await listKeys(bucket, 'bad/')).size, 0)
    })

    it('a destination bucket that does not exist', async function () {
      await expectError(['tar', 'create', '-f', 's3://s3c-no-such-bucket-xyz/a.tar', `s3://${bucket}/sub/`], /s3c-no-such-bucket-xyz/)
    })

    it('an archive that is not a tar', async function () {
      await putObject(bucket, 'bad/notatar.tar', Buffer.from('this is plainly not a tar archive\n'.repeat(40)))
      await expectError(['tar', 'list', '-f', `s3://${bucket}/bad/notatar.tar`], /not a tar/)
      const dest = mk('nx')
      await expectError(['tar', 'extract', '-f', `s3://${bucket}/bad/notatar.tar`, '-C', dest], /not a tar/)
      assert.deepEqual(hashTree(dest).size, 0)
    })

    it('a source object failing mid-run: the upload is aborted and temporary objects are deleted', async function () {
      const victim = subsetVictim()
      // Its HEAD (for the mtime metadata) failing stops the run before any upload starts.
      proxy.setFaults({alwaysFail: (p, r) => p === victim && r.method === 'HEAD'})
      try {
        const r = await cli(['tar', 'create', '-f', `s3://${bucket}/bad/fail.tar`, `s3://${bucket}/src/`, '--max-retry', '1'])
        assert.notEqual(r.code, 0)
        assert.match(r.stderr, /^s3c: .+\n$/)
        assert.equal(proxy.count('POST', r => /(^|&)uploads(=|&|$)/.test(r.query)), 0, 'no upload started')
      } finally {
        proxy.setFaults({})
      }
      proxy.reset()
      // Its data failing, mid-run.
      proxy.setFaults({alwaysFail: (p, r) => p === victim && r.method === 'GET'})
      try {
        const r = await cli(['tar', 'create', '-f', `s3://${bucket}/bad/fail.tar`, `s3://${bucket}/src/`, '--max-retry', '1'])
        assert.notEqual(r.code, 0)
      } finally {
        proxy.setFaults({})
      }
      assert.ok(proxy.count('POST', r => /(^|&)uploads(=|&|$)/.test(r.query)) >= 1, 'the run had started an upload')
      assert.ok(proxy.count('DELETE', r => r.path === `/${bucket}/bad/fail.tar` && r.query.includes('uploadId=')) >= 1, 'the archive\'s upload was aborted')
      assert.deepEqual(openUploads(proxy), [])
      assert.deepEqual([...(await listKeys(bucket, 'bad/')).keys()].filter(k => k.startsWith('bad/fail')), [], 'no archive, no temporary objects')
    })

    it('Ctrl-C in the middle of --mode copy: exit 130, the upload aborted, every temporary object deleted', async function () {
      const {child, done} = spawnCli(['tar', 'create', '-f', `s3://${bucket}/bad/int.tar`, `s3://${bucket}/src/`, '--mode', 'copy', '--thread-count', '4'],
        {env: {S3C_CACHE_DIR: cache, AWS_ENDPOINT_URL: proxy.endpoint}})
      // Wait until several temporary objects are finished (their uploads completed), then interrupt.
      await waitFor(() => proxy.count('POST', r => r.path.includes('.s3c-tmp-') && r.query.includes('uploadId=')) >= 5)
      child.kill('SIGINT')
      const r = await done
      assert.equal(r.code, 130, r.stderr)
      assert.deepEqual(openUploads(proxy), [])
      assert.deepEqual([...(await listKeys(bucket, 'bad/')).keys()].filter(k => k.startsWith('bad/int')), [], 'no archive, no temporary objects')
    })

    function subsetVictim(): string {
      const [name] = [...sizes].find(([, s]) => s > 1000 && s < MiB)!
      return `/${bucket}/src/${name}`
    }
  })

  describe("toc.csv: the archive's table of contents is no member; a user's file of that name is", function () {
    /** Members of `tar list`, and the files `tar extract` restores to a folder and to S3, of one archive. */
    async function seen(archive: string, s3Dest: string | undefined): Promise<{list: string[]; local: string[]; s3?: string[]}> {
      const ls = await runCli(['tar', 'list', '-f', archive])
      assert.equal(ls.code, 0, ls.stderr)
      const dest = mk('tocx')
      const x = await runCli(['tar', 'extract', '-f', archive, '-C', dest])
      assert.equal(x.code, 0, x.stderr)
      const out: {list: string[]; local: string[]; s3?: string[]} = {list: ls.stdout.split('\n').filter(Boolean).sort(), local: [...hashTree(dest).keys()].sort()}
      if (s3Dest) {
        const y = await runCli(['tar', 'extract', '-f', archive, '-C', s3Dest])
        assert.equal(y.code, 0, y.stderr)
        const {bucket: b, prefix} = /^s3:\/\/([^/]+)\/(.*)$/.exec(s3Dest)!.slice(1).reduce((o, v, i) => ({...o, [i ? 'prefix' : 'bucket']: v}), {} as {bucket: string; prefix: string})
        out.s3 = [...(await listKeys(b, prefix)).keys()].map(k => k.slice(prefix.length)).sort()
      }
      return out
    }

    it('an archive of tar create (TOC first): listed and extracted without it, in S3 (index), as a local tar and in S3 without its index (TOC)', async function () {
      const b = await newBucket('toc')
      for (const k of ['a.txt', 'd/b.txt', 'toc.csv']) await putObject(b, `src/${k}`, Buffer.from(`object ${k}\n`))
      const c = await runCli(['tar', 'create', '-f', `s3://${b}/arch.tar`, `s3://${b}/src/`])
      assert.equal(c.code, 0, c.stderr)
      // The TOC is first, and the user's object named toc.csv is a member after it.
      const local = join(mk('toclocal'), 'arch.tar')
      writeFileSync(local, await getObject(b, 'arch.tar'))
      const names = execFileSync('tar', ['-tf', local], {encoding: 'utf8'}).trim().split('\n')
      assert.equal(names[0], 'toc.csv')
      assert.deepEqual(names.slice(1).sort(), ['a.txt', 'd/b.txt', 'toc.csv'])
      const want = ['a.txt', 'd/b.txt', 'toc.csv']
      const fromIndex = await seen(`s3://${b}/arch.tar`, `s3://${b}/x1/`)
      assert.deepEqual(fromIndex, {list: want, local: want, s3: want})
      assert.deepEqual(await seen(local, undefined), {list: want, local: want})
      await copyObject(b, 'arch.tar', 'bare.tar')
      assert.deepEqual(await seen(`s3://${b}/bare.tar`, `s3://${b}/x2/`), {list: want, local: want, s3: want})
      // The user's toc.csv, not the archive's: its own bytes.
      assert.equal((await getObject(b, 'x1/toc.csv')).toString(), 'object toc.csv\n')
    })

    it('a GNU tar with a file named toc.csv (not a TOC, or not first): listed and extracted like any file', async function () {
      const dir = mk('gnutoc')
      mkdirSync(join(dir, 'in', 'd'), {recursive: true})
      writeFileSync(join(dir, 'in', 'a.txt'), 'a\n')
      writeFileSync(join(dir, 'in', 'toc.csv'), 'name,offset,size\nx,1,2\n')
      writeFileSync(join(dir, 'in', 'd', 'toc.csv'), 'a.txt,512,2\n')
      const b = await newBucket('gnutoc')
      const want = ['a.txt', 'd/toc.csv', 'toc.csv']
      for (const [name, order] of [['later.tar', ['a.txt', 'toc.csv', 'd/toc.csv']], ['first.tar', ['toc.csv', 'a.txt', 'd/toc.csv']]] as const) {
        const tarPath = join(dir, name)
        execFileSync('tar', ['--format=gnu', '-cf', tarPath, '--no-recursion', '-C', join(dir, 'in'), ...order])
        await putObject(b, name, readFileSync(tarPath))
        assert.deepEqual(await seen(`s3://${b}/${name}`, `s3://${b}/${name}.x/`), {list: want, local: want, s3: want}, name)
        assert.deepEqual(await seen(tarPath, undefined), {list: want, local: want}, `${name}, local`)
        assert.equal((await getObject(b, `${name}.x/toc.csv`)).toString(), 'name,offset,size\nx,1,2\n')
      }
    })
  })
})
