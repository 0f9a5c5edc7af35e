import assert from 'node:assert/strict'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {startProxy} from './harness/proxy.js'
import {ndjson, putObjects} from './harness/verbs.js'

describe('s3c ls', function () {
  let bucket: string
  before(async function () {
    bucket = await newBucket('ls')
    await putObjects(bucket, {
      'top.txt': 'top', 'logs/2020-01.gz': 'a', 'logs/2021-01.gz': 'bb', 'logs/eu/2020-02.gz': 'ccc', 'logs/eu/deep/2020-03.gz': 'dddd', 'other/x': '12345',
    })
  })

  it('without an argument lists the buckets', async function () {
    const r = await runCli(['ls'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^\\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d  s3://${bucket}$`, 'm'))
  })

  it('s3://b/prefix/ lists one level: DIR lines for the folders, then objects with date, size and name (s5cmd\'s columns)', async function () {
    const r = await runCli(['ls', `s3://${bucket}/logs/`])
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trimEnd().split('\n')
    assert.equal(lines.length, 3)
    assert.match(lines[0], /^ +DIR eu\/$/)
    assert.match(lines[1], /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d +1 2020-01\.gz$/)
    assert.match(lines[2], / +2 2021-01\.gz$/)
    const root = await runCli(['ls', `s3://${bucket}`])
    assert.deepEqual(root.stdout.trimEnd().split('\n').map(l => l.trim().split(/\s+/).pop()), ['logs/', 'other/', 'top.txt'])
  })

  it('wildcards anywhere in the key list recursively from the literal prefix only (* crosses "/")', async function () {
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const r = await runCli(['ls', `s3://${bucket}/logs/*2020-*.gz`], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(r.stdout.trimEnd().split('\n').map(l => l.trim().split(/\s+/).pop()), ['2020-01.gz', 'eu/2020-02.gz', 'eu/deep/2020-03.gz'])
      const listings = proxy.requests.filter(q => q.query.includes('list-type=2'))
      assert.equal(listings.length, 1)
      assert.match(listings[0].query, /prefix=logs%2F(&|$)/)
      assert.doesNotMatch(listings[0].query, /delimiter/)
      const q = await runCli(['ls', `s3://${bucket}/logs/20?0-*`], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.deepEqual(q.stdout.trimEnd().split('\n').map(l => l.trim().split(/\s+/).pop()), ['2020-01.gz'])
    } finally {
      await proxy.stop()
    }
  })

  it('--humanize and --etag change the columns; --json prints one object per line (NDJSON)', async function () {
    await putObjects(bucket, {'big/one': Buffer.alloc(3 * 1024 * 1024)})
    const h = await runCli(['ls', `s3://${bucket}/big/`, '--humanize'])
    assert.match(h.stdout, / 3\.0 MiB one$/m)
    const e = await runCli(['ls', `s3://${bucket}/big/`, '-e'])
    assert.match(e.stdout, / [0-9a-f]{32} +3145728 one$/m)
    const j = await runCli(['ls', `s3://${bucket}/logs/`, '--json'])
    assert.equal(j.code, 0, j.stderr)
    const rows = ndjson(j.stdout)
    assert.equal(rows.length, 3)
    assert.deepEqual(rows[0], {type: 'dir', url: `s3://${bucket}/logs/eu/`, key: 'logs/eu/', name: 'eu/'})
    assert.equal(rows[1].key, 'logs/2020-01.gz')
    assert.equal(rows[1].size, 1)
    assert.equal(rows[1].storageClass, 'STANDARD')
    assert.match(String(rows[1].lastModified), /^\d{4}-\d\d-\d\dT/)
  })

  it('a missing bucket and a prefix or wildcard that matches nothing end in one line, exit 2', async function () {
    for (const url of [`s3://${bucket}-missing/`, `s3://${bucket}/nothing/`, `s3://${bucket}/logs/*.zip`]) {
      const r = await runCli(['ls', url])
      assert.equal(r.code, 2, `${url}: ${r.stderr}`)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.equal(r.stdout, '')
    }
    const j = await runCli(['ls', `s3://${bucket}/nothing/`, '--json'])
    assert.deepEqual(ndjson(j.stdout), [{command: 'ls', error: `no object matches s3://${bucket}/nothing/: check the prefix or wildcard (s3c ls shows what is there)`, code: 'NotFound', exitCode: 2}])
    // An empty bucket's root is no error: it holds nothing.
    const empty = await newBucket('ls-empty')
    const r = await runCli(['ls', `s3://${empty}`])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '')
  })

  it('a wrong profile ends in one line, exit 2', async function () {
    const r = await runCli(['ls', `s3://${bucket}/`, '--profile', 'no-such-profile'], {env: {AWS_CONFIG_FILE: '/nonexistent/config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials'}})
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.match(r.stderr, /no-such-profile/)
  })

  it('--all-versions lists every version (ListObjectVersions)', async function () {
    const r = await runCli(['ls', `s3://${bucket}/logs/`, '--all-versions', '--json'])
    // fauxqs answers ListObjectVersions with an object listing: s3c says the server lists no versions (exit 3).
    if (r.code === 3 && /does not list object versions/.test(r.stderr)) this.skip()
    assert.equal(r.code, 0, r.stderr)
    const rows = ndjson(r.stdout)
    assert.deepEqual(rows.map(x => x.key), ['logs/2020-01.gz', 'logs/2021-01.gz', 'logs/eu/2020-02.gz', 'logs/eu/deep/2020-03.gz'])
    assert.ok(rows.every(x => typeof x.versionId === 'string' && x.isLatest === true))
  })
})
