import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, spawnCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {getObject, putObject} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {compareTrees, makeTree, seededBytes} from './harness/tree.js'

const MiB = 1024 * 1024

/** GNU tar's member list (names as stored). */
function gnuList(tarPath: string): string[] {
  return execFileSync('tar', ['-tf', tarPath], {encoding: 'utf8'}).split('\n').filter(Boolean)
}

describe('indexed bundles', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  let cache: string
  beforeEach(() => { cache = mk('cache') })
  const env = () => ({S3C_CACHE_DIR: cache})

  describe('a deep tree of 1,000 files, 0-byte files, long unicode names and a 20 MiB file', function () {
    let src: string
    let bucket: string
    let rels: string[]
    before(async function () {
      src = mk('bsrc')
      rels = makeTree(src, {files: 1000, depth: 9, big: [{rel: 'big/twenty.bin', size: 20 * MiB}]})
      const longDir = `${'ü'.repeat(40)}-${'d'.repeat(80)}`
      mkdirSync(join(src, longDir), {recursive: true})
      const longName = `${longDir}/${'ñ'.repeat(30)}-${'f'.repeat(90)}.txt`
      writeFileSync(join(src, longName), 'a long name, over 100 bytes\n')
      rels.push(longName)
      chmodSync(join(src, rels[3]), 0o751)
      utimesSync(join(src, rels[3]), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'))
      bucket = await newBucket('bundle')
    })

    it('s3c bundle writes a tar that GNU tar and bsdtar extract to exactly the tree, modes and mtimes kept', async function () {
      const res = await runCli(['bundle', src, 'tree', '--bucket', bucket, '--prefix', 'bundles', '--part-size', '5MiB', '--json'], {env: env()})
      assert.equal(res.code, 0, res.stderr)
      const result = JSON.parse(res.stdout)
      assert.equal(result.bundle, 'tree')
      assert.equal(result.filesDone, rels.length)
      const tarPath = join(mk('tar'), 'bundle.tar')
      writeFileSync(tarPath, await getObject(bucket, 'bundles/tree/bundle.tar'))
      const out = mk('gnu')
      execFileSync('tar', ['-xf', tarPath, '-C', out])
      assert.deepEqual(compareTrees(src, out), [])
      const st = statSync(join(out, rels[3]))
      assert.equal(st.mode & 0o777, 0o751)
      assert.equal(st.mtimeMs, Date.parse('2020-01-02T03:04:05Z'))
      const bsd = mk('bsd')
      execFileSync('bsdtar', ['-xf', tarPath, '-C', bsd])
      assert.deepEqual(compareTrees(src, bsd), [])
      assert.equal(statSync(join(bsd, rels[3])).mode & 0o777, 0o751)
    })

    it('download-all reproduces the tree; download-single of every 50th file is byte-exact', async function () {
      const out = mk('all')
      const all = await runCli(['download-all', 'tree', out, '--bucket', bucket, '--prefix', 'bundles', '--part-size', '5MiB'], {env: env()})
      assert.equal(all.code, 0, all.stderr)
      assert.deepEqual(compareTrees(src, out), [])
      assert.equal(statSync(join(out, rels[3])).mode & 0o777, 0o751)

      const one = mk('one')
      const picks = rels.filter((_, i) => i % 50 === 0).concat(['big/twenty.bin', rels[rels.length - 1]])
      for (const [i, rel] of picks.entries()) {
        const dest = join(one, `f${i}`)
        const r = await runCli(['download-single', `s3://${bucket}/bundles/tree/bundle.tar`, rel, '--out', dest], {env: env()})
        assert.equal(r.code, 0, r.stderr)
        assert.ok(readFileSync(dest).equals(readFileSync(join(src, rel))), rel)
      }
      const r = await runCli(['download-single', 'tree', rels[3], '--out', join(one, 'mode'), '--bucket', bucket, '--prefix', 'bundles'], {env: env()})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(statSync(join(one, 'mode')).mode & 0o777, 0o751)
      assert.equal(statSync(join(one, 'mode')).mtimeMs, Date.parse('2020-01-02T03:04:05Z'))
    })

    it('list-files lists what tar -tf lists, from the index alone; a FILE/ argument extracts a folder', async function () {
      const proxy = await startProxy(harness().s3.endpoint)
      try {
        const ls = await runCli(['list-files', 'tree', '--bucket', bucket, '--prefix', 'bundles'], {env: {...env(), AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(ls.code, 0, ls.stderr)
        const tarPath = join(mk('tar2'), 'b.tar')
        writeFileSync(tarPath, await getObject(bucket, 'bundles/tree/bundle.tar'))
        assert.deepEqual(ls.stdout.trim().split('\n'), gnuList(tarPath))
        // Only the index was read.
        assert.equal(proxy.count('GET', r => r.path.endsWith('bundle.tar')), 0)
      } finally {
        await proxy.stop()
      }
      const folder = rels[5].split('/')[0]
      const out = mk('sub')
      const sub = await runCli(['download-single', 'tree', `${folder}/`, '--out', out, '--bucket', bucket, '--prefix', 'bundles'], {env: env()})
      assert.equal(sub.code, 0, sub.stderr)
      const want = rels.filter(r => r.startsWith(`${folder}/`))
      for (const rel of want) assert.ok(readFileSync(join(out, rel)).equals(readFileSync(join(src, rel))), rel)
      assert.equal(existsSync(join(out, rels.find(r => !r.startsWith(`${folder}/`))!)), false)
    })

    it('runs the tar-part jobs on a BullMQ worker with the same result', async function () {
      const worker = spawnCli(['worker', '--concurrency', '8'], {env: {S3C_REDIS_URL: harness().redis.url}})
      try {
        const res = await runCli(['bundle', src, 'viaredis', '--bucket', bucket, '--part-size', '5MiB', '--redis', harness().redis.url], {env: env()})
        assert.equal(res.code, 0, res.stderr)
        assert.match(res.stdout, new RegExp(`bundle: ${rels.length} done, 0 skipped, 0 failed`))
        const out = mk('redisall')
        assert.equal((await runCli(['download-all', 'viaredis', out, '--bucket', bucket], {env: env()})).code, 0)
        assert.deepEqual(compareTrees(src, out), [])
      } finally {
        worker.child.kill('SIGTERM')
        await worker.done
      }
    })
  })

  it('the design-card line: s3c download-single bundle small', async function () {
    const bucket = await newBucket('card')
    const src = mk('card')
    writeFileSync(join(src, 'small'), seededBytes(1, 100))
    writeFileSync(join(src, 'big'), seededBytes(2, 3 * MiB))
    assert.equal((await runCli(['bundle', src, 'bundle'], {env: {...env(), S3C_BUCKET: bucket}})).code, 0)
    const cwd = mk('cwd')
    const r = await runCli(['download-single', 'bundle', 'small'], {env: {...env(), S3C_BUCKET: bucket}, cwd})
    assert.equal(r.code, 0, r.stderr)
    assert.ok(readFileSync(join(cwd, 'small')).equals(seededBytes(1, 100)))
    const piped = await runCli(['download-single', 'bundle', 'small', '--stdout'], {env: {...env(), S3C_BUCKET: bucket}})
    assert.equal(piped.stdout, seededBytes(1, 100).toString())
    // A second bundle with the same id is refused without --force.
    const again = await runCli(['bundle', src, 'bundle'], {env: {...env(), S3C_BUCKET: bucket}})
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already exists.*--force/)
  })

  it('request counts on a 10,000-member bundle: a cold download-single ≤ 2 GETs, a warm one 1', async function () {
    this.timeout(240_000)
    const bucket = await newBucket('counts')
    const src = mk('tenk')
    for (let d = 0; d < 100; d++) {
      mkdirSync(join(src, `d${d}`))
      for (let f = 0; f < 100; f++) writeFileSync(join(src, `d${d}`, `f${f}.txt`), `member ${d}/${f}\n`)
    }
    assert.equal((await runCli(['bundle', src, 'tenk', '--bucket', bucket, '-q'], {env: env()})).code, 0)
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const e = {...env(), AWS_ENDPOINT_URL: proxy.endpoint}
      const out = mk('counted')
      const cold = await runCli(['download-single', 'tenk', 'd42/f17.txt', '--bucket', bucket, '--out', join(out, 'a')], {env: e})
      assert.equal(cold.code, 0, cold.stderr)
      assert.equal(readFileSync(join(out, 'a'), 'utf8'), 'member 42/17\n')
      assert.ok(proxy.count() <= 2, `cold lookup sent ${proxy.count()} requests`)
      assert.equal(proxy.count('GET'), proxy.count())
      proxy.reset()
      const warm = await runCli(['download-single', 'tenk', 'd7/f99.txt', '--bucket', bucket, '--out', join(out, 'b')], {env: e})
      assert.equal(warm.code, 0, warm.stderr)
      assert.equal(readFileSync(join(out, 'b'), 'utf8'), 'member 7/99\n')
      assert.equal(proxy.count(), 1)
    } finally {
      await proxy.stop()
    }
  })

  it('a bundle rebuilt under the same id: a warm cache does not mix the old index with the new (list-files, download-single)', async function () {
    const bucket = await newBucket('rebuilt')
    // The cache is per endpoint: every command through the one proxy, which counts the requests.
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const e = {...env(), AWS_ENDPOINT_URL: proxy.endpoint}
      const first = mk('rb1')
      for (const n of ['a.txt', 'b.txt']) writeFileSync(join(first, n), `first ${n}\n`)
      assert.equal((await runCli(['bundle', first, 'site', '--bucket', bucket, '-q'], {env: e})).code, 0)
      const before = await runCli(['list-files', 'site', '--bucket', bucket], {env: e})
      assert.deepEqual(before.stdout.trim().split('\n'), ['a.txt', 'b.txt'])
      // Other names, more of them: the new index's member list lies elsewhere than the cached front says.
      const second = mk('rb2')
      const names = Array.from({length: 40}, (_, i) => `folder-${i}/${'n'.repeat(60)}-${i}.txt`)
      for (const n of names) {
        mkdirSync(join(second, n, '..'), {recursive: true})
        writeFileSync(join(second, n), `second ${n}\n`)
      }
      assert.equal((await runCli(['bundle', second, 'site', '--bucket', bucket, '--force', '-q'], {env: e})).code, 0)
      const after = await runCli(['list-files', 'site', '--bucket', bucket], {env: e})
      assert.equal(after.code, 0, after.stderr)
      assert.deepEqual(after.stdout.trim().split('\n').filter(l => !l.endsWith('/')).sort(), [...names].sort())
      proxy.reset()
      const warm = await runCli(['list-files', 'site', '--bucket', bucket], {env: e})
      assert.equal(warm.code, 0, warm.stderr)
      assert.equal(proxy.count(), 1, 'the refreshed front is cached: one GET for the member list')
      // download-single from the warm cache of the second bundle, after a third build.
      assert.equal((await runCli(['bundle', first, 'site', '--bucket', bucket, '--force', '-q'], {env: e})).code, 0)
      const out = mk('rbout')
      const got = await runCli(['download-single', 'site', 'b.txt', '--bucket', bucket, '--out', join(out, 'b.txt')], {env: e})
      assert.equal(got.code, 0, got.stderr)
      assert.equal(readFileSync(join(out, 'b.txt'), 'utf8'), 'first b.txt\n')
    } finally {
      await proxy.stop()
    }
  })

  describe('s3c index over tars made by GNU tar', function () {
    let bucket: string
    let src: string
    before(async function () {
      bucket = await newBucket('index')
      src = mk('gsrc')
      makeTree(src, {files: 60, depth: 3})
      const longDir = join(src, 'l'.repeat(120))
      mkdirSync(longDir)
      writeFileSync(join(longDir, `${'n'.repeat(110)}.txt`), 'long\n')
      writeFileSync(join(src, 'empty'), '')
      symlinkSync('empty', join(src, 'link-to-empty'))
      writeFileSync(join(src, 'original'), 'hard linked\n')
      linkSync(join(src, 'original'), join(src, 'hardlink'))
    })

    for (const format of ['pax', 'gnu']) {
      it(`--format=${format}: list-files matches tar -tf, members extract byte-exact, links kept`, async function () {
        const tarPath = join(mk('gt'), `${format}.tar`)
        execFileSync('tar', [`--format=${format}`, '-cf', tarPath, '-C', src, '.'])
        await putObject(bucket, `${format}.tar`, readFileSync(tarPath))
        const url = `s3://${bucket}/${format}.tar`
        const idx = await runCli(['index', url, '--json'], {env: env()})
        assert.equal(idx.code, 0, idx.stderr)
        const ls = await runCli(['list-files', url], {env: env()})
        assert.equal(ls.code, 0, ls.stderr)
        assert.deepEqual(ls.stdout.trim().split('\n'), gnuList(tarPath))

        const out = mk('gall')
        const all = await runCli(['download-all', url, out], {env: env()})
        assert.equal(all.code, 0, all.stderr)
        assert.deepEqual(compareTrees(src, out), [])
        assert.equal(readlinkSync(join(out, 'link-to-empty')), 'empty')
        assert.equal(statSync(join(out, 'hardlink')).ino, statSync(join(out, 'original')).ino)

        const one = mk('gone')
        const names = gnuList(tarPath).filter(n => n.endsWith('.txt'))
        for (const [i, name] of names.filter((_, i) => i % 7 === 0).entries()) {
          const r = await runCli(['download-single', url, name, '--out', join(one, `m${i}`)], {env: env()})
          assert.equal(r.code, 0, r.stderr)
          assert.ok(readFileSync(join(one, `m${i}`)).equals(readFileSync(join(src, name))), name)
        }
        const hl = await runCli(['download-single', url, './hardlink', '--out', join(one, 'hl')], {env: env()})
        assert.equal(hl.code, 0, hl.stderr)
        assert.equal(readFileSync(join(one, 'hl'), 'utf8'), 'hard linked\n')
      })
    }

    it('reads no more than the headers of a tar whose members are ≥ 1 MiB', async function () {
      const big = mk('bigm')
      for (let i = 0; i < 8; i++) writeFileSync(join(big, `m${i}.bin`), seededBytes(100 + i, MiB + i * 4099))
      const tarPath = join(mk('bt'), 'big.tar')
      execFileSync('tar', ['--format=pax', '-cf', tarPath, '-C', big, '.'])
      await putObject(bucket, 'big.tar', readFileSync(tarPath))
      const idx = await runCli(['index', `s3://${bucket}/big.tar`, '--json'], {env: env()})
      assert.equal(idx.code, 0, idx.stderr)
      const r = JSON.parse(idx.stdout)
      const dataBytes = readdirSync(big).reduce((n, f) => n + Math.ceil(statSync(join(big, f)).size / 512) * 512, 0)
      const headerBytes = r.tarSize - dataBytes
      assert.ok(r.bytesRead <= headerBytes, `read ${r.bytesRead} bytes; the headers are ${headerBytes}`)
      const one = join(mk('bo'), 'x')
      assert.equal((await runCli(['download-single', `s3://${bucket}/big.tar`, './m5.bin', '--out', one], {env: env()})).code, 0)
      assert.ok(readFileSync(one).equals(readFileSync(join(big, 'm5.bin'))))
    })
  })

  describe('bad input: a clear error, nothing written outside the target', function () {
    let bucket: string
    before(async function () {
      bucket = await newBucket('bad')
      const src = mk('bsrc2')
      writeFileSync(join(src, 'a.txt'), 'a\n')
      assert.equal((await runCli(['bundle', src, 'good', '--bucket', bucket, '-q'], {env: env()})).code, 0)
    })

    it('a bundle id that does not exist', async function () {
      const r = await runCli(['download-single', 'nope', 'a.txt', '--bucket', bucket], {env: env()})
      assert.equal(r.code, 2)
      assert.match(r.stderr, /bundle "nope".*has no index.*s3c index/)
      assert.equal(r.stderr.trim().split('\n').length, 1)
    })

    it('a member that is not in the bundle', async function () {
      const cwd = mk('cwd2')
      const r = await runCli(['download-single', 'good', 'b.txt', '--bucket', bucket], {env: env(), cwd})
      assert.equal(r.code, 2)
      assert.match(r.stderr, /"b.txt" is not in bundle "good".*list-files/)
      assert.deepEqual(readdirSync(cwd), [])
    })

    it('a corrupt index', async function () {
      await putObject(bucket, 'corrupt/bundle.tar', Buffer.alloc(2048))
      await putObject(bucket, 'corrupt/bundle.tar.s3ci', seededBytes(5, 4000))
      const r = await runCli(['download-single', 'corrupt', 'a.txt', '--bucket', bucket], {env: env()})
      assert.equal(r.code, 2)
      assert.match(r.stderr, /index of bundle "corrupt".*not usable.*s3c index/)
    })

    it('a truncated tar, and an object that is not a tar', async function () {
      const tarPath = join(mk('tr'), 't.tar')
      const d = mk('trsrc')
      writeFileSync(join(d, 'x.bin'), seededBytes(9, 300_000))
      execFileSync('tar', ['-cf', tarPath, '-C', d, 'x.bin'])
      await putObject(bucket, 'trunc.tar', readFileSync(tarPath).subarray(0, 100_000))
      const t = await runCli(['index', `s3://${bucket}/trunc.tar`], {env: env()})
      assert.equal(t.code, 2)
      assert.match(t.stderr, /is truncated/)
      await putObject(bucket, 'random.tar', seededBytes(3, 10_000))
      const n = await runCli(['index', `s3://${bucket}/random.tar`], {env: env()})
      assert.equal(n.code, 2)
      assert.match(n.stderr, /is not a tar archive/)
    })

    it('members named ../../x and /etc/x, and a link that escapes, are refused', async function () {
      // Python's tarfile writes the names GNU tar would strip.
      const tarPath = join(mk('evil'), 'evil.tar')
      execFileSync('python3', ['-c', `
import tarfile, io
with tarfile.open(${JSON.stringify(tarPath)}, 'w', format=tarfile.PAX_FORMAT) as t:
    for name in ['ok.txt', '../../x', '/etc/x-s3c-test']:
        data = b'evil\\n'
        info = tarfile.TarInfo(name); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    link = tarfile.TarInfo('escape'); link.type = tarfile.SYMTYPE; link.linkname = '../../outside'
    t.addfile(link)
`])
      await putObject(bucket, 'evil.tar', readFileSync(tarPath))
      assert.equal((await runCli(['index', `s3://${bucket}/evil.tar`], {env: env()})).code, 0)
      const parent = mk('evilparent')
      const dest = join(parent, 'a', 'b')
      const r = await runCli(['download-all', `s3://${bucket}/evil.tar`, dest], {env: env()})
      assert.equal(r.code, 1)
      assert.match(r.stderr, /"\.\.\/\.\.\/x" would be written outside/)
      assert.match(r.stderr, /"\/etc\/x-s3c-test" would be written outside/)
      assert.match(r.stderr, /link "escape" -> "\.\.\/\.\.\/outside" points outside/)
      assert.equal(readFileSync(join(dest, 'ok.txt'), 'utf8'), 'evil\n')
      assert.deepEqual(readdirSync(parent), ['a'])
      assert.deepEqual(readdirSync(join(parent, 'a')), ['b'])
      assert.equal(existsSync('/etc/x-s3c-test'), false)
      assert.equal(lstatSync(dest).isDirectory(), true)
      assert.equal(existsSync(join(dest, 'escape')), false)
    })
  })
})
