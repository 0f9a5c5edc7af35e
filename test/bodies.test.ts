import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, spawnCli, type CliResult} from './harness/cli.js'
import {CreateMultipartUploadCommand, ListMultipartUploadsCommand} from '@aws-sdk/client-s3'
import {harness, newBucket, s3Client} from './harness/hooks.js'
import {listKeys, putObject} from './harness/objects.js'
import {startProxy, type Lie, type MarkerLie, type Proxy, type RecordedRequest} from './harness/proxy.js'
import {scratchDirs} from './harness/scratch.js'
import {seededBytes} from './harness/tree.js'
import {retryPolicy} from '../src/base/retry.js'
import {resolveS3Config} from '../src/s3/config.js'
import {S3Storage} from '../src/s3/storage.js'
import * as s3c from '../src/index.js'

/*
 * Issue 22, "Nothing lost": a misbehaving server (test/harness/proxy.ts, `lie`) in front of the
 * real one. Every GET's body is verified (src/s3/verify.ts) and a listing that would never end,
 * or end early, is refused (src/s3/storage.ts, toPageAnswer): nothing half-fetched is kept as
 * done, and mv never deletes a source it did not verify.
 */

const MiB = 1024 * 1024
const BODY_LIES: Lie[] = ['short', 'zero', 'two-lengths', 'altered']
const REFUSED = /IncompleteBody|BadDigest|Content-Length|does not match|connection closed/

describe('verified bodies and listings against a misbehaving server', function () {
  const mk = scratchDirs()
  let bucket: string
  let proxy: Proxy
  const small = seededBytes(7, 3000)
  const big = seededBytes(8, 12 * MiB)
  const env = () => ({AWS_ENDPOINT_URL: proxy.endpoint})
  /** Data GETs (not listings) of keys ending in `name`. */
  const getOf = (name: string) => (r: RecordedRequest) => r.method === 'GET' && !r.query.includes('list-type') && r.path.endsWith(`/${name}`)
  const lieOn = (name: string, lie: Lie) => proxy.setFaults({lie: r => (getOf(name)(r) ? lie : undefined)})

  before(async function () {
    bucket = await newBucket('bodies')
    const src = mk('src')
    mkdirSync(join(src, 'small'))
    mkdirSync(join(src, 'large'))
    writeFileSync(join(src, 'small/a.bin'), small)
    writeFileSync(join(src, 'large/big.bin'), big)
    // Uploaded by s3c: the small object carries its SHA-256 (x-amz-meta-s3c-sha256), the large one is multipart.
    const up = await runCli(['upload', src, `s3://${bucket}`, '--part-size', '5MiB'])
    assert.equal(up.code, 0, up.stderr)
    // Written by another tool: only its ETag (the MD5 of a single-part object) tells its content.
    await putObject(bucket, 'plain/b.bin', small)
    // In front of a server that checks signatures (fauxqs behind the harness's gate, or the real one): a request the proxy changes must be signed again.
    const {s3} = harness()
    proxy = await startProxy(harness().authEndpoint, {resign: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region}})
  })
  after(async () => { await proxy?.stop() })

  for (const lie of BODY_LIES) {
    for (const [prefix, name] of [['small', 'a.bin'], ['plain', 'b.bin']]) {
      it(`download of small objects (${prefix}): a body '${lie}' is retried, then failed; no file is written`, async function () {
        lieOn(name, lie)
        proxy.reset()
        const dst = mk('small')
        const r = await runCli(['download', `s3://${bucket}/${prefix}`, dst, '--max-retry', '1'], {env: env()})
        assert.equal(r.code, 1, r.stdout + r.stderr)
        assert.match(r.stderr, REFUSED)
        assert.equal(existsSync(join(dst, name)), false)
        assert.equal(proxy.count('GET', getOf(name)), 2, 'fetched once more, then failed')
      })
    }

    it(`download of a large object (ranged GETs): a range '${lie}' fails the file; nothing is renamed into place`, async function () {
      if (lie === 'altered') this.skip() // no digest known for this one (multipart, no --checksum): the next test has one
      lieOn('big.bin', lie)
      const dst = mk('large')
      const r = await runCli(['download', `s3://${bucket}/large`, dst, '--max-retry', '1', '--part-size', '5MiB'], {env: env()})
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.deepEqual(readdirSync(dst).filter(n => !n.startsWith('.')), [])
    })

    if (lie === 'altered') {
      it('download of a large object whose SHA-256 s3c stored (--checksum upload): bytes changed in a range fail the file, without --checksum', async function () {
        const src = mk('sumsrc')
        writeFileSync(join(src, 'big.bin'), big)
        const up = await runCli(['upload', src, `s3://${bucket}/summed`, '--part-size', '5MiB', '--checksum'])
        assert.equal(up.code, 0, up.stderr)
        lieOn('big.bin', lie)
        const dst = mk('summed')
        const r = await runCli(['download', `s3://${bucket}/summed`, dst, '--max-retry', '1', '--part-size', '5MiB'], {env: env()})
        assert.equal(r.code, 1, r.stdout + r.stderr)
        assert.deepEqual(readdirSync(dst).filter(n => !n.startsWith('.')), [])
        proxy.setFaults({})
        const ok = await runCli(['download', `s3://${bucket}/summed`, dst, '--part-size', '5MiB'], {env: env()})
        assert.equal(ok.code, 0, ok.stderr)
        assert.ok(readFileSync(join(dst, 'big.bin')).equals(big))
      })
    }

    it(`cat: a body '${lie}' exits non-zero`, async function () {
      lieOn('a.bin', lie)
      const r = await runCli(['cat', `s3://${bucket}/small/a.bin`, '--max-retry', '1'], {env: env()})
      assert.notEqual(r.code, 0, `exit 0 with ${r.stdoutBytes.length} bytes`)
      assert.match(r.stderr, REFUSED)
    })

    it(`library readFile: a body '${lie}' rejects`, async function () {
      lieOn('a.bin', lie)
      const {s3} = harness()
      const conn = {endpoint: proxy.endpoint, region: s3.region, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}, maxRetry: 1}
      await assert.rejects(s3c.readFile(`s3://${bucket}/small/a.bin`, conn), REFUSED)
    })
  }

  it('an x-amz-checksum-sha256 the server sends is checked: a wrong one fails the GET even where the ETag would pass, a right one passes', async function () {
    const dst = mk('checksum')
    lieOn('b.bin', 'checksum-wrong')
    const bad = await runCli(['download', `s3://${bucket}/plain`, dst, '--max-retry', '1'], {env: env()})
    assert.equal(bad.code, 1, bad.stdout + bad.stderr)
    assert.match(bad.stderr, /x-amz-checksum-sha256|BadDigest|does not match/)
    assert.equal(existsSync(join(dst, 'b.bin')), false)
    const {s3} = harness()
    const conn = {endpoint: proxy.endpoint, region: s3.region, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}, maxRetry: 0}
    await assert.rejects(s3c.readFile(`s3://${bucket}/plain/b.bin`, conn), /x-amz-checksum-sha256|BadDigest|does not match/)
    lieOn('b.bin', 'checksum-right')
    const ok = await runCli(['download', `s3://${bucket}/plain`, dst], {env: env()})
    assert.equal(ok.code, 0, ok.stderr)
    assert.ok(readFileSync(join(dst, 'b.bin')).equals(small))
  })

  it('download: an object without s3c\'s SHA-256 whose bytes differ is caught by its ETag (MD5)', async function () {
    lieOn('b.bin', 'altered')
    const dst = mk('plain')
    const r = await runCli(['download', `s3://${bucket}/plain`, dst, '--max-retry', '1'], {env: env()})
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /BadDigest|does not match its ETag/)
    assert.equal(existsSync(join(dst, 'b.bin')), false)
  })

  for (const lie of BODY_LIES) {
    it(`cp S3→local: a body '${lie}' keeps the previous file`, async function () {
      lieOn('b.bin', lie)
      const dst = mk('cp')
      writeFileSync(join(dst, 'b.bin'), 'previous')
      const r = await runCli(['cp', `s3://${bucket}/plain/b.bin`, join(dst, 'b.bin'), '--max-retry', '1'], {env: env()})
      assert.notEqual(r.code, 0, r.stdout + r.stderr)
      assert.equal(readFileSync(join(dst, 'b.bin'), 'utf8'), 'previous')
    })
  }

  for (const lie of BODY_LIES) {
    it(`mv S3→local: a body '${lie}' keeps the source and writes nothing`, async function () {
      lieOn('b.bin', lie)
      const dst = mk('mv')
      const r = await runCli(['mv', `s3://${bucket}/plain/b.bin`, `${dst}/`, '--max-retry', '1'], {env: env()})
      assert.notEqual(r.code, 0, r.stdout + r.stderr)
      assert.equal(existsSync(join(dst, 'b.bin')), false)
      assert.equal((await listKeys(bucket, 'plain/')).get('plain/b.bin'), small.length)
    })
  }

  it('download of a large object without a digest: a range answered with other bytes of its length (Content-Range moved) fails the file; cat --range too', async function () {
    proxy.setFaults({lie: r => (getOf('big.bin')(r) && r.range ? 'shifted-range' : undefined)})
    const dst = mk('shifted')
    const r = await runCli(['download', `s3://${bucket}/large`, dst, '--max-retry', '1', '--part-size', '5MiB'], {env: env()})
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /asked for the bytes from \d+, the server answered 206 with Content-Range "bytes \d+-/)
    assert.deepEqual(readdirSync(dst).filter(n => !n.startsWith('.')), [])
    const cat = await runCli(['cat', `s3://${bucket}/large/big.bin`, '--range', 'bytes=100-199', '--max-retry', '1'], {env: env()})
    assert.notEqual(cat.code, 0, `exit 0 with ${cat.stdoutBytes.length} bytes`)
    assert.match(cat.stderr, /asked for the bytes from 100/)
    proxy.setFaults({})
    const ok = await runCli(['download', `s3://${bucket}/large`, dst, '--part-size', '5MiB'], {env: env()})
    assert.equal(ok.code, 0, ok.stderr)
    assert.ok(readFileSync(join(dst, 'big.bin')).equals(big))
  })

  it('download of a large object: a range cut short is asked again from the first byte not received, and the file is whole', async function () {
    proxy.setFaults({cutBody: r => getOf('big.bin')(r) && r.range === `bytes=0-${5 * MiB - 1}`, cutBodyTimes: proxy.injected.cut + 1})
    proxy.reset()
    const dst = mk('resume')
    const r = await runCli(['download', `s3://${bucket}/large`, dst, '--part-size', '5MiB'], {env: env()})
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.ok(readFileSync(join(dst, 'big.bin')).equals(big), 'the file differs from the object')
    const ranges = proxy.requests.filter(getOf('big.bin')).map(q => q.range).sort()
    // The proxy sent half of the first range, then closed: the retry asks for the other half only.
    assert.deepEqual(ranges, [`bytes=0-${5 * MiB - 1}`, `bytes=10485760-${big.length - 1}`, `bytes=${2.5 * MiB}-${5 * MiB - 1}`, `bytes=${5 * MiB}-${10 * MiB - 1}`].sort())
  })

  it('library getRangeInto: a failed write ends the range at once (one GET, the write\'s error, no retry that would leave a hole)', async function () {
    const {s3: env} = harness()
    const config = await resolveS3Config({'endpoint-url': proxy.endpoint}, 4,
      {AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region, HOME: tmpdir()})
    const s3 = await S3Storage.open(config, retryPolicy(3))
    try {
      proxy.setFaults({})
      proxy.reset()
      let writes = 0
      await assert.rejects(s3.getRangeInto({bucket, key: 'large/big.bin'}, 0, 5 * MiB, async () => {
        writes++
        throw new Error('the disk said no')
      }), /the disk said no/)
      assert.equal(proxy.count('GET', getOf('big.bin')), 1, 'not asked again')
      assert.ok(writes >= 1 && writes <= 3, `${writes} writes`)
    } finally {
      await s3.close()
    }
  })

  it('mv S3→local of a large object: a range cut short keeps the source', async function () {
    lieOn('big.bin', 'zero')
    const dst = mk('mvbig')
    const r = await runCli(['mv', `s3://${bucket}/large/big.bin`, `${dst}/`, '--max-retry', '1', '--part-size', '5MiB'], {env: env()})
    assert.notEqual(r.code, 0, r.stdout + r.stderr)
    assert.equal(existsSync(join(dst, 'big.bin')), false)
    assert.equal((await listKeys(bucket, 'large/')).get('large/big.bin'), big.length)
  })

  /** The CLI, killed if it has not ended within `ms` (a listing that never ends). */
  async function runBounded(args: string[], ms = 30_000): Promise<CliResult & {killed: boolean}> {
    const {child, done} = spawnCli(args, {env: env()})
    let killed = false
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL') }, ms)
    try {
      return {...(await done), killed}
    } finally {
      clearTimeout(timer)
    }
  }

  const isList = (r: RecordedRequest) => r.method === 'GET' && r.query.includes('list-type')

  it('a listing whose continuation token repeats is an error naming the answer (ls, download)', async function () {
    // The proxy answers the first page again by dropping the token from the request, signed again with the keys (test/harness/proxy.ts, resigned).
    proxy.setFaults({lie: r => (isList(r) ? 'repeat-token' : undefined)})
    for (const args of [['ls', `s3://${bucket}/small/`], ['ls', `s3://${bucket}/small/*`], ['download', `s3://${bucket}/small`, mk('loop')]]) {
      const r = await runBounded(args)
      assert.equal(r.killed, false, `${args[0]} did not end`)
      assert.notEqual(r.code, 0, r.stdout + r.stderr)
      assert.match(r.stderr, /a NextContinuationToken it was sent before \("same-token-again"\)/)
      assert.equal(r.stderr.trim().split('\n').filter(l => /NextContinuationToken/.test(l)).length, 1, r.stderr)
    }
  })

  it('a listing whose tokens come round again (A, B, A) is an error naming the answer', async function () {
    proxy.setFaults({lie: r => (isList(r) ? 'token-cycle' : undefined)})
    for (const args of [['ls', `s3://${bucket}/small/`], ['download', `s3://${bucket}/small`, mk('cycle')]]) {
      const r = await runBounded(args)
      assert.equal(r.killed, false, `${args[0]} did not end`)
      assert.notEqual(r.code, 0, r.stdout + r.stderr)
      assert.match(r.stderr, /a NextContinuationToken it was sent before \("A"\)/)
    }
  })

  for (const [lie, token] of [['repeat-token', 'same-token-again'], ['token-cycle', 'A']] as const) {
    it(`ls of the buckets: a ListBuckets answer '${lie}' is one line naming it, exit 3`, async function () {
      proxy.setFaults({lie: r => (r.method === 'GET' && r.path === '/' ? lie : undefined)})
      proxy.reset()
      const r = await runBounded(['ls'])
      assert.equal(r.killed, false, 'ls did not end')
      assert.equal(r.code, 3, r.stdout + r.stderr)
      assert.match(r.stderr, new RegExp(`^s3c.*ListBuckets at .* answered next markers it was sent before \\(\\["${token}"\\]\\)`))
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.ok(proxy.count('GET', q => q.path === '/') <= 3)
    })
  }

  it('a truncated listing without a token is an error naming the answer (ls, download, rm)', async function () {
    proxy.setFaults({lie: r => (isList(r) ? 'no-token' : undefined)})
    const dst = mk('notoken')
    for (const args of [['ls', `s3://${bucket}/small/`], ['download', `s3://${bucket}/small`, dst], ['rm', `s3://${bucket}/small/`]]) {
      const r = await runBounded(args)
      assert.equal(r.killed, false)
      assert.notEqual(r.code, 0, `${args[0]}: ${r.stdout}${r.stderr}`)
      assert.match(r.stderr, /IsTruncated=true without a NextContinuationToken/)
    }
    proxy.setFaults({})
    assert.equal((await listKeys(bucket, 'small/')).get('small/a.bin'), small.length, 'rm deleted nothing')
  })
  /*
   * The listings that page by markers (nextMarkers in src/s3/storage.ts): ListObjectVersions
   * (ls --all-versions) and ListMultipartUploads (cleanup, rb --force). A server that repeats its
   * markers, cycles them, or says truncated without one: one line naming its answer, exit 3, and
   * nothing deleted.
   */
  const MARKER_LIES: [MarkerLie, RegExp][] = [
    ['repeat-marker', /answered next markers it was sent before \(\["same-marker-again"/],
    ['marker-cycle', /answered next markers it was sent before \(\["A"/],
    ['no-marker', /answered IsTruncated=true without a next marker/],
  ]
  const isVersions = (r: RecordedRequest) => r.method === 'GET' && /(^|&)versions(=|&|$)/.test(r.query)
  const isUploads = (r: RecordedRequest) => r.method === 'GET' && /(^|&)uploads(=|&|$)/.test(r.query)
  /** Deletions and aborts the proxy saw (DeleteObject(s), AbortMultipartUpload, DeleteBucket). */
  const deletions = () => proxy.count('DELETE') + proxy.count('POST', r => /(^|&)delete(=|&|$)/.test(r.query))
  const oneLine = (r: CliResult, what: RegExp) => {
    assert.equal(r.code, 3, r.stdout + r.stderr)
    assert.match(r.stderr, what)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  }

  for (const [lie, said] of MARKER_LIES) {
    it(`ls --all-versions: a ListObjectVersions answer '${lie}' is one line naming it, exit 3`, async function () {
      proxy.setFaults({lie: r => (isVersions(r) ? lie : undefined)})
      proxy.reset()
      const r = await runBounded(['ls', `s3://${bucket}/small/`, '--all-versions'])
      assert.equal(r.killed, false, 'ls did not end')
      oneLine(r, new RegExp(`^s3c.*ListObjectVersions of s3://${bucket}/small/ ${said.source}`))
      assert.ok(proxy.count('GET', isVersions) <= 3, `${proxy.count('GET', isVersions)} listings sent`)
    })

    it(`cleanup: a ListMultipartUploads answer '${lie}' is one line naming it, exit 3; nothing deleted or aborted`, async function () {
      const b = await newBucket('mkclean')
      await putObject(b, 'arch/a.tar.s3c-tmp-1', Buffer.from('left by a killed tar create'))
      const c = s3Client()
      try {
        const {UploadId} = await c.send(new CreateMultipartUploadCommand({Bucket: b, Key: 'arch/a.tar'}))
        proxy.setFaults({lie: r => (isUploads(r) ? lie : undefined)})
        proxy.reset()
        const r = await runBounded(['cleanup', `s3://${b}/arch/`])
        assert.equal(r.killed, false, 'cleanup did not end')
        oneLine(r, new RegExp(`^s3c.*ListMultipartUploads of s3://${b}/arch/ ${said.source}`))
        assert.equal(deletions(), 0, 'nothing deleted or aborted')
        assert.deepEqual([...(await listKeys(b)).keys()], ['arch/a.tar.s3c-tmp-1'])
        // Where the server lists uploads (not fauxqs), the upload is still there.
        const listed = await c.send(new ListMultipartUploadsCommand({Bucket: b})).catch(() => undefined)
        if (listed?.Bucket) assert.deepEqual((listed.Uploads ?? []).map(u => u.UploadId), [UploadId])
      } finally {
        c.destroy()
      }
    })

    it(`rb --force: a ListMultipartUploads answer '${lie}' is one line naming it, exit 3; no object deleted, the bucket kept`, async function () {
      const b = await newBucket('mkrb')
      await putObject(b, 'a.txt', Buffer.from('a'))
      await putObject(b, 'd/b.txt', Buffer.from('b'))
      proxy.setFaults({lie: r => (isUploads(r) ? lie : undefined)})
      proxy.reset()
      const r = await runBounded(['rb', `s3://${b}`, '--force'])
      assert.equal(r.killed, false, 'rb did not end')
      oneLine(r, new RegExp(`^s3c.*ListMultipartUploads of s3://${b}/ ${said.source}`))
      assert.equal(deletions(), 0, 'nothing deleted')
      assert.deepEqual([...(await listKeys(b)).keys()].sort(), ['a.txt', 'd/b.txt'])
    })
  }
})
