import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, spawnCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {getObject, listKeys} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {makeTree, seededBytes} from './harness/tree.js'



const MiB = 1024 * 1024
const asRoot = process.getuid?.() === 0

/** A path under `root` made of raw bytes (names that are not UTF-8 cannot be written as strings). */
function bpath(root: string, ...names: (string | Buffer)[]): Buffer {
  return Buffer.concat([Buffer.from(root), ...names.flatMap(n => [Buffer.from('/'), typeof n === 'string' ? Buffer.from(n) : n])])
}

/** Every file under root: relative path as raw bytes (hex) → sha256 of its content. */
function byteTree(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: Buffer, rel: Buffer[]) => {
    for (const e of readdirSync(dir, {withFileTypes: true, encoding: 'buffer'})) {
      const p = Buffer.concat([dir, Buffer.from('/'), e.name])
      const r = [...rel, e.name]
      if (e.isDirectory()) walk(p, r)
      else if (e.isFile()) out.set(Buffer.concat(r.flatMap((n, i) => (i ? [Buffer.from('/'), n] : [n]))).toString('hex'), createHash('sha256').update(readFileSync(p)).digest('hex'))
    }
  }
  walk(Buffer.from(root), [])
  return out
}

function summaryOf(stdout: string): {filesDone: number; filesSkipped: number; filesFailed: number; skippedBy: Record<string, number>;
  skips: {key: string; reason: string}[]; failures: {key: string; error: string}[]} {
  return JSON.parse(stdout.trim().split('\n').pop()!)
}

describe('the local walk: every file ends done, skipped or failed', function () {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) {
      execFileSync('chmod', ['-R', 'u+rwx', d])
      rmSync(d, {recursive: true, force: true})
    }
  })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }

  describe('upload', function () {
    it("the issue's tree (a folder whose name is not UTF-8, names with \\n and \\r): all 5 files arrive under the documented keys", async function () {
      const src = mk('names')
      const latin1Dir = Buffer.from([0x63, 0x61, 0x66, 0xe9]) // "café" in Latin-1
      mkdirSync(bpath(src, latin1Dir))
      writeFileSync(bpath(src, latin1Dir, 'one.txt'), '1')
      writeFileSync(bpath(src, latin1Dir, 'two.txt'), '22')
      writeFileSync(join(src, 'new\nline.txt'), '333')
      writeFileSync(join(src, 'carriage\rreturn.txt'), '4444')
      writeFileSync(join(src, 'plain.txt'), '55555')
      const bucket = await newBucket('names')
      const r = await runCli(['upload', src, `s3://${bucket}/p`, '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(summaryOf(r.stdout).filesDone, 5)
      // Read back by exact key (fauxqs lists a \r in a key as \n, see below).
      const expected = {'p/caf\uf7e9/one.txt': '1', 'p/caf\uf7e9/two.txt': '22', 'p/new\nline.txt': '333', 'p/carriage\rreturn.txt': '4444', 'p/plain.txt': '55555'}
      for (const [key, body] of Object.entries(expected)) assert.equal((await getObject(bucket, key)).toString(), body, JSON.stringify(key))
      assert.equal((await listKeys(bucket)).size, 5)
    })

    it('download restores the exact byte names', async function () {
      const src = mk('bytes')
      mkdirSync(bpath(src, Buffer.from([0xff, 0x2d])))
      writeFileSync(bpath(src, Buffer.from([0xff, 0x2d]), Buffer.from([0x78, 0xc3, 0x28])), 'inside')
      writeFileSync(bpath(src, Buffer.from([0x80])), seededBytes(3, 300_000))
      writeFileSync(join(src, 'new\nline.txt'), 'n')
      writeFileSync(join(src, 'crème.txt'), 'valid UTF-8 stays as it is')
      writeFileSync(bpath(src, Buffer.from([0x62, 0x69, 0x67, 0xfe])), seededBytes(4, 9 * MiB))
      // fauxqs writes a \r in a key raw into its XML listing (an XML parser reads it as \n) and
      // ignores encoding-type=url, so a \r name cannot come back from it; S3 and RGW encode it.
      if (!harness().s3.local) writeFileSync(join(src, 'carriage\rreturn.txt'), 'r')
      const bucket = await newBucket('bytes')
      const up = await runCli(['upload', src, `s3://${bucket}/b`])
      assert.equal(up.code, 0, up.stderr)
      const dst = mk('bytesdst')
      const down = await runCli(['download', `s3://${bucket}/b`, dst])
      assert.equal(down.code, 0, down.stderr)
      assert.deepEqual(byteTree(dst), byteTree(src))
      // A second download finds every file unchanged.
      const again = await runCli(['download', `s3://${bucket}/b`, dst, '--json'])
      assert.equal(summaryOf(again.stdout).filesSkipped, byteTree(src).size, again.stderr)
    })

    it('a valid UTF-8 name holding U+F780–U+F7FF fails by name; the rest arrives', async function () {
      const src = mk('reserved')
      writeFileSync(join(src, 'odd\uf7ff.txt'), 'x')
      mkdirSync(join(src, 'dir\uf780'))
      writeFileSync(join(src, 'dir\uf780', 'in.txt'), 'x')
      writeFileSync(join(src, 'fine.txt'), 'x')
      const bucket = await newBucket('reserved')
      const r = await runCli(['upload', src, `s3://${bucket}/r`, '--json'])
      assert.equal(r.code, 1, r.stderr)
      const s = summaryOf(r.stdout)
      assert.deepEqual(s.failures.map(f => f.key).sort(), ['r/dir\uf780/', 'r/odd\uf7ff.txt'])
      assert.match(s.failures[0].error, /U\+F780–U\+F7FF/)
      assert.deepEqual([...(await listKeys(bucket)).keys()], ['r/fine.txt'])
    })

    it('a symlink loop d/back -> .. : 100 files make 100 uploads; with --follow-symlinks the loop is found and reported', async function () {
      const src = mk('loop')
      mkdirSync(join(src, 'd'))
      for (let i = 0; i < 100; i++) writeFileSync(join(src, i % 2 ? 'd' : '', `f${i}.txt`), String(i))
      symlinkSync('..', join(src, 'd', 'back'))
      const bucket = await newBucket('loop')
      const proxy = await startProxy(harness().s3.endpoint)
      try {
        const env = {AWS_ENDPOINT_URL: proxy.endpoint}
        const plain = await runCli(['upload', src, `s3://${bucket}/l`, '--json'], {env})
        assert.equal(plain.code, 0, plain.stderr)
        assert.equal(proxy.count('PUT'), 100)
        const s = summaryOf(plain.stdout)
        assert.equal(s.filesDone, 100)
        assert.deepEqual(s.skippedBy, {symlink: 1})
        assert.deepEqual(s.skips.map(x => [x.key, x.reason]), [['l/d/back', 'symlink']])
        assert.match(plain.stderr, /1 symbolic link skipped.*--follow-symlinks/)
        proxy.reset()
        const followed = await runCli(['upload', src, `s3://${bucket}/l2`, '--json', '--follow-symlinks'], {env})
        assert.equal(followed.code, 0, followed.stderr)
        assert.equal(proxy.count('PUT'), 100)
        const f = summaryOf(followed.stdout)
        assert.deepEqual([f.filesDone, f.skippedBy], [100, {'symlink loop': 1}])
        assert.deepEqual(f.skips.map(x => [x.key, x.reason]), [['l2/d/back', 'symlink loop']])
      } finally {
        await proxy.stop()
      }
      assert.equal((await listKeys(bucket)).size, 200)
    })

    it('links that leave the folder are skipped (counted, one notice line) unless --follow-symlinks; FIFOs are not files', async function () {
      const outside = mk('outside')
      writeFileSync(join(outside, 'secret.txt'), 'outside the folder')
      mkdirSync(join(outside, 'sub'))
      writeFileSync(join(outside, 'sub', 'deep.txt'), 'deep')
      const src = mk('links')
      writeFileSync(join(src, 'own.txt'), 'mine')
      symlinkSync(join(outside, 'secret.txt'), join(src, 'file-link'))
      symlinkSync(outside, join(src, 'dir-link'))
      symlinkSync('own.txt', join(src, 'inside-link'))
      execFileSync('mkfifo', [join(src, 'a-fifo')])
      const bucket = await newBucket('links')
      const r = await runCli(['upload', src, `s3://${bucket}/a`, '--json'])
      assert.equal(r.code, 0, r.stderr)
      const s = summaryOf(r.stdout)
      assert.deepEqual([s.filesDone, s.filesSkipped, s.skippedBy], [1, 4, {symlink: 3, 'not a regular file': 1}])
      assert.deepEqual(r.stderr.split('\n').filter(l => /symbolic link/.test(l)).length, 1)
      assert.match(r.stderr, /3 symbolic links skipped \(use --follow-symlinks to upload what they point to\)/)
      assert.deepEqual([...(await listKeys(bucket)).keys()], ['a/own.txt'])
      const text = await runCli(['upload', src, `s3://${bucket}/a`])
      assert.match(text.stdout, /^upload: 0 done, 5 skipped \(1 unchanged, 1 not a regular file, 3 symlink\), 0 failed/)
      assert.match(text.stderr, /^skipped: a\/a-fifo: not a regular file$/m)
      assert.doesNotMatch(text.stderr, /skipped: .*link/, 'links are counted in one notice, not listed')

      const f = await runCli(['upload', src, `s3://${bucket}/b`, '--json', '--follow-symlinks'])
      assert.equal(f.code, 0, f.stderr)
      assert.deepEqual([...(await listKeys(bucket, 'b/')).keys()].sort(), ['b/dir-link/secret.txt', 'b/dir-link/sub/deep.txt', 'b/file-link', 'b/inside-link', 'b/own.txt'])
      assert.equal((await getObject(bucket, 'b/file-link')).toString(), 'outside the folder')
      assert.deepEqual(summaryOf(f.stdout).skippedBy, {'not a regular file': 1})
    })

    it('an unreadable folder fails by path; every other file arrives; exit 1', async function () {
      const src = mk('unreadable')
      makeTree(src, {files: 20, depth: 2})
      mkdirSync(join(src, 'locked'))
      writeFileSync(join(src, 'locked', 'inside.txt'), 'cannot be listed')
      chmodSync(join(src, 'locked'), 0o000)
      const bucket = await newBucket('unread')
      const r = await runCli(['upload', src, `s3://${bucket}/u`, '--json'], {noFileOverride: asRoot})
      assert.equal(r.code, 1, r.stderr)
      const s = summaryOf(r.stdout)
      assert.deepEqual([s.filesDone, s.filesFailed], [20, 1])
      assert.equal(s.failures[0].key, 'u/locked/')
      assert.match(s.failures[0].error, /cannot read folder.*permission denied/)
      assert.equal((await listKeys(bucket)).size, 20)
      const text = await runCli(['upload', src, `s3://${bucket}/u`], {noFileOverride: asRoot})
      assert.equal(text.code, 1)
      assert.match(text.stderr, /^failed: u\/locked\/: cannot read folder/m)
    })

    it('with --redis: an unreadable folder and an unreadable file fail by path, the rest arrives, exit 1', async function () {
      const src = mk('unreadq')
      makeTree(src, {files: 30, depth: 2})
      mkdirSync(join(src, 'locked'))
      writeFileSync(join(src, 'locked', 'inside.txt'), 'cannot be listed')
      chmodSync(join(src, 'locked'), 0o000)
      writeFileSync(join(src, 'secret.txt'), 'cannot be read')
      chmodSync(join(src, 'secret.txt'), 0o000)
      const bucket = await newBucket('unreadq')
      const env = {S3C_REDIS_URL: harness().redis.url}
      const worker = spawnCli(['worker', '--concurrency', '8', '--stalled-seconds', '2'], {env, noFileOverride: asRoot})
      try {
        const r = await runCli(['upload', src, `s3://${bucket}/q`, '--json'], {env, noFileOverride: asRoot})
        assert.equal(r.code, 1, r.stderr)
        const s = summaryOf(r.stdout)
        assert.deepEqual([s.filesDone, s.filesFailed], [30, 2])
        assert.deepEqual(s.failures.map(f => f.key).sort(), ['q/locked/', 'q/secret.txt'])
      } finally {
        worker.child.kill('SIGTERM')
        await worker.done
      }
      assert.equal((await listKeys(bucket)).size, 30)
    })
  })

  describe('one file, one object', function () {
    it('upload FILE s3://bucket/key uploads that file (URL ending in / : key + file name); the same again is skipped', async function () {
      const dir = mk('one')
      const file = join(dir, 'report.txt')
      writeFileSync(file, 'one file')
      const bucket = await newBucket('one')
      const r = await runCli(['upload', file, `s3://${bucket}/reports/2026.txt`])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^upload: 1 done, 0 skipped, 0 failed/)
      const slash = await runCli(['upload', file, `s3://${bucket}/reports/`])
      assert.equal(slash.code, 0, slash.stderr)
      assert.deepEqual([...(await listKeys(bucket)).keys()].sort(), ['reports/2026.txt', 'reports/report.txt'])
      assert.equal((await getObject(bucket, 'reports/2026.txt')).toString(), 'one file')
      const again = await runCli(['upload', file, `s3://${bucket}/reports/2026.txt`])
      assert.match(again.stdout, /^upload: 0 done, 1 skipped, 0 failed/)
    })

    it("download of one key writes that file (aws s3 cp's rule for DEST); the same again is skipped", async function () {
      const bucket = await newBucket('onekey')
      const src = mk('onekeysrc')
      writeFileSync(join(src, 'data.csv'), 'a,b\n1,2\n')
      assert.equal((await runCli(['upload', src, `s3://${bucket}/exports`])).code, 0)
      const dst = mk('onekeydst')
      // DEST that does not exist: the file itself.
      const asFile = await runCli(['download', `s3://${bucket}/exports/data.csv`, join(dst, 'copy.csv')])
      assert.equal(asFile.code, 0, asFile.stderr)
      assert.equal(readFileSync(join(dst, 'copy.csv'), 'utf8'), 'a,b\n1,2\n')
      assert.ok(statSync(join(dst, 'copy.csv')).isFile())
      // An existing folder, or a DEST ending in /: the file inside it.
      const intoDir = await runCli(['download', `s3://${bucket}/exports/data.csv`, dst])
      assert.equal(intoDir.code, 0, intoDir.stderr)
      assert.equal(readFileSync(join(dst, 'data.csv'), 'utf8'), 'a,b\n1,2\n')
      const slash = await runCli(['download', `s3://${bucket}/exports/data.csv`, `${join(dst, 'new')}/`])
      assert.equal(slash.code, 0, slash.stderr)
      assert.equal(readFileSync(join(dst, 'new', 'data.csv'), 'utf8'), 'a,b\n1,2\n')
      // No DEST: the current folder.
      const here = await runCli(['download', `s3://${bucket}/exports/data.csv`], {cwd: mk('cwd')})
      assert.equal(here.code, 0, here.stderr)
      const again = await runCli(['download', `s3://${bucket}/exports/data.csv`, join(dst, 'copy.csv')])
      assert.match(again.stdout, /^download: 0 done, 1 skipped, 0 failed/)
    })

    it('download of a prefix with nothing under it: one line, exit 0, no folder made', async function () {
      const bucket = await newBucket('empty')
      const dst = join(mk('emptydst'), 'target')
      const r = await runCli(['download', `s3://${bucket}/nothing/here`, dst])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr, `s3c: nothing under s3://${bucket}/nothing/here/\n`)
      assert.equal(existsSync(dst), false)
    })
  })

  describe('a file that changes while it is uploaded fails', function () {
    it('grown between the walk and the read (one PUT): failed, the object keeps its old content', async function () {
      const src = mk('grow')
      const file = join(src, 'grow.txt')
      writeFileSync(file, seededBytes(1, 1000))
      const bucket = await newBucket('grow')
      assert.equal((await runCli(['upload', src, `s3://${bucket}/g`])).code, 0)
      // Same size, new mtime: the next upload HEADs the object before it reads the file. The
      // proxy appends to the file when that HEAD arrives, so the file grows after the walk saw
      // it and before it is read, every time.
      utimesSync(file, new Date(), new Date(Date.now() + 10_000))
      const proxy = await startProxy(harness().s3.endpoint, {
        onRequest: r => { if (r.method === 'HEAD' && r.path.endsWith('/g/grow.txt')) appendFileSync(file, 'appended') },
      })
      try {
        // --no-state: the HEAD is the test's hook between the walk and the read; with the sync
        // state a touched file is sent without one (the same read check then applies).
        const r = await runCli(['upload', src, `s3://${bucket}/g`, '--no-state'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, /failed: g\/grow\.txt: .*changed while being uploaded/)
        assert.equal(proxy.count('PUT'), 0)
      } finally {
        await proxy.stop()
      }
      assert.deepEqual(await getObject(bucket, 'g/grow.txt'), seededBytes(1, 1000))
    })

    it('grown during a multipart upload: failed and aborted, nothing stored', async function () {
      const src = mk('growmp')
      const file = join(src, 'big.bin')
      writeFileSync(file, seededBytes(2, 12 * MiB))
      const bucket = await newBucket('growmp')
      // The file grows when CreateMultipartUpload arrives: after the walk fixed the parts, before any is read.
      const proxy = await startProxy(harness().s3.endpoint, {
        onRequest: r => { if (r.method === 'POST' && r.query.includes('uploads')) appendFileSync(file, seededBytes(3, MiB)) },
      })
      try {
        const r = await runCli(['upload', src, `s3://${bucket}/m`, '--part-size', '5MiB'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, /failed: m\/big\.bin: .*changed while being uploaded/)
        assert.equal(proxy.count('DELETE', q => q.query.includes('uploadId')), 1, 'the multipart upload is aborted')
      } finally {
        await proxy.stop()
      }
      assert.deepEqual([...(await listKeys(bucket)).keys()], [])
    })
  })

  describe('bundle', function () {
    it('stores symlinks as symlinks (dangling ones too); --follow-symlinks stores what they point to', async function () {
      const src = mk('bsym')
      writeFileSync(join(src, 'a.txt'), 'content of a')
      mkdirSync(join(src, 'sub'))
      writeFileSync(join(src, 'sub', 'b.txt'), 'content of b')
      symlinkSync('a.txt', join(src, 'link-to-a'))
      symlinkSync('sub', join(src, 'link-to-sub'))
      symlinkSync('nowhere', join(src, 'dangling'))
      const bucket = await newBucket('bsym')
      const r = await runCli(['bundle', src, 'links', '--bucket', bucket, '--json'], {env: {S3C_CACHE_DIR: mk('cache')}})
      assert.equal(r.code, 0, r.stderr)
      const tarPath = join(mk('bsymtar'), 'bundle.tar')
      writeFileSync(tarPath, await getObject(bucket, 'links/bundle.tar'))
      const listing = execFileSync('tar', ['-tvf', tarPath], {encoding: 'utf8'})
      assert.match(listing, /^l\S+ .* link-to-a -> a\.txt$/m)
      assert.match(listing, /^l\S+ .* link-to-sub -> sub$/m)
      assert.match(listing, /^l\S+ .* dangling -> nowhere$/m)
      const out = mk('bsymout')
      execFileSync('tar', ['-xf', tarPath, '-C', out])
      assert.equal(readlinkSync(join(out, 'dangling')), 'nowhere')
      assert.ok(lstatSync(join(out, 'link-to-a')).isSymbolicLink())

      // Following: the targets' contents; a dangling link has nothing to store and fails by name.
      const f = await runCli(['bundle', src, 'followed', '--bucket', bucket, '--json', '--follow-symlinks'], {env: {S3C_CACHE_DIR: mk('cache')}})
      assert.equal(f.code, 1, f.stderr)
      assert.deepEqual(summaryOf(f.stdout).failures.map(x => [x.key, x.error]), [['dangling', 'symbolic link to something that does not exist']])
      writeFileSync(tarPath, await getObject(bucket, 'followed/bundle.tar'))
      const out2 = mk('bsymout2')
      execFileSync('tar', ['-xf', tarPath, '-C', out2])
      assert.equal(readFileSync(join(out2, 'link-to-a'), 'utf8'), 'content of a')
      assert.ok(lstatSync(join(out2, 'link-to-a')).isFile())
      assert.equal(readFileSync(join(out2, 'link-to-sub', 'b.txt'), 'utf8'), 'content of b')
      assert.equal(existsSync(join(out2, 'dangling')), false)
    })
  })
})
