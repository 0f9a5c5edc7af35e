import assert from 'node:assert/strict'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {HeadObjectCommand} from '@aws-sdk/client-s3'
import {runCli} from './harness/cli.js'
import {harness, newBucket, s3Client} from './harness/hooks.js'
import {copyObject, getObject, listKeys, putObject} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {compareTrees, makeTree} from './harness/tree.js'

const MiB = 1024 * 1024

async function head(bucket: string, key: string) {
  const c = s3Client()
  try {
    return await c.send(new HeadObjectCommand({Bucket: bucket, Key: key}))
  } finally {
    c.destroy()
  }
}

/** An object of `size` bytes, built from 8 MiB PUTs and server-side copies when larger than one PUT the test server takes. */
async function bigObject(bucket: string, key: string, size: number): Promise<Buffer> {
  const body = Buffer.alloc(size)
  for (let i = 0; i < size; i += 4096) body.writeUInt32BE(i / 4096, i)
  const c = s3Client()
  try {
    const {CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand} = await import('@aws-sdk/client-s3')
    const up = await c.send(new CreateMultipartUploadCommand({Bucket: bucket, Key: key, ContentType: 'application/x-big', Metadata: {owner: 'alice'}}))
    const parts = []
    for (let at = 0, n = 1; at < size; at += 5 * MiB, n++) {
      const r = await c.send(new UploadPartCommand({Bucket: bucket, Key: key, UploadId: up.UploadId, PartNumber: n, Body: body.subarray(at, Math.min(size, at + 5 * MiB))}))
      parts.push({PartNumber: n, ETag: r.ETag})
    }
    await c.send(new CompleteMultipartUploadCommand({Bucket: bucket, Key: key, UploadId: up.UploadId, MultipartUpload: {Parts: parts}}))
  } finally {
    c.destroy()
  }
  return body
}

describe('cp and mv', function () {
  const dirs: string[] = []
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  it('local→S3 and S3→local: a folder, one file into a prefix, one object into a folder', async function () {
    const src = mk('cpsrc')
    makeTree(src, {files: 40, depth: 3, big: [{rel: 'big/ten.bin', size: 10 * MiB}]})
    const bucket = await newBucket('cpl')
    const up = await runCli(['cp', src, `s3://${bucket}/tree/`, '--json'])
    assert.equal(up.code, 0, up.stderr)
    assert.equal(JSON.parse(up.stdout).filesDone, 41)
    const dst = mk('cpdst')
    const down = await runCli(['cp', `s3://${bucket}/tree/`, dst])
    assert.equal(down.code, 0, down.stderr)
    assert.deepEqual(compareTrees(src, dst), [])
    // cp copies again what is there (no skip by time), unlike upload.
    const again = await runCli(['cp', src, `s3://${bucket}/tree/`, '--json'])
    assert.equal(JSON.parse(again.stdout).filesDone, 41)

    writeFileSync(join(src, 'one.txt'), 'one file')
    assert.equal((await runCli(['cp', join(src, 'one.txt'), `s3://${bucket}/into/`])).code, 0)
    assert.equal((await getObject(bucket, 'into/one.txt')).toString(), 'one file')
    const into = mk('into')
    const r = await runCli(['cp', `s3://${bucket}/into/one.txt`, `${into}/`])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readFileSync(join(into, 'one.txt'), 'utf8'), 'one file')
  })

  it('-n, --if-size-differ, --if-source-newer skip what the destination has, in each direction', async function () {
    const src = mk('cond')
    writeFileSync(join(src, 'a.txt'), 'new content')
    writeFileSync(join(src, 'b.txt'), 'bbbb')
    const bucket = await newBucket('cond')
    await putObject(bucket, 'c/a.txt', Buffer.from('old'))
    await putObject(bucket, 'c/b.txt', Buffer.from('BBBB'))
    const n = await runCli(['cp', '-n', src + '/', `s3://${bucket}/c/`, '--json'])
    assert.equal(n.code, 0, n.stderr)
    assert.equal(JSON.parse(n.stdout).filesSkipped, 2)
    assert.equal((await getObject(bucket, 'c/a.txt')).toString(), 'old')
    const size = await runCli(['cp', '--if-size-differ', src + '/', `s3://${bucket}/c/`, '--json'])
    assert.equal(JSON.parse(size.stdout).filesDone, 1)
    assert.equal((await getObject(bucket, 'c/a.txt')).toString(), 'new content')
    assert.equal((await getObject(bucket, 'c/b.txt')).toString(), 'BBBB')
    // The objects are newer than the local files now.
    const newer = await runCli(['cp', '--if-source-newer', src + '/', `s3://${bucket}/c/`, '--json'])
    assert.equal(JSON.parse(newer.stdout).filesSkipped, 2)
    // S3→S3 and S3→local.
    await putObject(bucket, 'd/a.txt', Buffer.from('other'))
    const s3 = await runCli(['cp', '-n', `s3://${bucket}/c/`, `s3://${bucket}/d/`, '--json'])
    assert.equal(s3.code, 0, s3.stderr)
    assert.deepEqual([JSON.parse(s3.stdout).filesDone, JSON.parse(s3.stdout).filesSkipped], [1, 1])
    assert.equal((await getObject(bucket, 'd/a.txt')).toString(), 'other')
    const local = await runCli(['cp', '-n', `s3://${bucket}/c/`, src, '--json'])
    assert.equal(JSON.parse(local.stdout).filesSkipped, 2)
    assert.equal(readFileSync(join(src, 'b.txt'), 'utf8'), 'bbbb')
  })

  it('S3→S3 sends no object bytes through the client: CopyObject per object, UploadPartCopy parts for a large one, metadata kept', async function () {
    const bucket = await newBucket('cps')
    const other = await newBucket('cpo')
    for (let i = 0; i < 20; i++) await putObject(bucket, `src/d${i % 3}/f${i}.txt`, Buffer.from(`object ${i}`))
    const big = await bigObject(bucket, 'src/big.bin', 12 * MiB)
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const r = await runCli(['cp', `s3://${bucket}/src/`, `s3://${other}/dst/`, '--copy-threshold', '6MiB', '--copy-part-size', '5MiB', '--json'],
        {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).filesDone, 21)
      assert.equal(proxy.count('GET', q => !q.query.includes('list-type') && !/^\/[^/]+\/?$/.test(q.path)), 0, 'no GET of object data')
      assert.equal(proxy.count('PUT', q => q.copySource !== undefined && !q.query.includes('uploadId')), 20, 'CopyObject per small object')
      assert.equal(proxy.count('PUT', q => q.copySource !== undefined && q.query.includes('uploadId')), 3, '12 MiB in 5 MiB copied parts')
      assert.equal(proxy.count('PUT', q => q.copySource === undefined), 0, 'no PUT with a body')
      // The source's bucket check reads the listing's first page; the other bucket is checked once.
      assert.deepEqual(proxy.requests.filter(q => q.query.includes('list-type')).map(q => q.path).sort(), [`/${bucket}`, `/${other}`].sort())
      proxy.reset()
      const same = await runCli(['cp', `s3://${bucket}/src/d1/*`, `s3://${bucket}/copy/`, '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(same.code, 0, same.stderr)
      assert.equal(JSON.parse(same.stdout).filesDone, 7)
      assert.equal(proxy.count('GET', q => q.query.includes('list-type')), 1, 'within one bucket: one LIST in all')
    } finally {
      await proxy.stop()
    }
    const keys = await listKeys(other, 'dst/')
    assert.equal(keys.size, 21)
    assert.equal((await getObject(other, 'dst/d1/f4.txt')).toString(), 'object 4')
    assert.ok((await getObject(other, 'dst/big.bin')).equals(big))
    const h = await head(other, 'dst/big.bin')
    assert.equal(h.ContentType, 'application/x-big')
    assert.equal(h.Metadata?.owner, 'alice')
  })

  it('S3→S3 one object, a wildcard (names after its folder), --flatten, --metadata replaces, onto itself refused', async function () {
    const bucket = await newBucket('cpw')
    await putObject(bucket, 'logs/2020/a.gz', Buffer.from('a'))
    await putObject(bucket, 'logs/2020/x/b.gz', Buffer.from('b'))
    await putObject(bucket, 'logs/2020/c.txt', Buffer.from('c'))
    await putObject(bucket, 'logs/2021/d.gz', Buffer.from('d'))
    const w = await runCli(['cp', `s3://${bucket}/logs/2020/*.gz`, `s3://${bucket}/out/`])
    assert.equal(w.code, 0, w.stderr)
    assert.deepEqual([...(await listKeys(bucket, 'out/')).keys()].sort(), ['out/a.gz', 'out/x/b.gz'])
    const f = await runCli(['cp', `s3://${bucket}/logs/*.gz`, `s3://${bucket}/flat/`, '--flatten', '--exclude', '2021/*'])
    assert.equal(f.code, 0, f.stderr)
    assert.deepEqual([...(await listKeys(bucket, 'flat/')).keys()].sort(), ['flat/a.gz', 'flat/b.gz'])
    const one = await runCli(['cp', `s3://${bucket}/logs/2020/c.txt`, `s3://${bucket}/one.txt`, '--metadata', 'owner=bob', '--content-type', 'text/plain'])
    assert.equal(one.code, 0, one.stderr)
    const h = await head(bucket, 'one.txt')
    assert.deepEqual([h.Metadata?.owner, h.ContentType], ['bob', 'text/plain'])
    const self = await runCli(['cp', `s3://${bucket}/one.txt`, `s3://${bucket}/one.txt`])
    assert.equal(self.code, 2)
    assert.equal(self.stderr.trim().split('\n').length, 1)
    assert.match(self.stderr, /onto itself/)
    const selfDir = await runCli(['cp', `s3://${bucket}/logs/`, `s3://${bucket}/logs`])
    assert.equal(selfDir.code, 2)
    const none = await runCli(['cp', `s3://${bucket}/logs/*.zip`, `s3://${bucket}/z/`])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /no object matches/)
    const missing = await runCli(['cp', `s3://${bucket}/nope.txt`, `s3://${bucket}/z/`])
    assert.equal(missing.code, 2, missing.stderr)
    const noBucket = await runCli(['cp', `s3://${bucket}/one.txt`, `s3://no-such-bucket-${Date.now()}/z/`])
    assert.equal(noBucket.code, 3, noBucket.stderr)
    assert.equal(noBucket.stderr.trim().split('\n').length, 1)
    const badMeta = await runCli(['cp', `s3://${bucket}/one.txt`, `s3://${bucket}/two.txt`, '--metadata', 'novalue'])
    assert.equal(badMeta.code, 2)
    const local = await runCli(['cp', '/tmp', '/var'])
    assert.equal(local.code, 2)
  })

  it('mv: S3→S3 deletes each source after its copy; local→S3 removes the files; S3→local deletes the objects', async function () {
    const bucket = await newBucket('mv')
    for (let i = 0; i < 10; i++) await putObject(bucket, `in/f${i}.txt`, Buffer.from(`f${i}`))
    await bigObject(bucket, 'in/big.bin', 11 * MiB)
    const r = await runCli(['mv', `s3://${bucket}/in/`, `s3://${bucket}/out/`, '--copy-threshold', '6MiB', '--copy-part-size', '5MiB'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal((await listKeys(bucket, 'in/')).size, 0)
    assert.equal((await listKeys(bucket, 'out/')).size, 11)
    const src = mk('mvsrc')
    mkdirSync(join(src, 'sub'))
    writeFileSync(join(src, 'sub', 'x.txt'), 'x')
    writeFileSync(join(src, 'y.txt'), 'y')
    const up = await runCli(['mv', src, `s3://${bucket}/up/`])
    assert.equal(up.code, 0, up.stderr)
    assert.ok(!existsSync(join(src, 'y.txt')) && !existsSync(join(src, 'sub', 'x.txt')))
    const dst = mk('mvdst')
    const down = await runCli(['mv', `s3://${bucket}/up/`, dst])
    assert.equal(down.code, 0, down.stderr)
    assert.equal(readFileSync(join(dst, 'sub', 'x.txt'), 'utf8'), 'x')
    assert.equal((await listKeys(bucket, 'up/')).size, 0)
  })

  it('mv keeps a source whose copy failed', async function () {
    const bucket = await newBucket('mvf')
    await putObject(bucket, 'in/ok.txt', Buffer.from('ok'))
    await putObject(bucket, 'in/bad.txt', Buffer.from('bad'))
    const proxy = await startProxy(harness().s3.endpoint, {alwaysFail: (p, q) => p.endsWith('/out/bad.txt') && q.method === 'PUT'})
    try {
      const r = await runCli(['mv', `s3://${bucket}/in/`, `s3://${bucket}/out/`, '--max-retry', '0'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 1, r.stderr)
    } finally {
      await proxy.stop()
    }
    assert.deepEqual([...(await listKeys(bucket, 'in/')).keys()], ['in/bad.txt'])
    assert.deepEqual([...(await listKeys(bucket, 'out/')).keys()], ['out/ok.txt'])
    void copyObject
  })
})

describe('S3→S3 copies on the fast path', function () {
  it('a CopyObject answered 200 with an error body is sent again; the copies carry settings and keep or replace metadata', async function () {
    const bucket = await newBucket('cpf')
    await putObject(bucket, 'src/a.txt', Buffer.from('alpha'))
    await putObject(bucket, 'src/b.txt', Buffer.from('beta'))
    const proxy = await startProxy(harness().s3.endpoint, {errorBody200: r => r.copySource !== undefined, errorBody200Times: 1})
    try {
      const r = await runCli(['cp', `s3://${bucket}/src/*`, `s3://${bucket}/dst/`, '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(proxy.injected.errorBody, 1)
      assert.equal(proxy.count('PUT', q => q.copySource !== undefined), 3, 'two copies, one of them twice')
      assert.equal(JSON.parse(r.stdout).filesDone, 2)
    } finally {
      await proxy.stop()
    }
    assert.equal((await getObject(bucket, 'dst/a.txt')).toString(), 'alpha')
    assert.equal((await getObject(bucket, 'dst/b.txt')).toString(), 'beta')
    const replaced = await runCli(['cp', `s3://${bucket}/src/a.txt`, `s3://${bucket}/meta/a.txt`, '--content-type', 'text/x-alpha', '--metadata', 'team=blue'])
    assert.equal(replaced.code, 0, replaced.stderr)
    const h = await head(bucket, 'meta/a.txt')
    assert.equal(h.ContentType, 'text/x-alpha')
    assert.equal(h.Metadata?.team, 'blue')
  })
})

describe('S3→S3 copies on BullMQ workers', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  it('cp of 1,500 objects and a large one on two workers, one SIGKILLed mid-run: every object copied exactly, no bytes through the client', async function () {
    const {spawnCli} = await import('./harness/cli.js')
    const {waitFor} = await import('./harness/wait.js')
    const src = mkdtempSync(join(tmpdir(), 's3c-cpbq-'))
    dirs.push(src)
    makeTree(src, {files: 1500, depth: 5, big: [{rel: 'big/twelve.bin', size: 12 * MiB}]})
    const bucket = await newBucket('cpbq')
    const other = await newBucket('cpbqo')
    assert.equal((await runCli(['upload', src, `s3://${bucket}/t`])).code, 0)
    const proxy = await startProxy(harness().s3.endpoint)
    const env = {AWS_ENDPOINT_URL: proxy.endpoint, S3C_REDIS_URL: harness().redis.url}
    const worker = () => spawnCli(['worker', '--concurrency', '8', '--stalled-seconds', '2'], {env})
    const doomed = worker()
    const survivor = worker()
    try {
      const run = spawnCli(['cp', `s3://${bucket}/t/`, `s3://${other}/c/`, '--copy-threshold', '6MiB', '--copy-part-size', '5MiB', '--json'], {env})
      await waitFor(() => proxy.count('PUT', r => r.copySource !== undefined) >= 200)
      doomed.child.kill('SIGKILL')
      const r = await run.done
      assert.equal(r.code, 0, r.stderr + r.stdout)
      const s = JSON.parse(r.stdout)
      assert.equal(s.filesDone + s.filesSkipped, 1501)
      assert.match(r.stderr, /run \d{8}-[0-9a-f]{8}/)
      assert.equal(proxy.count('GET', q => !q.query.includes('list-type')), 0, 'no GET of object data')
      assert.equal(proxy.count('PUT', q => q.copySource === undefined), 0, 'no PUT with a body')
    } finally {
      survivor.child.kill('SIGTERM')
      await Promise.all([doomed.done, survivor.done])
      await proxy.stop()
    }
    const dst = mkdtempSync(join(tmpdir(), 's3c-cpbqd-'))
    dirs.push(dst)
    assert.equal((await runCli(['download', `s3://${other}/c`, dst])).code, 0)
    assert.deepEqual(compareTrees(src, dst), [])
  })
})
