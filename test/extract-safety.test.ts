import assert from 'node:assert/strict'
import {existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, spawnCli, type CliResult} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {putObject} from './harness/objects.js'
import {seededBytes} from './harness/tree.js'
import {pyTar, snapshot, type PyMember} from './harness/tarfile.js'

const MiB = 1024 * 1024

/**
 * Crafted tars from the "Safety first" issue. Each runs against a destination three folders
 * down (top/l1/l2/dest) with victims one and two levels above it; nothing outside dest may
 * change, whatever the command prints.
 */
interface Case {
  name: string
  members: PyMember[]
  /** Failure lines (stderr) the run must print. */
  failures: RegExp[]
  /** Files that must arrive, relative to dest, with their content. */
  arrives: Record<string, string>
}

const CASES: Case[] = [
  {
    name: 'a chain of relative symlinks, each "inside" (a/b -> .., a/b/c -> ..), then a hard link under it',
    members: [
      {name: 'ok.txt', data: 'from the tar\n'},
      {name: 'a', type: 'dir'},
      {name: 'a/b', type: 'symlink', linkname: '..'},
      {name: 'a/b/c', type: 'symlink', linkname: '..'},
      {name: 'a/b/c/ok.txt', type: 'hardlink', linkname: 'ok.txt'},
      {name: 'a/b/c/new.txt', type: 'hardlink', linkname: 'ok.txt'},
    ],
    failures: [/failed: a\/b\/c: .*through the symlink a\/b/, /failed: a\/b\/c\/ok\.txt: .*through the symlink a\/b/, /failed: a\/b\/c\/new\.txt: .*through the symlink a\/b/],
    arrives: {'ok.txt': 'from the tar\n'},
  },
  {
    name: 'a deeper chain (two levels above DEST)',
    members: [
      {name: 'ok.txt', data: 'from the tar\n'},
      {name: 'a/b', type: 'symlink', linkname: '..'},
      {name: 'a/b/c', type: 'symlink', linkname: '..'},
      {name: 'a/b/c/d', type: 'symlink', linkname: '..'},
      {name: 'a/b/c/d/ok.txt', type: 'hardlink', linkname: 'ok.txt'},
      {name: 'a/b/c/d/deep.txt', type: 'hardlink', linkname: 'ok.txt'},
    ],
    failures: [/failed: a\/b\/c\/d\/ok\.txt: .*through the symlink a\/b/, /failed: a\/b\/c\/d\/deep\.txt: .*through the symlink a\/b/],
    arrives: {'ok.txt': 'from the tar\n'},
  },
  {
    name: 'a chain with regular files under it',
    members: [
      {name: 'a/b', type: 'symlink', linkname: '..'},
      {name: 'a/b/c', type: 'symlink', linkname: '..'},
      {name: 'a/b/c/ok.txt', data: 'written under the chain\n'},
      {name: 'keep.txt', data: 'keep\n'},
    ],
    failures: [/failed: a\/b: /, /failed: a\/b\/c: /],
    arrives: {'keep.txt': 'keep\n', 'a/b/c/ok.txt': 'written under the chain\n'},
  },
  {
    name: 'a link whose target climbs out through another link (x -> a/b/..), then members under it',
    members: [
      {name: 'ok.txt', data: 'from the tar\n'},
      {name: 'a', type: 'dir'},
      {name: 'a/b', type: 'symlink', linkname: '..'},
      {name: 'x', type: 'symlink', linkname: 'a/b/..'},
      {name: 'x/ok.txt', type: 'hardlink', linkname: 'ok.txt'},
    ],
    failures: [/failed: x: .*points outside/],
    arrives: {'ok.txt': 'from the tar\n'},
  },
]

describe('local writes never leave the destination', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  let cache: string
  beforeEach(() => { cache = mk('cache') })
  const env = () => ({S3C_CACHE_DIR: cache})

  /** top/l1/l2/dest with victims above dest; returns the paths and the picture of top without dest. */
  function arena(name: string) {
    const top = mk(name)
    const dest = join(top, 'l1', 'l2', 'dest')
    mkdirSync(dest, {recursive: true})
    writeFileSync(join(top, 'l1', 'l2', 'ok.txt'), 'victim one level up\n')
    writeFileSync(join(top, 'l1', 'ok.txt'), 'victim two levels up\n')
    return {top, dest, before: snapshot(top, dest)}
  }

  function assertContained(a: {top: string; dest: string; before: string[]}, r: CliResult, c: Case, label: string) {
    assert.deepEqual(snapshot(a.top, a.dest), a.before, `${label} / ${c.name}: something outside DEST changed\n${r.stdout}${r.stderr}`)
    assert.equal(r.code, 1, `${label} / ${c.name}: exit ${r.code}\n${r.stdout}${r.stderr}`)
    for (const f of c.failures) assert.match(r.stderr, f, `${label} / ${c.name}`)
    for (const [rel, content] of Object.entries(c.arrives)) assert.equal(readFileSync(join(a.dest, rel), 'utf8'), content, `${label} / ${c.name}: ${rel}`)
  }

  let bucket: string
  before(async function () {
    bucket = await newBucket('safety')
    for (const [i, c] of CASES.entries()) {
      const tarPath = join(mk('evil'), `case${i}.tar`)
      pyTar(tarPath, c.members)
      await putObject(bucket, `indexed/case${i}.tar`, readFileSync(tarPath))
      // tar extract reads a tar without an index by scanning its headers.
      await putObject(bucket, `plain/case${i}.tar`, readFileSync(tarPath))
      const idx = await runCli(['index', `s3://${bucket}/indexed/case${i}.tar`], {env: env()})
      assert.equal(idx.code, 0, idx.stderr)
    }
  })

  it('download-all: symlink chains, deeper chains and links with members under them write nothing outside DEST (exit 1, failures named)', async function () {
    for (const [i, c] of CASES.entries()) {
      const a = arena(`all${i}`)
      const r = await runCli(['download-all', `s3://${bucket}/indexed/case${i}.tar`, a.dest], {env: env()})
      assertContained(a, r, c, 'download-all')
    }
  })

  it('tar extract -C DIR: the same tars (read by scanning, no index) write nothing outside DIR', async function () {
    for (const [i, c] of CASES.entries()) {
      const a = arena(`tx${i}`)
      const r = await runCli(['tar', 'extract', '-f', `s3://${bucket}/plain/case${i}.tar`, '-C', a.dest], {env: env()})
      assertContained(a, r, c, 'tar extract')
    }
  })

  it('download-single in two steps (lnk, then lnk/) writes nothing outside, even when lnk is already there', async function () {
    const tarPath = join(mk('two'), 'two.tar')
    pyTar(tarPath, [
      {name: 'lnk', type: 'symlink', linkname: '..'},
      {name: 'lnk/ok.txt', data: 'through the link\n'},
      {name: 'inside', type: 'symlink', linkname: 'sub/..'},
      {name: 'sub/f.txt', data: 'f\n'},
      {name: 'inside/g.txt', data: 'through a link inside DEST\n'},
    ])
    await putObject(bucket, 'two.tar', readFileSync(tarPath))
    assert.equal((await runCli(['index', `s3://${bucket}/two.tar`], {env: env()})).code, 0)
    const url = `s3://${bucket}/two.tar`
    const a = arena('two')
    // Step 1: the link itself points outside the folder it would be written to.
    const one = await runCli(['download-single', url, 'lnk'], {env: env(), cwd: a.dest})
    assert.equal(one.code, 1, one.stderr)
    assert.match(one.stderr, /link "lnk" -> "\.\." points outside/)
    assert.equal(existsSync(join(a.dest, 'lnk')), false)
    // A link that stays inside is created.
    const ok = await runCli(['download-single', url, 'inside'], {env: env(), cwd: a.dest})
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(readlinkSync(join(a.dest, 'inside')), 'sub/..')
    // Step 2, with lnk made by another tool: nothing is written through it.
    symlinkSync('..', join(a.dest, 'lnk'))
    const before = snapshot(a.top, join(a.dest, 'lnk'))
    const two = await runCli(['download-single', url, 'lnk/', '--out', a.dest], {env: env()})
    assert.equal(two.code, 1, two.stderr)
    assert.match(two.stderr, /through the symlink lnk/)
    assert.deepEqual(snapshot(a.top, join(a.dest, 'lnk')), before)
    assert.equal(readFileSync(join(a.top, 'l1', 'l2', 'ok.txt'), 'utf8'), 'victim one level up\n')
    // The same through a link that is inside DEST: still not written through.
    const three = await runCli(['download-single', url, 'inside/', '--out', a.dest], {env: env()})
    assert.equal(three.code, 1, three.stderr)
    assert.match(three.stderr, /through the symlink inside/)
    assert.equal(existsSync(join(a.dest, 'g.txt')), false)
  })

  /** DEST with a symlinked folder and a symlinked file pointing outside; `outside` holds the victims. */
  function withExistingLinks(name: string) {
    const top = mk(name)
    const outside = join(top, 'outside')
    const dest = join(top, 'dest')
    mkdirSync(outside)
    mkdirSync(dest)
    writeFileSync(join(outside, 'victim.txt'), 'victim\n')
    symlinkSync(outside, join(dest, 'sub'))
    symlinkSync(join(outside, 'victim.txt'), join(dest, 'top.txt'))
    return {top, outside, dest, before: snapshot(outside)}
  }

  function assertExistingLinksHeld(w: ReturnType<typeof withExistingLinks>, r: CliResult, prefix: string) {
    assert.deepEqual(snapshot(w.outside), w.before, `outside changed\n${r.stdout}${r.stderr}`)
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, new RegExp(`failed: ${prefix}sub/x\\.txt: .*through the symlink sub`))
    assert.match(r.stderr, new RegExp(`failed: ${prefix}sub/big\\.bin: .*through the symlink sub`))
    // The file link was replaced by the file, not written through.
    assert.equal(lstatSync(join(w.dest, 'top.txt')).isFile(), true)
    assert.equal(readFileSync(join(w.dest, 'top.txt'), 'utf8'), 'top\n')
    assert.equal(readFileSync(join(w.dest, 'ok.txt'), 'utf8'), 'ok\n')
    assert.deepEqual(readdirSync(w.dest).filter(n => n.includes('.s3c-')), [])
  }

  describe('an existing symlink in DEST is never written through', function () {
    let tarUrl: string
    let prefix: string
    before(async function () {
      // A tar with sub/x.txt, sub/big.bin (2 MiB: a ranged, multi-part member), top.txt, ok.txt.
      const src = mk('exsrc')
      mkdirSync(join(src, 'sub'))
      writeFileSync(join(src, 'sub', 'x.txt'), 'x\n')
      writeFileSync(join(src, 'sub', 'big.bin'), seededBytes(4, 2 * MiB))
      writeFileSync(join(src, 'top.txt'), 'top\n')
      writeFileSync(join(src, 'ok.txt'), 'ok\n')
      assert.equal((await runCli(['bundle', src, 'existing', '--bucket', bucket, '-q'], {env: env()})).code, 0)
      tarUrl = `s3://${bucket}/existing/bundle.tar`
      prefix = 'objects'
      const up = await runCli(['upload', src, `s3://${bucket}/${prefix}`, '-q'])
      assert.equal(up.code, 0, up.stderr)
    })

    it('download-all and tar extract -C (in-process)', async function () {
      const w = withExistingLinks('exall')
      assertExistingLinksHeld(w, await runCli(['download-all', tarUrl, w.dest, '--multipart-threshold', '1MiB'], {env: env()}), '')
      const x = withExistingLinks('extx')
      assertExistingLinksHeld(x, await runCli(['tar', 'extract', '-f', tarUrl, '-C', x.dest], {env: env()}), '')
    })

    it('download (objects to files), small and multi-part objects', async function () {
      const w = withExistingLinks('exdl')
      assertExistingLinksHeld(w, await runCli(['download', `s3://${bucket}/${prefix}`, w.dest, '--multipart-threshold', '1MiB']), `${prefix}/`)
    })

    it('download and download-all on a BullMQ worker (--redis): the check holds in the job handlers', async function () {
      const worker = spawnCli(['worker', '--concurrency', '8'], {env: {S3C_REDIS_URL: harness().redis.url}})
      try {
        const w = withExistingLinks('exdlr')
        assertExistingLinksHeld(w, await runCli(['download', `s3://${bucket}/${prefix}`, w.dest, '--multipart-threshold', '1MiB', '--redis', harness().redis.url]), `${prefix}/`)
        const x = withExistingLinks('exallr')
        assertExistingLinksHeld(x, await runCli(['download-all', tarUrl, x.dest, '--multipart-threshold', '1MiB', '--redis', harness().redis.url], {env: env()}), '')
      } finally {
        worker.child.kill('SIGTERM')
        await worker.done
      }
    })
  })

  describe('a local file where a folder is needed fails only the files under it', function () {
    let src: string
    let bucket2: string
    before(async function () {
      src = mk('blk')
      for (let i = 0; i < 200; i++) writeFileSync(join(src, `f${i}.txt`), `file ${i}\n`)
      mkdirSync(join(src, 'blocked', 'deeper'), {recursive: true})
      writeFileSync(join(src, 'blocked', 'a.txt'), 'a\n')
      writeFileSync(join(src, 'blocked', 'deeper', 'b.txt'), 'b\n')
      writeFileSync(join(src, 'blocked', 'big.bin'), seededBytes(5, 2 * MiB))
      bucket2 = await newBucket('blocked')
      assert.equal((await runCli(['upload', src, `s3://${bucket2}/p`, '-q'])).code, 0)
      assert.equal((await runCli(['bundle', src, 'blk', '--bucket', bucket2, '-q'], {env: env()})).code, 0)
    })

    function blockedDest(name: string): string {
      const dest = mk(name)
      writeFileSync(join(dest, 'blocked'), 'a file, not a folder\n')
      return dest
    }

    /** download fails the three files under blocked/; download-all also the folder members blocked/ and blocked/deeper/. */
    function assertOnlyBlockedFailed(dest: string, r: CliResult, prefix: string, failed = 3) {
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stdout, new RegExp(`200 done, 0 skipped, ${failed} failed`))
      for (const rel of ['blocked/a.txt', 'blocked/deeper/b.txt', 'blocked/big.bin'])
        assert.match(r.stderr, new RegExp(`failed: ${prefix}${rel.replace('.', '\\.')}: .*blocked is a file`))
      for (let i = 0; i < 200; i++) assert.equal(readFileSync(join(dest, `f${i}.txt`), 'utf8'), `file ${i}\n`)
      assert.equal(readFileSync(join(dest, 'blocked'), 'utf8'), 'a file, not a folder\n')
    }

    it('download, in-process', async function () {
      const dest = blockedDest('blkdl')
      assertOnlyBlockedFailed(dest, await runCli(['download', `s3://${bucket2}/p`, dest, '--multipart-threshold', '1MiB']), 'p/')
    })

    it('download-all, in-process', async function () {
      const dest = blockedDest('blkall')
      assertOnlyBlockedFailed(dest, await runCli(['download-all', 'blk', dest, '--bucket', bucket2, '--multipart-threshold', '1MiB'], {env: env()}), '', 5)
    })

    it('download and download-all on a BullMQ worker (--redis)', async function () {
      const worker = spawnCli(['worker', '--concurrency', '8'], {env: {S3C_REDIS_URL: harness().redis.url}})
      try {
        const dest = blockedDest('blkdlr')
        assertOnlyBlockedFailed(dest, await runCli(['download', `s3://${bucket2}/p`, dest, '--multipart-threshold', '1MiB', '--redis', harness().redis.url]), 'p/')
        const dest2 = blockedDest('blkallr')
        assertOnlyBlockedFailed(dest2, await runCli(['download-all', 'blk', dest2, '--bucket', bucket2, '--multipart-threshold', '1MiB', '--redis', harness().redis.url], {env: env()}), '', 5)
      } finally {
        worker.child.kill('SIGTERM')
        await worker.done
      }
    })
  })

  describe('names and headers (issue item 9)', function () {
    it('duplicate member names: the last one wins in download-single, download-all and tar extract', async function () {
      const tarPath = join(mk('dup'), 'dup.tar')
      pyTar(tarPath, [
        {name: 'dup.txt', data: 'first\n'},
        {name: 'd/x.txt', data: 'first x\n'},
        {name: 'other.txt', data: 'other\n'},
        {name: 'dup.txt', data: 'second\n'},
        {name: './d/x.txt', data: 'second x\n'},
      ])
      await putObject(bucket, 'dup.tar', readFileSync(tarPath))
      await putObject(bucket, 'dup-plain.tar', readFileSync(tarPath))
      const url = `s3://${bucket}/dup.tar`
      assert.equal((await runCli(['index', url], {env: env()})).code, 0)
      const one = mk('dup1')
      const s = await runCli(['download-single', url, 'dup.txt', '--out', join(one, 'a')], {env: env()})
      assert.equal(s.code, 0, s.stderr)
      assert.equal(readFileSync(join(one, 'a'), 'utf8'), 'second\n')
      const sx = await runCli(['download-single', url, 'd/x.txt', '--out', join(one, 'b')], {env: env()})
      assert.equal(sx.code, 0, sx.stderr)
      assert.equal(readFileSync(join(one, 'b'), 'utf8'), 'second x\n')
      const all = mk('dupall')
      const r = await runCli(['download-all', url, all], {env: env()})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(readFileSync(join(all, 'dup.txt'), 'utf8'), 'second\n')
      assert.equal(readFileSync(join(all, 'd', 'x.txt'), 'utf8'), 'second x\n')
      const tx = mk('duptx')
      const t = await runCli(['tar', 'extract', '-f', `s3://${bucket}/dup-plain.tar`, '-C', tx], {env: env()})
      assert.equal(t.code, 0, t.stderr)
      assert.equal(readFileSync(join(tx, 'dup.txt'), 'utf8'), 'second\n')
      assert.equal(readFileSync(join(tx, 'd', 'x.txt'), 'utf8'), 'second x\n')
      const folder = mk('dupfolder')
      const f = await runCli(['download-single', url, 'd/', '--out', folder], {env: env()})
      assert.equal(f.code, 0, f.stderr)
      assert.equal(readFileSync(join(folder, 'd', 'x.txt'), 'utf8'), 'second x\n')
    })

    it('./x/./y.txt and x//z.txt land at x/y.txt and x/z.txt (not "outside DEST")', async function () {
      const tarPath = join(mk('dots'), 'dots.tar')
      pyTar(tarPath, [{name: './x/./y.txt', data: 'y\n'}, {name: 'x//z.txt', data: 'z\n'}])
      await putObject(bucket, 'dots.tar', readFileSync(tarPath))
      const url = `s3://${bucket}/dots.tar`
      assert.equal((await runCli(['index', url], {env: env()})).code, 0)
      const all = mk('dotsall')
      const r = await runCli(['download-all', url, all], {env: env()})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(readFileSync(join(all, 'x', 'y.txt'), 'utf8'), 'y\n')
      assert.equal(readFileSync(join(all, 'x', 'z.txt'), 'utf8'), 'z\n')
      const tx = mk('dotstx')
      const t = await runCli(['tar', 'extract', '-f', url, '-C', tx], {env: env()})
      assert.equal(t.code, 0, t.stderr)
      assert.equal(readFileSync(join(tx, 'x', 'y.txt'), 'utf8'), 'y\n')
      const one = mk('dotsone')
      const s = await runCli(['download-single', url, './x/./y.txt'], {env: env(), cwd: one})
      assert.equal(s.code, 0, s.stderr)
      assert.equal(readFileSync(join(one, 'y.txt'), 'utf8'), 'y\n')
    })

    it('a size field of garbage is refused as a corrupt header, not read as 0', async function () {
      const tarPath = join(mk('garbage'), 'g.tar')
      // b.txt's data is NULs: read with size 0, its data block would pass for the end of the archive.
      pyTar(tarPath, [{name: 'a.txt', data: 'aaaa\n'}, {name: 'b.txt', data: '\0'.repeat(5)}], 'ustar')
      const buf = readFileSync(tarPath)
      // The second header (after a.txt's header and its one data block): size "zz9" with a valid checksum.
      const at = 1024
      buf.write('zz9\0\0\0\0\0\0\0\0\0', at + 124, 'latin1')
      buf.fill(0x20, at + 148, at + 156)
      let sum = 0
      for (let i = 0; i < 512; i++) sum += buf[at + i]
      buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1')
      await putObject(bucket, 'garbage.tar', buf)
      const r = await runCli(['index', `s3://${bucket}/garbage.tar`], {env: env()})
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /corrupt: .*size field .*offset 1024/)
      assert.equal(r.stderr.trim().split('\n').length, 1)
      const l = await runCli(['tar', 'list', '-f', `s3://${bucket}/garbage.tar`], {env: env()})
      assert.equal(l.code, 2, l.stderr)
      assert.match(l.stderr, /size field/)
    })

    it('a gzip\'d tar and a text file: "not a tar archive (gzip-compressed?)", not "truncated"', async function () {
      const d = mk('gz')
      writeFileSync(join(d, 'small.txt'), 'hello\n')
      writeFileSync(join(d, 'big.bin'), seededBytes(6, 100_000))
      const {execFileSync} = await import('node:child_process')
      execFileSync('tar', ['-czf', join(d, 'small.tar.gz'), '-C', d, 'small.txt'])
      execFileSync('tar', ['-czf', join(d, 'big.tar.gz'), '-C', d, 'big.bin'])
      execFileSync('tar', ['-cJf', join(d, 'big.tar.xz'), '-C', d, 'big.bin'])
      await putObject(bucket, 'small.tar.gz', readFileSync(join(d, 'small.tar.gz')))
      await putObject(bucket, 'big.tar.gz', readFileSync(join(d, 'big.tar.gz')))
      await putObject(bucket, 'big.tar.xz', readFileSync(join(d, 'big.tar.xz')))
      await putObject(bucket, 'notes.txt', Buffer.from('just some text, not a tar\n'))
      for (const [key, want] of [['small.tar.gz', /not a tar archive \(gzip-compressed\?/], ['big.tar.gz', /not a tar archive \(gzip-compressed\?/],
        ['big.tar.xz', /not a tar archive \(xz-compressed\?/], ['notes.txt', /not a tar archive/]] as const) {
        const r = await runCli(['index', `s3://${bucket}/${key}`], {env: env()})
        assert.equal(r.code, 2, r.stderr)
        assert.match(r.stderr, want, key)
        assert.doesNotMatch(r.stderr, /truncated/, key)
        const l = await runCli(['tar', 'list', '-f', `s3://${bucket}/${key}`], {env: env()})
        assert.equal(l.code, 2, l.stderr)
        assert.match(l.stderr, want, `tar list ${key}`)
      }
      // A local file too.
      const r = await runCli(['index', join(d, 'small.tar.gz')], {env: env()})
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /gzip-compressed/)
    })
  })
})
