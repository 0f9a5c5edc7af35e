import assert from 'node:assert/strict'
import {runCli} from './harness/cli.js'
import {newBucket} from './harness/hooks.js'
import {seededBytes} from './harness/tree.js'
import {putObjects} from './harness/verbs.js'

describe('s3c cat', function () {
  let bucket: string
  const body = seededBytes(7, 3 * 1024 * 1024 + 17)
  before(async function () {
    bucket = await newBucket('cat')
    await putObjects(bucket, {'data.bin': body, 'small.txt': 'hello world'})
  })

  it('streams the object to stdout, byte for byte', async function () {
    const r = await runCli(['cat', `s3://${bucket}/data.bin`])
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.stdoutBytes.equals(body))
  })

  it('--range START-END (inclusive), START-, -N and bytes=…', async function () {
    for (const [range, expected] of [['0-4', 'hello'], ['bytes=6-', 'world'], ['-5', 'world'], ['bytes=4-6', 'o w']] as const) {
      const r = await runCli(['cat', `s3://${bucket}/small.txt`, '--range', range])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, expected, range)
    }
  })

  it('a bad --range, a range beyond the end, a missing key or bucket: one line, exit 2', async function () {
    for (const args of [
      ['--range', '5-2'], ['--range', 'abc'], ['--range', '100-'],
    ]) {
      const r = await runCli(['cat', `s3://${bucket}/small.txt`, ...args])
      assert.equal(r.code, 2, `${args}: ${r.stderr}`)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.equal(r.stdout, '')
    }
    const key = await runCli(['cat', `s3://${bucket}/nope.txt`])
    assert.equal(key.code, 2)
    assert.match(key.stderr, /nope\.txt does not exist/)
    const b = await runCli(['cat', `s3://${bucket}-missing/x`])
    assert.equal(b.code, 2)
    assert.match(b.stderr, /bucket ".*-missing" does not exist/)
    const folder = await runCli(['cat', `s3://${bucket}/dir/`])
    assert.equal(folder.code, 2)
  })
})
