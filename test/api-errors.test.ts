import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {ListMultipartUploadsCommand} from '@aws-sdk/client-s3'
import {runCli} from './harness/cli.js'
import {harness, newBucket, s3Client} from './harness/hooks.js'
import {listKeys} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {seededBytes} from './harness/tree.js'
import {putObjects} from './harness/verbs.js'
import * as s3c from '../src/index.js'

/*
 * Issue 23, the library as a megfile or boto3 user reaches for it: every failure rejects (a
 * pipeline into or out of S3 too), with a stable `code`; exists and isDir; list and stat name
 * entries as `s3c ls --json` does; connect() binds the functions to one connection.
 */

const MiB = 1024 * 1024

/** A source of `parts` parts of 5 MiB and a bit, in 1 MiB chunks. */
function several(parts: number): Readable {
  const big = seededBytes(7, parts * 5 * MiB + 5)
  return Readable.from(Array.from({length: Math.ceil(big.length / MiB)}, (_, i) => big.subarray(i * MiB, (i + 1) * MiB)))
}

async function failure(p: Promise<unknown>): Promise<InstanceType<typeof s3c.S3cError>> {
  try {
    await p
  } catch (error) {
    assert.ok(error instanceof s3c.S3cError, `an S3cError, not ${String(error)}`)
    return error
  }
  assert.fail('did not reject')
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe('library API: failures reject with a code; exists, isDir; names as ls --json', function () {
  let bucket: string
  const conn = () => {
    const {s3} = harness()
    return {endpoint: s3.endpoint, region: s3.region, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}, maxRetry: 1}
  }
  before(async function () {
    bucket = await newBucket('apie')
    await putObjects(bucket, {'docs/a.txt': 'alpha', 'docs/sub/b.txt': 'beta!', 'docs/c.md': 'gamma', 'top.txt': 'top'})
  })

  it('pipeline into createWriteStream of a missing bucket, a source of several parts: rejects NoSuchBucket', async function () {
    const e = await failure(pipeline(several(3), s3c.createWriteStream('s3://s3c-no-such-bucket-here/x', {...conn(), partSize: 5 * MiB})))
    assert.equal(e.code, 'NoSuchBucket')
    assert.equal(e.exitCode, 3)
    assert.match(e.message, /bucket "s3c-no-such-bucket-here" does not exist/)
  })

  it('pipeline into createWriteStream refused mid-way (403 on the second part): rejects AccessDenied and the multipart upload is aborted', async function () {
    const proxy = await startProxy(harness().s3.endpoint, {deny: r => r.method === 'PUT' && /(^|&)partNumber=2(&|$)/.test(r.query)})
    try {
      const e = await failure(pipeline(several(4), s3c.createWriteStream(`s3://${bucket}/refused.bin`, {...conn(), endpoint: proxy.endpoint, partSize: 5 * MiB})))
      assert.equal(e.code, 'AccessDenied')
      assert.equal(proxy.count('DELETE', q => q.query.includes('uploadId')), 1, 'aborted')
    } finally {
      await proxy.stop()
    }
    assert.equal((await listKeys(bucket, 'refused')).size, 0)
    const uploads = await s3Client().send(new ListMultipartUploadsCommand({Bucket: bucket, Prefix: 'refused'}))
    assert.deepEqual(uploads.Uploads ?? [], [])
  })

  it('pipeline out of createReadStream of a missing key or bucket: rejects NotFound / NoSuchBucket, no local file left', async function () {
    const dir = mkdtempSync(join(tmpdir(), 's3c-apie-'))
    try {
      const missing = await failure(pipeline(s3c.createReadStream(`s3://${bucket}/docs/none`, conn()), s3c.createWriteStream(join(dir, 'out'))))
      assert.equal(missing.code, 'NotFound')
      assert.equal(missing.exitCode, 2)
      const noBucket = await failure(pipeline(s3c.createReadStream('s3://s3c-no-such-bucket-here/x', conn()), s3c.createWriteStream(join(dir, 'out'))))
      assert.equal(noBucket.code, 'NoSuchBucket')
      assert.deepEqual(readdirSync(dir), [])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('codes: NotFound, NoSuchBucket, AccessDenied (wrong keys, behind the signature-checking gate), InvalidArgument, ENOENT', async function () {
    assert.equal((await failure(s3c.stat(`s3://${bucket}/nope`, conn()))).code, 'NotFound')
    assert.equal((await failure(s3c.readFile(`s3://${bucket}/nope`, conn()))).code, 'NotFound')
    assert.equal((await failure(s3c.readFile('s3://s3c-no-such-bucket-here/x', conn()))).code, 'NoSuchBucket')
    assert.equal((await failure(collect(s3c.list('s3://s3c-no-such-bucket-here/', conn())))).code, 'NoSuchBucket')
    assert.equal((await failure(collect(s3c.list(`s3://${bucket}/nothing-here/`, conn())))).code, 'NotFound')
    // fauxqs accepts any keys: the gate in front of it checks the signatures.
    const gate = {...conn(), endpoint: harness().authEndpoint}
    assert.equal((await s3c.readFile(`s3://${bucket}/top.txt`, gate)).toString(), 'top')
    const wrong = {...gate, credentials: {accessKeyId: conn().credentials.accessKeyId, secretAccessKey: 'not-the-secret'}}
    for (const call of [() => s3c.stat(`s3://${bucket}/top.txt`, wrong), () => s3c.readFile(`s3://${bucket}/top.txt`, wrong),
      () => s3c.writeFile(`s3://${bucket}/w.txt`, 'w', wrong), () => s3c.copy(`s3://${bucket}/top.txt`, `s3://${bucket}/copied.txt`, wrong)]) {
      const e = await failure(call())
      assert.equal(e.code, 'AccessDenied', e.message)
      assert.equal(e.exitCode, 3)
    }
    assert.equal((await failure(s3c.copy(join(tmpdir(), 's3c-no-such-file-here'), `s3://${bucket}/x`, conn()))).code, 'ENOENT')
    assert.equal((await failure(s3c.readFile(`s3://${bucket}/docs/`, conn()))).code, 'InvalidArgument')
  })

  it('exists and isDir: a key, a prefix with something under it (with or without "/"), a bucket; missing → false', async function () {
    const c = conn()
    assert.equal(await s3c.exists(`s3://${bucket}/docs/a.txt`, c), true)
    assert.equal(await s3c.exists(`s3://${bucket}/docs`, c), true)
    assert.equal(await s3c.exists(`s3://${bucket}/docs/`, c), true)
    assert.equal(await s3c.exists(`s3://${bucket}`, c), true)
    assert.equal(await s3c.exists(`s3://${bucket}/doc`, c), false)
    assert.equal(await s3c.exists(`s3://${bucket}/nope.txt`, c), false)
    assert.equal(await s3c.exists('s3://s3c-no-such-bucket-here/x', c), false)
    assert.equal(await s3c.isDir(`s3://${bucket}/docs`, c), true)
    assert.equal(await s3c.isDir(`s3://${bucket}/docs/sub/`, c), true)
    assert.equal(await s3c.isDir(`s3://${bucket}/docs/a.txt`, c), false)
    assert.equal(await s3c.isDir(`s3://${bucket}/`, c), true)
    assert.equal(await s3c.isDir('s3://s3c-no-such-bucket-here/', c), false)
  })

  it('list and stat name entries as s3c ls --json: name relative to the folder listed, key the whole key', async function () {
    const r = await runCli(['ls', `s3://${bucket}/docs/`, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const cli = r.stdout.trim().split('\n').map(l => JSON.parse(l) as {key: string; name: string; url: string}).map(e => [e.url, e.key, e.name])
    const lib = (await collect(s3c.list(`s3://${bucket}/docs`, conn()))).map(e => [e.url, e.key, e.name])
    assert.deepEqual(lib, cli)
    assert.deepEqual(lib.map(e => e[2]), ['sub/', 'a.txt', 'c.md'])
    const globbed = await runCli(['ls', `s3://${bucket}/docs/*.txt`, '--json'])
    assert.deepEqual((await collect(s3c.glob(`s3://${bucket}/docs/*.txt`, conn()))).map(e => [e.key, e.name]),
      globbed.stdout.trim().split('\n').map(l => JSON.parse(l) as {key: string; name: string}).map(e => [e.key, e.name]))
    const st = await s3c.stat(`s3://${bucket}/docs/sub/b.txt`, conn())
    const head = JSON.parse((await runCli(['stat', `s3://${bucket}/docs/sub/b.txt`, '--json'])).stdout) as {key: string; size: number; etag: string}
    assert.deepEqual([st.key, st.name, st.size, st.etag], [head.key, 'b.txt', head.size, head.etag])
    assert.equal((await s3c.stat(`s3://${bucket}/docs/sub/`, conn())).name, 'sub/')
  })

  it('connect(): the functions bound to one connection; close() ends it', async function () {
    const proxy = await startProxy(harness().s3.endpoint)
    const c = await s3c.connect({...conn(), endpoint: proxy.endpoint})
    try {
      assert.equal((await c.readFile(`s3://${bucket}/top.txt`)).toString(), 'top')
      assert.equal(await c.exists(`s3://${bucket}/docs/`), true)
      assert.deepEqual((await collect(c.list(`s3://${bucket}/docs/`, {recursive: true}))).map(e => e.name), ['a.txt', 'c.md', 'sub/b.txt'])
      await c.writeFile(`s3://${bucket}/bound.txt`, 'bound')
      assert.equal((await c.stat(`s3://${bucket}/bound.txt`)).size, 5)
      assert.equal((await c.copy(`s3://${bucket}/bound.txt`, `s3://${bucket}/bound-copy.txt`)).filesDone, 1)
      assert.ok(proxy.count('GET') >= 1 && proxy.count('PUT') >= 1, 'every call went to the endpoint given to connect()')
    } finally {
      await c.close()
      await proxy.stop()
    }
    assert.equal((await failure(c.stat(`s3://${bucket}/bound.txt`))).code, 'InvalidArgument')
    assert.ok(!existsSync('bound.txt'))
  })
})
