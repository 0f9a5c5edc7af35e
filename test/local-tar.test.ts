import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {chmodSync, closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, writeSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, spawnCli, type CliOptions} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {compareTrees, makeTree, seededBytes} from './harness/tree.js'

const MiB = 1024 * 1024

/** GNU tar's member list (names as stored). */
function gnuList(tarPath: string): string[] {
  return execFileSync('tar', ['-tf', tarPath], {encoding: 'utf8'}).split('\n').filter(Boolean)
}

/** Size by name (links as "name -> target"), as GNU tar lists them (`tar -tvf`). */
function gnuSizes(tarPath: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of execFileSync('tar', ['-tvf', tarPath], {encoding: 'utf8'}).split('\n').filter(Boolean)) {
    const f = line.split(/\s+/)
    out.set(f.slice(5).join(' '), Number(f[2]))
  }
  return out
}

/** A loopback port nothing listens on: every request to it is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as {port: number}).port
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

describe('local tars: index, list-files, download-single, download-all, tar list, tar extract (no S3)', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }

  let src: string
  let work: string
  let cache: string
  let deadEndpoint: string
  let rels: string[]
  /** Every command runs in `work` (where the tars are) against an S3 endpoint that refuses connections. */
  const run = (args: string[], opts: CliOptions = {}) =>
    runCli(args, {cwd: work, ...opts, env: {S3C_CACHE_DIR: cache, AWS_ENDPOINT_URL: deadEndpoint, S3C_BUCKET: undefined, ...opts.env}})

  before(async function () {
    deadEndpoint = `http://127.0.0.1:${await closedPort()}`
    src = mk('lsrc')
    rels = makeTree(src, {files: 300, depth: 5, big: [{rel: 'big/twenty.bin', size: 20 * MiB}, {rel: 'big/six.bin', size: 6 * MiB}]})
    symlinkSync('../big/twenty.bin', join(src, 'plain d0-0') + '/to-big')
    chmodSync(join(src, rels[3]), 0o751)
    utimesSync(join(src, rels[3]), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'))
    // A sparse file of 12 MiB with 3 MiB of data: a ranged (multi-part) member whose runs land at their offsets.
    const fd = openSync(join(src, 'big', 'sparse.bin'), 'w')
    ftruncateSync(fd, 12 * MiB)
    for (let i = 0; i < 6; i++) writeSync(fd, seededBytes(500 + i, 512 * 1024), 0, 512 * 1024, i * 2 * MiB + 8192)
    closeSync(fd)
    work = mk('lwork')
    execFileSync('tar', ['--sparse', '--format=gnu', '-cf', join(work, 'x.tar'), '-C', src, '.'])
    cache = mk('lcache')
  })

  it('s3c index x.tar, then list-files lists the names and --long sizes tar -tvf lists, with S3 unreachable', async function () {
    const idx = await run(['index', 'x.tar'])
    assert.equal(idx.code, 0, idx.stderr)
    const ls = await run(['list-files', 'x.tar'])
    assert.equal(ls.code, 0, ls.stderr)
    const tarPath = join(work, 'x.tar')
    assert.deepEqual(ls.stdout.trim().split('\n'), gnuList(tarPath))
    // The same through the other spellings of a local path.
    for (const arg of ['./x.tar', tarPath, 'x.tar.s3ci']) {
      const r = await run(['list-files', arg, 'big'])
      assert.equal(r.code, 0, `${arg}: ${r.stderr}`)
      assert.deepEqual(r.stdout.trim().split('\n'), gnuList(tarPath).filter(n => n.startsWith('./big/')), arg)
    }
    const long = await run(['list-files', 'x.tar', '--long'])
    assert.equal(long.code, 0, long.stderr)
    const sizes = new Map<string, number>()
    for (const line of long.stdout.trim().split('\n')) {
      const f = line.trim().split(/\s+/)
      sizes.set(f.slice(4).join(' '), Number(f[1]))
    }
    assert.deepEqual(sizes, gnuSizes(tarPath))
    assert.equal(sizes.get('./big/sparse.bin'), 12 * MiB)
    // The .s3ci next to the tar is the index: the cache of indexes in S3 is not used.
    assert.deepEqual(readdirSync(cache), [])
  })

  it('download-single of a file and of a folder/ from the local tar, byte-exact, mode and mtime kept', async function () {
    const out = mk('lone')
    const r = await run(['download-single', 'x.tar', rels[3], '--out', join(out, 'f')])
    assert.equal(r.code, 0, r.stderr)
    assert.ok(readFileSync(join(out, 'f')).equals(readFileSync(join(src, rels[3]))))
    assert.equal(statSync(join(out, 'f')).mode & 0o777, 0o751)
    assert.equal(statSync(join(out, 'f')).mtimeMs, Date.parse('2020-01-02T03:04:05Z'))
    const big = await run(['download-single', './x.tar', 'big/twenty.bin', '--out', join(out, 'twenty')])
    assert.equal(big.code, 0, big.stderr)
    assert.ok(readFileSync(join(out, 'twenty')).equals(readFileSync(join(src, 'big/twenty.bin'))))
    const sparse = await run(['download-single', 'x.tar', 'big/sparse.bin', '--out', join(out, 'sparse')])
    assert.equal(sparse.code, 0, sparse.stderr)
    assert.ok(readFileSync(join(out, 'sparse')).equals(readFileSync(join(src, 'big/sparse.bin'))))

    const folder = mk('lfolder')
    const dir = rels[5].split('/')[0]
    const f = await run(['download-single', 'x.tar', `${dir}/`, '--out', folder])
    assert.equal(f.code, 0, f.stderr)
    assert.deepEqual(compareTrees(join(src, dir), join(folder, dir)), [])
    assert.deepEqual(readdirSync(cache), [])
  })

  it('download-all extracts the whole local tar byte-exact (parallel ranges of the file, links last)', async function () {
    const out = mk('lall')
    const r = await run(['download-all', 'x.tar', out, '--part-size', '5MiB', '--multipart-threshold', '5MiB'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(compareTrees(src, out), [])
    assert.equal(readlinkSync(join(out, 'plain d0-0', 'to-big')), '../big/twenty.bin')
    assert.equal(statSync(join(out, rels[3])).mode & 0o777, 0o751)
  })

  it('download-all of a local tar on BullMQ workers: the workers read the tar from its path', async function () {
    const redisUrl = harness().redis.url
    const worker = spawnCli(['worker', '--concurrency', '8', '--stalled-seconds', '2'], {env: {AWS_ENDPOINT_URL: deadEndpoint, S3C_REDIS_URL: redisUrl}})
    try {
      const out = mk('lbq')
      const r = await run(['download-all', join(work, 'x.tar'), out, '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--redis', redisUrl, '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(compareTrees(src, out), [])
    } finally {
      worker.child.kill('SIGTERM')
      await worker.done
    }
  })

  it('download-all of a tar in S3 with several large members on BullMQ workers: every large member arrives', async function () {
    // Each large member is a flow whose parent job needs an id of its own (it once was the tar's key for all of them).
    const redisUrl = harness().redis.url
    const bucket = await newBucket('lbq')
    const s3env = {AWS_ENDPOINT_URL: harness().s3.endpoint, S3C_REDIS_URL: redisUrl}
    assert.equal((await run(['upload', join(work, 'x.tar'), `s3://${bucket}/x.tar`, '-q'], {env: {...s3env, S3C_REDIS_URL: undefined}})).code, 0)
    assert.equal((await run(['index', `s3://${bucket}/x.tar`], {env: s3env})).code, 0)
    const worker = spawnCli(['worker', '--concurrency', '8', '--stalled-seconds', '2'], {env: s3env})
    try {
      const out = mk('lbqs3')
      const r = await run(['download-all', `s3://${bucket}/x.tar`, out, '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--redis', redisUrl], {env: s3env})
      assert.equal(r.code, 0, r.stderr)
      for (const big of ['big/twenty.bin', 'big/six.bin']) assert.ok(existsSync(join(out, big)), `${big} is missing`)
      assert.deepEqual(compareTrees(src, out), [])
    } finally {
      worker.child.kill('SIGTERM')
      await worker.done
    }
  })

  it('a tar changed after it was indexed is refused with one line; indexing it again makes it readable', async function () {
    copyFileSync(join(work, 'x.tar'), join(work, 'y.tar'))
    assert.equal((await run(['index', 'y.tar'])).code, 0)
    // Same size, same bytes, a new modification time: it is not the file that was indexed.
    utimesSync(join(work, 'y.tar'), new Date(), new Date(Date.now() + 5000))
    const line = 's3c: y.tar changed after it was indexed: run s3c index y.tar again\n'
    for (const args of [['list-files', 'y.tar'], ['download-single', 'y.tar', rels[3], '--out', join(mk('lch'), 'f')], ['download-all', 'y.tar', mk('lch')]]) {
      const r = await run(args)
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`)
      assert.equal(r.stderr, line, args[0])
    }
    // A changed size too.
    writeFileSync(join(work, 'y.tar'), Buffer.concat([readFileSync(join(work, 'y.tar')), Buffer.alloc(10240)]))
    assert.equal((await run(['list-files', 'y.tar'])).stderr, line)
    assert.equal((await run(['index', 'y.tar'])).code, 0)
    const again = await run(['list-files', 'y.tar'])
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(again.stdout.trim().split('\n'), gnuList(join(work, 'x.tar')))
  })

  it('a local tar without an index: list-files, download-single, download-all say to index it (exit 2)', async function () {
    copyFileSync(join(work, 'x.tar'), join(work, 'z.tar'))
    for (const args of [['list-files', 'z.tar'], ['download-single', 'z.tar', rels[3]], ['download-all', 'z.tar', mk('lno')]]) {
      const r = await run(args)
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`)
      assert.equal(r.stderr, 's3c: z.tar has no index: run s3c index z.tar\n', args[0])
    }
  })

  it('tar list and tar extract read a local tar without an index by scanning its headers', async function () {
    copyFileSync(join(work, 'x.tar'), join(work, 'scan.tar'))
    const tarPath = join(work, 'scan.tar')
    const ls = await run(['tar', 'list', '-f', 'scan.tar'])
    assert.equal(ls.code, 0, ls.stderr)
    assert.deepEqual(ls.stdout.trim().split('\n'), gnuList(tarPath))
    const ext = await run(['tar', 'list', '-f', tarPath, '--extended'])
    assert.equal(ext.code, 0, ext.stderr)
    assert.ok(ext.stdout.includes('./big/twenty.bin,'), ext.stdout.slice(0, 200))

    const out = mk('lext')
    const x = await run(['tar', 'extract', '-f', 'scan.tar', '-C', out, '--part-size', '5MiB'])
    assert.equal(x.code, 0, x.stderr)
    assert.deepEqual(compareTrees(src, out), [])
    const some = mk('lsome')
    const y = await run(['tar', 'extract', '-f', './scan.tar', '-C', some, 'big/'])
    assert.equal(y.code, 0, y.stderr)
    assert.deepEqual(readdirSync(some), ['big'])
    assert.deepEqual(compareTrees(join(src, 'big'), join(some, 'big')), [])
    // With an index, tar list reads it.
    const idx = await run(['tar', 'list', '-f', 'x.tar'])
    assert.equal(idx.code, 0, idx.stderr)
    assert.deepEqual(idx.stdout.trim().split('\n'), gnuList(join(work, 'x.tar')))
  })

  it('bad local tar arguments: one line, exit 2', async function () {
    const missing = await run(['list-files', './missing.tar'])
    assert.equal(missing.code, 2)
    assert.equal(missing.stderr, 's3c: ./missing.tar does not exist: give the path of a tar file\n')
    // Not a local file and no bucket: the line says both.
    const noBucket = await run(['download-all', 'missing.tar', mk('lnb')])
    assert.equal(noBucket.code, 2)
    assert.match(noBucket.stderr, /^s3c: .*"missing\.tar" is not a local file.*--bucket.*\n$/)
    // A local tar goes to a local folder: extracting it into S3 is refused before anything is sent.
    const toS3 = await run(['tar', 'extract', '-f', 'x.tar', '-C', 's3://b/p/'])
    assert.equal(toS3.code, 2)
    assert.match(toS3.stderr, /^s3c: .*x\.tar.*local folder.*\n$/)
    const folder = mk('lfold')
    mkdirSync(join(folder, 'd.tar'))
    const dir = await run(['list-files', join(folder, 'd.tar')])
    assert.equal(dir.code, 2)
    assert.match(dir.stderr, /not a file/)
  })
})

describe('local byte sources: a file that is not the version pinned is refused, on workers too', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }

  it('a read after the file changed fails (the fstat after pread), not a mix of two versions', async function () {
    const {localSource} = await import('../src/local/storage.js')
    const {SourceChangedError} = await import('../src/base/storage.js')
    const path = join(mk('src'), 'f.bin')
    writeFileSync(path, seededBytes(1, 8192))
    const src = await localSource(path)
    try {
      assert.ok((await src.read(0, 4096)).equals(seededBytes(1, 8192).subarray(0, 4096)))
      utimesSync(path, new Date(), new Date(Date.now() + 60_000))
      await assert.rejects(src.read(4096, 4096), (e: unknown) => e instanceof SourceChangedError)
    } finally {
      await src.close()
    }
    await assert.rejects(localSource(path, {expect: {size: 8192, mtimeUs: 1}}), (e: unknown) => e instanceof SourceChangedError)
  })

  it('the extract-members and download-range handlers refuse a local tar whose size or mtime differ from the job', async function () {
    const {handlers} = await import('../src/jobs/handlers.js')
    const dir = mk('h')
    const tar = join(dir, 'x.tar')
    writeFileSync(join(dir, 'a.txt'), 'a\n')
    execFileSync('tar', ['-cf', tar, '-C', dir, 'a.txt'])
    const st = statSync(tar, {bigint: true})
    const stale = {path: tar, size: Number(st.size), mtimeUs: Number(st.mtimeNs / 1000n) - 1}
    const ctx = {s3: undefined as never, retry: {retries: 0, minTimeoutMs: 1, maxTimeoutMs: 1}, onBytes: () => undefined}
    const line = (e: unknown) => (e as Error).message === `${tar} changed after it was indexed: run s3c index ${tar} again`
    await assert.rejects(handlers['extract-members']({kind: 'extract-members', source: stale, root: dir, start: 512, end: 1024,
      members: [{name: 'a.txt', path: join(dir, 'out.txt'), dataOffset: 512, size: 2, mode: 0o644, mtime: 0}]}, ctx), line)
    await assert.rejects(handlers['download-range']({kind: 'download-range', source: {...stale, mtimeUs: stale.mtimeUs + 1, size: stale.size + 1}, root: dir,
      tmpPath: join(dir, '.tmp'), offset: 512, length: 2, base: 512}, ctx), line)
    assert.equal(existsSync(join(dir, 'out.txt')), false)
  })
})
