import assert from 'node:assert/strict'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {getObject} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {seededBytes} from './harness/tree.js'

const MiB = 1024 * 1024

describe('pipe', function () {
  it('a stream larger than one part: a multipart upload of 5 MiB parts, the object byte-exact', async function () {
    const bucket = await newBucket('pipe')
    const body = seededBytes(7, 23 * MiB + 12345)
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const r = await runCli(['pipe', `s3://${bucket}/stream.bin`, '--part-size', '5MiB', '--json'], {input: body, env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual([JSON.parse(r.stdout).bytes, JSON.parse(r.stdout).parts], [body.length, 5])
      assert.equal(proxy.count('PUT', q => q.query.includes('partNumber')), 5)
    } finally {
      await proxy.stop()
    }
    assert.ok((await getObject(bucket, 'stream.bin')).equals(body))
  })

  it('a small stream is one PUT; an empty one an empty object; bad input is one line', async function () {
    const bucket = await newBucket('pipes')
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const r = await runCli(['pipe', `s3://${bucket}/small.txt`, '--metadata', 'owner=alice'], {input: Buffer.from('hello'), env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(proxy.count('PUT'), 1)
      assert.equal(proxy.count('POST'), 0, 'no multipart upload')
    } finally {
      await proxy.stop()
    }
    assert.equal((await getObject(bucket, 'small.txt')).toString(), 'hello')
    assert.equal((await runCli(['pipe', `s3://${bucket}/empty`], {input: Buffer.alloc(0)})).code, 0)
    assert.equal((await getObject(bucket, 'empty')).length, 0)
    for (const args of [['pipe', `s3://${bucket}/`], ['pipe', './local'], ['pipe', `s3://${bucket}/x`, '--part-size', '1MiB']]) {
      const bad = await runCli(args, {input: Buffer.from('x')})
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`)
      assert.equal(bad.stderr.trim().split('\n').length, 1)
    }
  })
})
