import assert from 'node:assert/strict'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {listKeys} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {putObjects} from './harness/verbs.js'

const isDeleteObjects = (r: {method: string; query: string}) => r.method === 'POST' && /(^|&)delete(=|&|$)/.test(r.query)
const isListing = (r: {method: string; query: string}) => r.method === 'GET' && r.query.includes('list-type=2')

function keysOf(n: number, prefix: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < n; i++) out[`${prefix}${String(i).padStart(5, '0')}`] = 'x'
  return out
}

describe('s3c rm', function () {
  it('removes 2,500 keys under a prefix with 3 DeleteObjects and the listings (counted by the proxy)', async function () {
    const bucket = await newBucket('rm')
    await putObjects(bucket, {...keysOf(2500, 'many/'), 'keep/a': 'a', manyx: 'not under many/'})
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const r = await runCli(['rm', `s3://${bucket}/many/`, '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      const summary = JSON.parse(r.stdout)
      assert.equal(summary.removed, 2500)
      assert.equal(summary.failed, 0)
      assert.equal(summary.requests, 3)
      assert.equal(proxy.count(undefined, isDeleteObjects), 3)
      assert.equal(proxy.count(undefined, isListing), 3)
      assert.equal(proxy.requests.length, 6)
      assert.deepEqual([...(await listKeys(bucket)).keys()].sort(), ['keep/a', 'manyx'])
    } finally {
      await proxy.stop()
    }
  })

  it('2,500 keys named one by one (and one twice) go in 3 DeleteObjects, with no listing at all', async function () {
    const bucket = await newBucket('rm-named')
    const keys = Object.keys(keysOf(2500, 'n/'))
    await putObjects(bucket, {...keysOf(2500, 'n/'), 'n/keep': 'k'})
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const urls = [...keys, keys[7]].map(k => `s3://${bucket}/${k}`)
      const r = await runCli(['rm', ...urls, '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).failed, 0)
      assert.equal(proxy.count(undefined, isDeleteObjects), 3)
      assert.equal(proxy.count(undefined, isListing), 0)
      assert.equal(proxy.requests.length, 3, 'nothing but the deletes')
      assert.deepEqual([...(await listKeys(bucket)).keys()], ['n/keep'])
    } finally {
      await proxy.stop()
    }
  })

  it('takes many arguments: keys, wildcards (* crosses "/") and prefixes; --dry-run prints what would go and deletes nothing', async function () {
    const bucket = await newBucket('rm-args')
    await putObjects(bucket, {'a.txt': '1', 'b.txt': '2', 'logs/x.gz': '3', 'logs/deep/y.gz': '4', 'logs/z.log': '5', 'tmp/1': '6', 'tmp/2/3': '7'})
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const args = ['rm', `s3://${bucket}/a.txt`, `s3://${bucket}/logs/*.gz`, `s3://${bucket}/tmp/`]
      const dry = await runCli([...args, '--dry-run'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(dry.code, 0, dry.stderr)
      assert.deepEqual(dry.stdout.trimEnd().split('\n'), [
        `rm s3://${bucket}/a.txt`, `rm s3://${bucket}/logs/deep/y.gz`, `rm s3://${bucket}/logs/x.gz`, `rm s3://${bucket}/tmp/1`, `rm s3://${bucket}/tmp/2/3`,
        'rm (dry run): would remove 5 objects',
      ])
      assert.equal(proxy.count(undefined, isDeleteObjects), 0)
      assert.equal((await listKeys(bucket)).size, 7)
      const r = await runCli(args)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /rm: 5 removed, 0 failed/)
      assert.deepEqual([...(await listKeys(bucket)).keys()].sort(), ['b.txt', 'logs/z.log'])
    } finally {
      await proxy.stop()
    }
  })

  it('reports the keys of a DeleteObjects that failed for good, removes the rest, exit 1', async function () {
    const bucket = await newBucket('rm-fail')
    await putObjects(bucket, keysOf(2500, 'k/'))
    let deletes = 0
    const proxy = await startProxy(harness().s3.endpoint, {alwaysFail: (_path, r) => isDeleteObjects(r) && ++deletes === 2})
    try {
      const r = await runCli(['rm', `s3://${bucket}/k/`, '--max-retry', '0', '--thread-count', '1', '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 1, r.stderr)
      const summary = JSON.parse(r.stdout)
      assert.equal(summary.removed, 1500)
      assert.equal(summary.failed, 1000)
      assert.equal(summary.failures[0].url, `s3://${bucket}/k/01000`)
      assert.match(summary.failures[0].error, /InternalError/)
      assert.match(r.stderr, /^failed: s3:\/\/.*\/k\/01000: /m)
      const left = [...(await listKeys(bucket)).keys()].sort()
      assert.equal(left.length, 1000)
      assert.equal(left[0], 'k/01000')
    } finally {
      await proxy.stop()
    }
  })

  it('bad input ends in one line and a non-zero exit: a whole bucket, a missing bucket, a wildcard that matches nothing', async function () {
    const bucket = await newBucket('rm-bad')
    await putObjects(bucket, {'a': '1'})
    const whole = await runCli(['rm', `s3://${bucket}`])
    assert.equal(whole.code, 2)
    assert.match(whole.stderr, /would empty the whole bucket/)
    const missing = await runCli(['rm', `s3://${bucket}-missing/x/`])
    assert.equal(missing.code, 2, missing.stderr)
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr)
    assert.match(missing.stderr, /does not exist/)
    const none = await runCli(['rm', `s3://${bucket}/*.zip`])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /no object matches/)
    assert.equal((await listKeys(bucket)).size, 1)
  })
})
