import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli} from './harness/cli.js'
import {newBucket} from './harness/hooks.js'
import {getObject, putObject} from './harness/objects.js'
import {compareTrees, seededBytes} from './harness/tree.js'
import {pyTar} from './harness/tarfile.js'

const MiB = 1024 * 1024

/** Writes a file of `size` bytes holding `segments` ([offset, length]) of data and holes elsewhere. */
function sparseFile(path: string, size: number, segments: [number, number][], seed: number): void {
  const fd = openSync(path, 'w')
  try {
    ftruncateSync(fd, size)
    segments.forEach(([at, length], i) => writeSync(fd, seededBytes(seed + i, length), 0, length, at))
  } finally {
    closeSync(fd)
  }
}

/** Real sizes by name, as GNU tar lists them (`tar -tvf`). */
function gnuSizes(tarPath: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of execFileSync('tar', ['-tvf', tarPath], {encoding: 'utf8'}).split('\n').filter(Boolean)) {
    const f = line.split(/\s+/)
    out.set(f.slice(5).join(' '), Number(f[2]))
  }
  return out
}

describe('sparse members (GNU tar --sparse, PAX 0.0/0.1/1.0, bsdtar)', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  let cache: string
  beforeEach(() => { cache = mk('cache') })
  const env = () => ({S3C_CACHE_DIR: cache})

  let src: string
  let bucket: string
  const sparseNames = ['holes.bin', 'end-hole.bin', 'all-hole.bin', 'dir/big-sparse.bin']
  before(async function () {
    src = mk('spsrc')
    mkdirSync(join(src, 'dir'))
    // 30 data runs: more than the 4 a GNU header holds, so extension blocks are needed.
    sparseFile(join(src, 'holes.bin'), 3 * MiB + 123, Array.from({length: 30}, (_, i) => [i * 100 * 1024, 4096] as [number, number]), 10)
    sparseFile(join(src, 'end-hole.bin'), 200_000, [[0, 8192]], 50)
    sparseFile(join(src, 'all-hole.bin'), MiB, [], 60)
    // 7 MiB of data in a 30 MiB file: extracted as a ranged, multi-part member.
    sparseFile(join(src, 'dir', 'big-sparse.bin'), 30 * MiB, Array.from({length: 14}, (_, i) => [i * 2 * MiB + 4096, 512 * 1024] as [number, number]), 70)
    writeFileSync(join(src, 'plain.txt'), 'not sparse\n')
    bucket = await newBucket('sparse')
  })

  const FORMATS: {name: string; make: (tarPath: string) => void}[] = [
    {name: 'gnu', make: t => execFileSync('tar', ['--sparse', '--format=gnu', '-cf', t, '-C', src, '.'])},
    {name: 'oldgnu', make: t => execFileSync('tar', ['--sparse', '--format=oldgnu', '-cf', t, '-C', src, '.'])},
    {name: 'posix 0.0', make: t => execFileSync('tar', ['--format=posix', '--sparse-version=0.0', '-cf', t, '-C', src, '.'])},
    {name: 'posix 0.1', make: t => execFileSync('tar', ['--format=posix', '--sparse-version=0.1', '-cf', t, '-C', src, '.'])},
    {name: 'posix 1.0', make: t => execFileSync('tar', ['--format=posix', '--sparse-version=1.0', '-cf', t, '-C', src, '.'])},
    {name: 'bsdtar (pax 1.0)', make: t => execFileSync('bsdtar', ['-cf', t, '-C', src, '.'])},
  ]

  for (const [i, format] of FORMATS.entries()) {
    it(`${format.name}: index and list-files show real names and sizes; download-all, download-single and tar extract rebuild the holes`, async function () {
      const tarPath = join(mk('sptar'), 'sparse.tar')
      format.make(tarPath)
      const realTotal = sparseNames.reduce((n, rel) => n + statSync(join(src, rel)).size, 0)
      assert.ok(statSync(tarPath).size < realTotal / 2, 'the archive really is sparse')
      const url = `s3://${bucket}/f${i}/sparse.tar`
      await putObject(bucket, `f${i}/sparse.tar`, readFileSync(tarPath))
      await putObject(bucket, `f${i}/plain.tar`, readFileSync(tarPath))
      const idx = await runCli(['index', url], {env: env()})
      assert.equal(idx.code, 0, idx.stderr)

      const want = gnuSizes(tarPath)
      const ls = await runCli(['list-files', url, '--long'], {env: env()})
      assert.equal(ls.code, 0, ls.stderr)
      const got = new Map(ls.stdout.trim().split('\n').map(l => {
        const f = l.split(/\s+/)
        return [f.slice(4).join(' '), Number(f[1])] as [string, number]
      }))
      assert.deepEqual(got, want)
      assert.ok(!ls.stdout.includes('GNUSparseFile'))

      const all = mk('spall')
      const r = await runCli(['download-all', url, all, '--multipart-threshold', '1MiB', '--part-size', '5MiB'], {env: env()})
      assert.equal(r.code, 0, r.stdout + r.stderr)
      assert.deepEqual(compareTrees(src, all), [])
      // Holes stay holes: the 1 MiB file of nothing takes no data blocks.
      assert.ok(statSync(join(all, 'all-hole.bin')).blocks * 512 < MiB)

      const one = mk('spone')
      for (const [j, rel] of sparseNames.entries()) {
        const s = await runCli(['download-single', url, `./${rel}`, '--out', join(one, `m${j}`)], {env: env()})
        assert.equal(s.code, 0, s.stderr)
        assert.ok(readFileSync(join(one, `m${j}`)).equals(readFileSync(join(src, rel))), rel)
      }

      const tx = mk('sptx')
      const t = await runCli(['tar', 'extract', '-f', `s3://${bucket}/f${i}/plain.tar`, '-C', tx], {env: env()})
      assert.equal(t.code, 0, t.stdout + t.stderr)
      assert.deepEqual(compareTrees(src, tx), [])
    })
  }

  it('download-single --stdout writes the holes as zeros', async function () {
    const tarPath = join(mk('spout'), 'sparse.tar')
    execFileSync('tar', ['--sparse', '--format=gnu', '-cf', tarPath, '-C', src, 'end-hole.bin', 'holes.bin'])
    await putObject(bucket, 'stdout/sparse.tar', readFileSync(tarPath))
    const url = `s3://${bucket}/stdout/sparse.tar`
    assert.equal((await runCli(['index', url], {env: env()})).code, 0)
    for (const rel of ['holes.bin', 'end-hole.bin']) {
      const piped = await runCli(['download-single', url, rel, '--stdout'], {env: env()})
      assert.equal(piped.code, 0, piped.stderr)
      assert.ok(piped.stdoutBytes.equals(readFileSync(join(src, rel))), rel)
    }
  })

  it('tar extract to S3 rebuilds small sparse members; a large one is refused with a clear line', async function () {
    const tarPath = join(mk('sps3'), 'sparse.tar')
    execFileSync('tar', ['--format=posix', '--sparse-version=1.0', '-cf', tarPath, '-C', src, '.'])
    await putObject(bucket, 's3x/sparse.tar', readFileSync(tarPath))
    const r = await runCli(['tar', 'extract', '-f', `s3://${bucket}/s3x/sparse.tar`, '-C', `s3://${bucket}/s3x-out/`], {env: env()})
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /failed: .*dir\/big-sparse\.bin: .*sparse member of 31457280 bytes/)
    for (const rel of ['holes.bin', 'end-hole.bin', 'all-hole.bin', 'plain.txt'])
      assert.ok((await getObject(bucket, `s3x-out/${rel}`)).equals(readFileSync(join(src, rel))), rel)
  })

  it('devices, FIFOs and multi-volume continuations are listed, skipped with a line each, and make the exit 1', async function () {
    const tarPath = join(mk('dev'), 'dev.tar')
    pyTar(tarPath, [
      {name: 'ok.txt', data: 'ok\n'},
      {name: 'fifo', type: 'fifo'},
      {name: 'null', type: 'chardev'},
      {name: 'sda', type: 'blockdev'},
      {name: 'after.txt', data: 'after\n'},
    ], 'gnu')
    await putObject(bucket, 'dev.tar', readFileSync(tarPath))
    const url = `s3://${bucket}/dev.tar`
    assert.equal((await runCli(['index', url], {env: env()})).code, 0)
    const ls = await runCli(['list-files', url], {env: env()})
    assert.deepEqual(ls.stdout.trim().split('\n'), ['ok.txt', 'fifo', 'null', 'sda', 'after.txt'])
    for (const args of [(d: string) => ['download-all', url, d], (d: string) => ['tar', 'extract', '-f', url, '-C', d]]) {
      const out = mk('devout')
      const r = await runCli(args(out), {env: env()})
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stderr, /failed: fifo: .*FIFO.*skipped/)
      assert.match(r.stderr, /failed: null: .*character device.*skipped/)
      assert.match(r.stderr, /failed: sda: .*block device.*skipped/)
      assert.equal(readFileSync(join(out, 'ok.txt'), 'utf8'), 'ok\n')
      assert.equal(readFileSync(join(out, 'after.txt'), 'utf8'), 'after\n')
    }

    // The second volume of a GNU multi-volume archive starts with the rest of a file.
    const mv = mk('mv')
    writeFileSync(join(mv, 'big.bin'), seededBytes(8, 30_000))
    writeFileSync(join(mv, 'small.txt'), 'small\n')
    execFileSync('tar', ['-c', '-M', '-L', '20', '-f', join(mv, 'v1.tar'), '-f', join(mv, 'v2.tar'), 'big.bin', 'small.txt'], {cwd: mv})
    await putObject(bucket, 'v2.tar', readFileSync(join(mv, 'v2.tar')))
    const v2 = `s3://${bucket}/v2.tar`
    assert.equal((await runCli(['index', v2], {env: env()})).code, 0)
    const out = mk('mvout')
    const r = await runCli(['download-all', v2, out], {env: env()})
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /failed: big\.bin: .*multi-volume.*skipped/)
    assert.equal(readFileSync(join(out, 'small.txt'), 'utf8'), 'small\n')
  })
})
