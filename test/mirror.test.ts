import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ListObjectsV2Command, HeadObjectCommand} from '@aws-sdk/client-s3'
import {runCli, spawnCli} from './harness/cli.js'
import {harness, newBucket, s3Client} from './harness/hooks.js'
import {waitFor} from './harness/wait.js'
import {startProxy, type RecordedRequest} from './harness/proxy.js'
import {compareTrees, makeTree} from './harness/tree.js'
import {utimesValue} from '../src/base/times.js'



const MiB = 1024 * 1024

function tmp(name: string): string {
  return mkdtempSync(join(tmpdir(), `s3c-${name}-`))
}

/** Every key under the bucket (s3c writes no state of its own there). */
async function listKeys(bucket: string, prefix = ''): Promise<string[]> {
  const c = s3Client()
  const keys: string[] = []
  let token: string | undefined
  do {
    const page = await c.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token}))
    for (const o of page.Contents ?? []) keys.push(o.Key!)
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  c.destroy()
  return keys
}

describe('upload and download (mirror)', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = tmp(name); dirs.push(d); return d }

  describe('a deep tree of 2,000 files and a 30 MiB file', function () {
    let src: string
    let bucket: string
    before(async function () {
      src = mk('src')
      makeTree(src, {files: 2000, depth: 9, big: [{rel: 'big/thirty.bin', size: 30 * MiB}]})
      bucket = await newBucket('mirror')
    })

    it('uploads, downloads into a new folder, and every byte and path matches', async function () {
      const up = await runCli(['upload', src, `s3://${bucket}/tree`, '--json'])
      assert.equal(up.code, 0, up.stderr)
      const summary = JSON.parse(up.stdout.trim().split('\n').pop()!)
      assert.equal(summary.filesDone, 2001)
      assert.equal(summary.filesFailed, 0)
      const keys = await listKeys(bucket, 'tree/')
      assert.equal(keys.length, 2001)
      assert.ok(keys.includes('tree/big/thirty.bin'))

      const dst = mk('dst')
      const down = await runCli(['download', `s3://${bucket}/tree`, join(dst, 'new folder')])
      assert.equal(down.code, 0, down.stderr)
      assert.deepEqual(compareTrees(src, join(dst, 'new folder')), [])
      // Modification times come back too (stored in metadata on upload).
      for (const rel of ['big/thirty.bin', readdirSync(src).find(n => n.endsWith('.txt'))!]) {
        assert.equal(Math.round(statSync(join(dst, 'new folder', rel)).mtimeMs), Math.round(statSync(join(src, rel)).mtimeMs), rel)
      }
      // No temporary files left behind.
      assert.deepEqual(readdirSync(join(dst, 'new folder'), {recursive: true}).filter(n => String(n).includes('.s3c-')), [])
    })

    it('a second identical upload sends no PUT (and a second download no GET of data)', async function () {
      const proxy = await startProxy(harness().s3.endpoint)
      try {
        const up = await runCli(['upload', src, `s3://${bucket}/tree`], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(up.code, 0, up.stderr)
        assert.match(up.stdout, /0 done, 2001 skipped, 0 failed/)
        assert.equal(proxy.count('PUT'), 0)
        assert.equal(proxy.count('POST'), 0)
        assert.ok(proxy.count('GET', r => r.query.includes('list-type=2')) >= 1)

        const dst = mk('again')
        assert.equal((await runCli(['download', `s3://${bucket}/tree`, dst])).code, 0)
        proxy.reset()
        const down = await runCli(['download', `s3://${bucket}/tree`, dst], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(down.code, 0, down.stderr)
        assert.match(down.stdout, /0 done, 2001 skipped/)
        assert.equal(proxy.count('GET', r => !r.query.includes('list-type=2')), 0)
      } finally {
        await proxy.stop()
      }
    })

    it('--force sends everything again; --dry-run sends no write', async function () {
      const proxy = await startProxy(harness().s3.endpoint)
      try {
        const dry = await runCli(['upload', src, `s3://${bucket}/dry`, '--dry-run'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(dry.code, 0, dry.stderr)
        // One line per file that would move, then the summary line (README, --dry-run).
        assert.equal(dry.stdout.split('\n').filter(l => /^upload .* -> s3:\/\//.test(l)).length, 2001)
        assert.match(dry.stdout, /^upload \(dry run\): would upload 2001 .*; 0 unchanged$/m)
        // No write at all: a dry run writes no sync state either.
        assert.equal(proxy.count('PUT') + proxy.count('POST'), 0)
        const forced = await runCli(['upload', src, `s3://${bucket}/tree`, '--force', '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(forced.code, 0, forced.stderr)
        assert.equal(JSON.parse(forced.stdout).filesDone, 2001)
        assert.equal(proxy.count('PUT', r => !r.query.includes('uploadId')), 2000)
      } finally {
        await proxy.stop()
      }
    })
  })

  it('skips by size and mtime, and --checksum catches a same-size, same-mtime change', async function () {
    const src = mk('ck')
    const file = join(src, 'a', 'doc.txt')
    makeTree(src, {files: 20, depth: 2})
    mkdirSync(join(src, 'a'))
    writeFileSync(file, 'version one')
    const bucket = await newBucket('ck')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/p`])).code, 0)
    const before = statSync(file, {bigint: true})
    writeFileSync(file, 'version two') // same length
    // The same mtime at the precision s3c compares (µs; a Date would cut it to ms).
    utimesSync(file, new Date(), utimesValue(before.mtimeNs))
    // The time rule alone (without the sync state, whose inode and change time would catch this rewrite: test/rerun.test.ts).
    const plain = await runCli(['upload', src, `s3://${bucket}/p`, '--no-state'])
    assert.match(plain.stdout, /0 done, 21 skipped/)
    const ck = await runCli(['upload', src, `s3://${bucket}/p`, '--checksum'])
    // The first upload stored a checksum for every file, so only the changed one goes again.
    assert.match(ck.stdout, /1 done, 20 skipped/, ck.stdout)
    const dst = mk('ckdst')
    assert.equal((await runCli(['download', `s3://${bucket}/p`, dst])).code, 0)
    assert.equal(readFileSync(join(dst, 'a', 'doc.txt'), 'utf8'), 'version two')
    // A touched file (new mtime, same content) is sent again by default.
    utimesSync(file, new Date(), new Date(Date.now() + 5000))
    assert.match((await runCli(['upload', src, `s3://${bucket}/p`])).stdout, /1 done, 20 skipped/)
  })

  it('runs the design-card line: S3C_BUCKET + --thread-count 20 --prefix mirror/pypi from the current folder', async function () {
    const src = mk('card')
    makeTree(src, {files: 30, depth: 3})
    const bucket = await newBucket('card')
    const r = await runCli(['upload', '--thread-count', '20', '--prefix', 'mirror/pypi'], {cwd: src, env: {S3C_BUCKET: bucket}})
    assert.equal(r.code, 0, r.stderr)
    const keys = await listKeys(bucket)
    assert.equal(keys.length, 30)
    assert.ok(keys.every(k => k.startsWith('mirror/pypi/')), keys[0])
    const h = await s3Client().send(new HeadObjectCommand({Bucket: bucket, Key: keys[1]}))
    assert.ok(h.Metadata?.mtime, 'mtime metadata stored')
    // s3concurrent's download flags.
    const dst = mk('carddst')
    const d = await runCli(['download', '--bucket', bucket, '--prefix', 'mirror/pypi', '--local-folder', dst, '--thread-count', '20'])
    assert.equal(d.code, 0, d.stderr)
    assert.deepEqual(compareTrees(src, dst), [])
  })

  it('--include and --exclude select files', async function () {
    const src = mk('inc')
    writeFileSync(join(src, 'keep.log'), 'x')
    writeFileSync(join(src, 'drop.tmp'), 'y')
    writeFileSync(join(src, 'other.txt'), 'z')
    mkdirSync(join(src, 'sub'))
    writeFileSync(join(src, 'sub', 'deep.tmp'), 'w')
    const bucket = await newBucket('inc')
    // * crosses '/', as in s5cmd and the AWS CLI: *.tmp also drops sub/deep.tmp.
    assert.equal((await runCli(['upload', src, `s3://${bucket}/`, '--exclude', '*.tmp'])).code, 0)
    assert.deepEqual((await listKeys(bucket)).sort(), ['keep.log', 'other.txt'])
    const b2 = await newBucket('inc')
    assert.equal((await runCli(['upload', src, `s3://${b2}`, '--include', '*.log'])).code, 0)
    assert.deepEqual(await listKeys(b2), ['keep.log'])
    const b3 = await newBucket('inc')
    assert.equal((await runCli(['upload', src, `s3://${b3}`, '--include', 'sub/*'])).code, 0)
    assert.deepEqual(await listKeys(b3), ['sub/deep.tmp'])
    // The same rules on download.
    const dst = mk('incdst')
    assert.equal((await runCli(['download', `s3://${bucket}`, dst, '--exclude', '*.txt'])).code, 0)
    assert.deepEqual(readdirSync(dst), ['keep.log'])
    const dst2 = mk('incdst')
    assert.equal((await runCli(['download', `s3://${bucket}`, dst2, '--include', '*.txt'])).code, 0)
    assert.deepEqual(readdirSync(dst2), ['other.txt'])
  })

  describe('with a fault-injecting proxy in front of the server', function () {
    it('a tree still arrives byte-identical when ~10% of requests fail', async function () {
      const src = mk('faults')
      makeTree(src, {files: 400, depth: 8, big: [{rel: 'big/twenty.bin', size: 20 * MiB}]})
      const bucket = await newBucket('faults')
      const proxy = await startProxy(harness().s3.endpoint, {failRate: 0.1, seed: 7})
      try {
        const env = {AWS_ENDPOINT_URL: proxy.endpoint}
        const up = await runCli(['upload', src, `s3://${bucket}/f`, '--part-size', '5MiB'], {env})
        assert.equal(up.code, 0, up.stderr)
        const dst = mk('faultsdst')
        const down = await runCli(['download', `s3://${bucket}/f`, dst, '--part-size', '5MiB'], {env})
        assert.equal(down.code, 0, down.stderr)
        assert.deepEqual(compareTrees(src, dst), [])
        assert.ok(proxy.injected[500] > 5 && proxy.injected[503] > 5 && proxy.injected.drop > 5, JSON.stringify(proxy.injected))
      } finally {
        await proxy.stop()
      }
    })

    it('answers cut mid-body (Content-Length not reached) are fetched again: small files, ranged parts, one member', async function () {
      const src = mk('cut')
      makeTree(src, {files: 30, depth: 2, big: [{rel: 'big/twelve.bin', size: 12 * MiB}]})
      const bucket = await newBucket('cut')
      assert.equal((await runCli(['upload', src, `s3://${bucket}/c`, '--part-size', '5MiB'])).code, 0)
      assert.equal((await runCli(['bundle', src, 'cb', '--bucket', bucket])).code, 0)
      const isData = (r: RecordedRequest) => r.method === 'GET' && !r.query.includes('list-type')
      const proxy = await startProxy(harness().s3.endpoint, {cutBody: isData, cutBodyTimes: 3})
      try {
        const env = {AWS_ENDPOINT_URL: proxy.endpoint}
        const dst = mk('cutdst')
        const down = await runCli(['download', `s3://${bucket}/c`, dst, '--part-size', '5MiB'], {env})
        assert.equal(down.code, 0, down.stderr)
        assert.deepEqual(compareTrees(src, dst), [])
        assert.equal(proxy.injected.cut, 3)
        proxy.setFaults({cutBody: isData, cutBodyTimes: 4})
        const one = await runCli(['download-single', 'cb', 'big/twelve.bin', '--bucket', bucket, '--stdout'], {env})
        assert.equal(one.code, 0, one.stderr)
        assert.ok(one.stdoutBytes.equals(readFileSync(join(src, 'big/twelve.bin'))))
        assert.equal(proxy.injected.cut, 4)
      } finally {
        await proxy.stop()
      }
    })

    it('a file that always fails is reported, the run exits 1, every other file arrives', async function () {
      const src = mk('doomed')
      makeTree(src, {files: 100, depth: 3})
      writeFileSync(join(src, 'doomed file.txt'), 'never arrives')
      const bucket = await newBucket('doomed')
      const proxy = await startProxy(harness().s3.endpoint, {alwaysFail: p => p.includes('doomed file')})
      try {
        const up = await runCli(['upload', src, `s3://${bucket}/d`, '--max-retry', '3'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(up.code, 1, up.stderr)
        assert.match(up.stderr, /failed: d\/doomed file\.txt: InternalError/)
        assert.match(up.stdout, /100 done, 0 skipped, 1 failed/)
        // 1 attempt + 3 retries.
        assert.equal(proxy.count('PUT', r => r.path.includes('doomed file')), 4)
      } finally {
        await proxy.stop()
      }
      const dst = mk('doomeddst')
      assert.equal((await runCli(['download', `s3://${bucket}/d`, dst])).code, 0)
      rmSync(join(src, 'doomed file.txt'))
      assert.deepEqual(compareTrees(src, dst), [])
    })
  })

  describe('Ctrl-C in the middle', function () {

    it('of an upload aborts the multipart upload it started and exits 130', async function () {
      const src = mk('intup')
      makeTree(src, {files: 0, depth: 0, big: [{rel: 'big.bin', size: 48 * MiB}]})
      const bucket = await newBucket('intup')
      const proxy = await startProxy(harness().s3.endpoint)
      try {
        const {child, done} = spawnCli(['upload', src, `s3://${bucket}/i`, '--thread-count', '2', '--part-size', '5MiB'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        await waitFor(() => proxy.count('PUT', r => r.query.includes('uploadId')) >= 2)
        child.kill('SIGINT')
        const r = await done
        assert.equal(r.code, 130, r.stderr)
        assert.match(r.stderr, /interrupted/)
        assert.equal(proxy.count('DELETE', r => r.query.includes('uploadId')), 1)
        assert.equal(proxy.count('POST', r => r.query.includes('uploadId') && !r.query.includes('uploads')), 0, 'never completed')
        assert.deepEqual(await listKeys(bucket), [])
      } finally {
        await proxy.stop()
      }
    })

    it('of a download leaves no partial or temporary file', async function () {
      const src = mk('intdown')
      makeTree(src, {files: 0, depth: 0, big: [{rel: 'big.bin', size: 48 * MiB}]})
      const bucket = await newBucket('intdown')
      assert.equal((await runCli(['upload', src, `s3://${bucket}/i`])).code, 0)
      const proxy = await startProxy(harness().s3.endpoint)
      const dst = mk('intdowndst')
      try {
        const {child, done} = spawnCli(['download', `s3://${bucket}/i`, dst, '--thread-count', '2', '--part-size', '5MiB'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        await waitFor(() => proxy.count('GET', r => !r.query.includes('list-type')) >= 2)
        child.kill('SIGINT')
        const r = await done
        assert.equal(r.code, 130, r.stderr)
        assert.deepEqual(readdirSync(dst), [])
      } finally {
        await proxy.stop()
      }
    })

    it('while the server holds its first listing answer ends that request at once (no 15 s grace)', async function () {
      const src = mk('intlist')
      makeTree(src, {files: 3, depth: 0})
      const bucket = await newBucket('intlist')
      assert.equal((await runCli(['upload', src, `s3://${bucket}/i`])).code, 0)
      const proxy = await startProxy(harness().s3.endpoint)
      proxy.setFaults({hold: r => r.query.includes('list-type')})
      try {
        for (const verb of ['download', 'upload'] as const) {
          const args = verb === 'download' ? [`s3://${bucket}/i`, mk('intlistdst')] : [src, `s3://${bucket}/j`]
          const before = proxy.count('GET', r => r.query.includes('list-type'))
          const {child, done} = spawnCli([verb, ...args], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
          await waitFor(() => proxy.count('GET', r => r.query.includes('list-type')) > before && proxy.held() >= 1)
          child.kill('SIGTERM')
          const r = await done
          assert.equal(r.code, 130, r.stderr)
          // The grace timer's line: the held request was not aborted, the process waited and exited.
          assert.doesNotMatch(r.stderr, /did not stop within/)
        }
      } finally {
        proxy.setFaults({})
        await proxy.stop()
      }
    })
  })

  describe('bad input: a one-line message and a non-zero exit', function () {
    let src: string
    let bucket: string
    before(async function () {
      src = mk('bad')
      makeTree(src, {files: 5, depth: 1})
      bucket = await newBucket('bad')
    })

    it('missing bucket', async function () {
      const r = await runCli(['upload', src])
      assert.equal(r.code, 2)
      assert.match(r.stderr, /^s3c: no bucket given: pass s3:\/\/bucket\/prefix, --bucket NAME, or set S3C_BUCKET\n$/)
    })

    it('unknown bucket', async function () {
      const r = await runCli(['upload', src, 's3://s3c-no-such-bucket-here/x'])
      assert.equal(r.code, 3)
      assert.match(r.stderr, /bucket "s3c-no-such-bucket-here" does not exist/)
    })

    it('wrong credentials (secret and access key)', async function () {
      const {authEndpoint} = harness()
      const bad = await runCli(['upload', src, `s3://${bucket}/x`], {env: {AWS_ENDPOINT_URL: authEndpoint, AWS_SECRET_ACCESS_KEY: 'not-the-secret'}})
      assert.equal(bad.code, 3, bad.stderr)
      assert.match(bad.stderr, /secret key does not match/)
      const badKey = await runCli(['download', `s3://${bucket}/x`, mk('k')], {env: {AWS_ENDPOINT_URL: authEndpoint, AWS_ACCESS_KEY_ID: 'NOSUCHKEY'}})
      assert.equal(badKey.code, 3, badKey.stderr)
      assert.match(badKey.stderr, /access key is not known|access denied/)
      // The right keys pass the same gate.
      assert.equal((await runCli(['upload', src, `s3://${bucket}/x`], {env: {AWS_ENDPOINT_URL: authEndpoint}})).code, 0)
    })

    it('unreachable endpoint', async function () {
      const r = await runCli(['upload', src, `s3://${bucket}/x`, '--endpoint-url', 'http://127.0.0.1:9'])
      assert.equal(r.code, 3)
      assert.match(r.stderr, /cannot reach the S3 endpoint at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/)
    })

    it('local folder that does not exist', async function () {
      const r = await runCli(['upload', join(src, 'nope'), `s3://${bucket}/x`])
      assert.equal(r.code, 2)
      assert.match(r.stderr, /local folder ".*nope" does not exist/)
    })

    it('unreadable local file: reported, the others arrive', async function () {
      const dir = mk('unreadable')
      writeFileSync(join(dir, 'ok.txt'), 'fine')
      writeFileSync(join(dir, 'secret.txt'), 'no')
      chmodSync(join(dir, 'secret.txt'), 0o000)
      const b = await newBucket('unread')
      // Root reads any file, so as root the CLI runs without that capability.
      const r = await runCli(['upload', dir, `s3://${b}/u`], {noFileOverride: process.getuid?.() === 0})
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /failed: u\/secret\.txt: permission denied/)
      assert.deepEqual(await listKeys(b), ['u/ok.txt'])
    })

    it('a download target that is a file', async function () {
      const file = join(mk('target'), 'a-file')
      writeFileSync(file, 'x')
      const r = await runCli(['download', `s3://${bucket}/x`, file])
      assert.equal(r.code, 2)
      assert.match(r.stderr, /download target ".*a-file" is a file/)
      assert.equal(readFileSync(file, 'utf8'), 'x')
    })

    it('not an S3 URL and two local folders', async function () {
      const r = await runCli(['upload', src, src])
      assert.equal(r.code, 2)
      assert.match(r.stderr, /give one local folder and one s3:\/\/ URL/)
    })
  })
})
