import assert from 'node:assert/strict'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {listKeys} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {putObjects} from './harness/verbs.js'

describe('s3c mb and rb', function () {
  it('mb makes a bucket and refuses an existing one with one line (exit 2); rb removes an empty one', async function () {
    const name = `s3c-mb-${process.pid}-${Date.now().toString(36)}`
    const r = await runCli(['mb', `s3://${name}`])
    assert.equal(r.code, 0, r.stderr)
    assert.equal((await runCli(['ls', `s3://${name}`])).code, 0)
    const again = await runCli(['mb', `s3://${name}`])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already exists/)
    assert.equal(again.stderr.trim().split('\n').length, 1)
    const bad = await runCli(['mb', 's3://Bad_Name'])
    assert.equal(bad.code, 2)
    const rb = await runCli(['rb', `s3://${name}`])
    assert.equal(rb.code, 0, rb.stderr)
    assert.equal((await runCli(['ls', `s3://${name}`])).code, 2)
  })

  it('rb refuses a non-empty bucket (exit 2, nothing deleted); --force empties it with batched deletes first', async function () {
    const bucket = await newBucket('rb')
    const objects: Record<string, string> = {}
    for (let i = 0; i < 1500; i++) objects[`k/${i}`] = 'x'
    await putObjects(bucket, objects)
    const refused = await runCli(['rb', `s3://${bucket}`])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /is not empty/)
    assert.equal(refused.stderr.trim().split('\n').length, 1)
    assert.equal((await listKeys(bucket)).size, 1500)
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const forced = await runCli(['rb', `s3://${bucket}`, '--force', '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(forced.code, 0, forced.stderr)
      assert.equal(JSON.parse(forced.stdout).objectsDeleted, 1500)
      assert.equal(proxy.count('POST', r => /(^|&)delete(=|&|$)/.test(r.query)), 2)
      assert.equal(proxy.count('DELETE', r => r.path === `/${bucket}` || r.path === `/${bucket}/`), 1)
    } finally {
      await proxy.stop()
    }
    const gone = await runCli(['rb', `s3://${bucket}`])
    assert.equal(gone.code, 2)
    assert.match(gone.stderr, /does not exist/)
  })
})
