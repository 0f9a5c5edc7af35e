import assert from 'node:assert/strict'
import {runCli} from './harness/cli.js'
import {newBucket} from './harness/hooks.js'
import {putObjects} from './harness/verbs.js'

describe('s3c du', function () {
  let bucket: string
  before(async function () {
    bucket = await newBucket('du')
    await putObjects(bucket, {'logs/a.gz': Buffer.alloc(1000), 'logs/b/c.gz': Buffer.alloc(2000), 'logs/d.txt': Buffer.alloc(5), 'x': Buffer.alloc(1)})
  })

  it('counts objects and bytes under a prefix, by wildcard, --humanize, --group by storage class, --json', async function () {
    const r = await runCli(['du', `s3://${bucket}/logs/`])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), `3005 bytes in 3 objects: s3://${bucket}/logs/`)
    const w = await runCli(['du', `s3://${bucket}/logs/*.gz`, '--humanize'])
    assert.equal(w.stdout.trim(), `2.9 KiB in 2 objects: s3://${bucket}/logs/*.gz`)
    const g = await runCli(['du', `s3://${bucket}`, '--group'])
    assert.equal(g.stdout.trim(), `3006 bytes in 4 objects: s3://${bucket} [STANDARD]`)
    const j = JSON.parse((await runCli(['du', `s3://${bucket}/logs`, '--json'])).stdout)
    assert.deepEqual({count: j.count, size: j.size, groups: j.groups}, {count: 3, size: 3005, groups: [{storageClass: 'STANDARD', count: 3, size: 3005}]})
  })

  it('nothing matched, or a missing bucket: one line, exit 2', async function () {
    for (const url of [`s3://${bucket}/none/`, `s3://${bucket}/*.zip`, `s3://${bucket}-missing/`]) {
      const r = await runCli(['du', url])
      assert.equal(r.code, 2, url)
      assert.equal(r.stderr.trim().split('\n').length, 1)
    }
  })
})
