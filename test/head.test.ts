import assert from 'node:assert/strict'
import {runCli} from './harness/cli.js'
import {newBucket} from './harness/hooks.js'
import {putObjects} from './harness/verbs.js'

describe('s3c head / stat', function () {
  let bucket: string
  before(async function () {
    bucket = await newBucket('head')
    await putObjects(bucket, {'with-mtime.txt': 'abc'}, {metadata: {mtime: '1700000000.123456789', owner: 'me'}})
    await putObjects(bucket, {'plain.txt': 'abcd'})
  })

  it('--json: size, ETag, mtime by the time rule (the mtime metadata), content type, storage class, metadata', async function () {
    const r = await runCli(['head', `s3://${bucket}/with-mtime.txt`, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const info = JSON.parse(r.stdout)
    assert.equal(info.size, 3)
    assert.match(info.etag, /^"[0-9a-f]{32}"$/)
    assert.equal(info.mtime, '1700000000.123456789')
    assert.equal(info.mtimeFrom, 'metadata')
    assert.equal(info.storageClass, 'STANDARD')
    assert.deepEqual(info.metadata, {mtime: '1700000000.123456789', owner: 'me'})
    assert.equal(typeof info.contentType, 'string')
  })

  it('stat is the same command; an object without mtime metadata has Last-Modified in whole seconds', async function () {
    const r = await runCli(['stat', `s3://${bucket}/plain.txt`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Size: +4$/m)
    assert.match(r.stdout, /^Modified: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(Last-Modified, whole seconds\)$/m)
    const j = JSON.parse((await runCli(['stat', `s3://${bucket}/plain.txt`, '--json'])).stdout)
    assert.equal(j.mtime, String(Math.floor(Date.parse(j.lastModified) / 1000)))
  })

  it('a missing key or bucket: one line, exit 2', async function () {
    const k = await runCli(['head', `s3://${bucket}/nope`])
    assert.equal(k.code, 2)
    assert.equal(k.stderr.trim().split('\n').length, 1)
    assert.match(k.stderr, /nope does not exist/)
    const b = await runCli(['stat', `s3://${bucket}-missing/nope`, '--json'])
    assert.equal(b.code, 2)
    assert.match(JSON.parse(b.stdout).error, /bucket .* does not exist/)
  })
})
