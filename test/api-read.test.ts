import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Readable} from 'node:stream'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {listKeys} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {putObjects} from './harness/verbs.js'
// The package as another project imports it: the built entry point.
import * as s3c from '../src/index.js'
import {collect, readAll} from './harness/collect.js'

describe('library API, read side (s3:// URLs and local paths alike)', function () {
  let bucket: string
  let local: string
  const conn = () => {
    const {s3} = harness()
    return {endpoint: s3.endpoint, region: s3.region, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}, maxRetry: 2}
  }
  before(async function () {
    bucket = await newBucket('api')
    await putObjects(bucket, {'docs/a.txt': 'alpha', 'docs/sub/b.txt': 'beta!', 'docs/c.md': 'gamma', 'top.txt': 'top'}, {metadata: {mtime: '1700000000.5'}})
    local = mkdtempSync(join(tmpdir(), 's3c-api-'))
    mkdirSync(join(local, 'docs/sub'), {recursive: true})
    writeFileSync(join(local, 'docs/a.txt'), 'alpha')
    writeFileSync(join(local, 'docs/sub/b.txt'), 'beta!')
    writeFileSync(join(local, 'docs/c.md'), 'gamma')
  })
  after(() => rmSync(local, {recursive: true, force: true}))

  it('the entry exports the documented library and nothing else (README "Library"; runners, handlers, S3Storage are internal)', function () {
    assert.deepEqual(Object.keys(s3c).sort(), [
      'ExitCode', 'S3cError', 'connect', 'copy', 'createReadStream', 'createWriteStream', 'download', 'exists', 'glob', 'isDir', 'list', 'listMembers', 'move',
      'openMember', 'parseS3Url', 'readFile', 'remove', 'resolveS3Config', 'stat', 'sync', 'transferDefaults', 'upload', 'writeFile',
    ])
  })

  it('stat: an object (size, ETag, mtime by the time rule, metadata), a local file, a folder; missing → exit code 2', async function () {
    const o = await s3c.stat(`s3://${bucket}/docs/a.txt`, conn())
    assert.equal(o.size, 5)
    assert.equal(o.isDirectory, false)
    assert.equal(o.mtime, '1700000000.5')
    assert.equal(o.metadata?.mtime, '1700000000.5')
    assert.match(o.etag ?? '', /^"[0-9a-f]{32}"$/)
    const f = await s3c.stat(join(local, 'docs/a.txt'))
    assert.equal(f.size, 5)
    assert.equal((await s3c.stat(`s3://${bucket}/docs/`, conn())).isDirectory, true)
    assert.equal((await s3c.stat(join(local, 'docs'))).isDirectory, true)
    await assert.rejects(s3c.stat(`s3://${bucket}/nope`, conn()), (e: Error & {exitCode?: number}) => e.exitCode === 2 && /does not exist/.test(e.message))
    await assert.rejects(s3c.stat(join(local, 'nope')), (e: Error & {exitCode?: number}) => e.exitCode === 2)
  })

  it('list: one level (folders as entries ending in "/") or recursive, the same shape and names for S3 and local', async function () {
    const s3Level = (await collect(s3c.list(`s3://${bucket}/docs`, conn()))).map(e => `${e.name}${e.isDirectory ? ' (dir)' : ''}`)
    assert.deepEqual(s3Level, ['sub/ (dir)', 'a.txt', 'c.md'])
    const localLevel = (await collect(s3c.list(join(local, 'docs')))).map(e => `${e.name}${e.isDirectory ? ' (dir)' : ''}`)
    assert.deepEqual(localLevel, ['a.txt', 'c.md', 'sub/ (dir)'])
    assert.deepEqual((await collect(s3c.list(`s3://${bucket}/docs/`, {...conn(), recursive: true}))).map(e => [e.name, e.key]),
      [['a.txt', 'docs/a.txt'], ['c.md', 'docs/c.md'], ['sub/b.txt', 'docs/sub/b.txt']])
    assert.deepEqual((await collect(s3c.list(join(local, 'docs'), {recursive: true}))).map(e => e.name), ['a.txt', 'c.md', 'sub/b.txt'])
  })

  it('glob: the one wildcard rule (* crosses "/") on keys and local paths', async function () {
    assert.deepEqual((await collect(s3c.glob(`s3://${bucket}/docs/*.txt`, conn()))).map(e => e.url), [`s3://${bucket}/docs/a.txt`, `s3://${bucket}/docs/sub/b.txt`])
    assert.deepEqual((await collect(s3c.glob(`s3://${bucket}/docs/?.md`, conn()))).map(e => [e.name, e.key]), [['c.md', 'docs/c.md']])
    assert.deepEqual((await collect(s3c.glob(`${local}/docs/*.txt`))).map(e => e.url), [join(local, 'docs/a.txt'), join(local, 'docs/sub/b.txt')])
    assert.deepEqual(await collect(s3c.glob(`s3://${bucket}/docs/*.zip`, conn())), [])
  })

  it('readFile and createReadStream with {start, end} (inclusive, as node:fs)', async function () {
    assert.equal((await s3c.readFile(`s3://${bucket}/docs/c.md`, conn())).toString(), 'gamma')
    assert.equal((await s3c.readFile(join(local, 'docs/c.md'))).toString(), 'gamma')
    assert.equal((await readAll(s3c.createReadStream(`s3://${bucket}/docs/sub/b.txt`, {...conn(), start: 1, end: 3}))).toString(), 'eta')
    assert.equal((await readAll(s3c.createReadStream(join(local, 'docs/sub/b.txt'), {start: 1, end: 3}))).toString(), 'eta')
    assert.equal((await readAll(s3c.createReadStream(`s3://${bucket}/docs/a.txt`, conn()))).toString(), 'alpha')
    await assert.rejects(readAll(s3c.createReadStream(`s3://${bucket}/docs/none`, conn())), /does not exist/)
    await assert.rejects(s3c.readFile(`s3://${bucket}-missing/x`, conn()), /bucket .* does not exist/)
  })

  it('remove: s3:// URLs by rm\'s rule and local paths', async function () {
    const b = await newBucket('api-rm')
    await putObjects(b, {'x/1': '1', 'x/2/3': '2', 'y.log': '3', 'z.txt': '4'})
    const scratch = mkdtempSync(join(tmpdir(), 's3c-api-rm-'))
    writeFileSync(join(scratch, 'f'), 'f')
    const summary = await s3c.remove([`s3://${b}/x/`, `s3://${b}/*.log`, join(scratch, 'f')], conn())
    assert.equal(summary.removed, 4)
    assert.equal(summary.failed, 0)
    assert.deepEqual([...(await listKeys(b)).keys()], ['z.txt'])
    assert.equal(existsSync(join(scratch, 'f')), false)
    rmSync(scratch, {recursive: true, force: true})
  })

  describe('archives: listMembers and openMember', function () {
    let cache: string
    let cwd: string
    before(async function () {
      cache = mkdtempSync(join(tmpdir(), 's3c-api-cache-'))
      cwd = mkdtempSync(join(tmpdir(), 's3c-api-cwd-'))
      process.env.S3C_CACHE_DIR = cache
      const r = await runCli(['bundle', join(local, 'docs'), 'docs', '--bucket', bucket, '--prefix', 'bundles'])
      assert.equal(r.code, 0, r.stderr)
    })
    after(() => {
      delete process.env.S3C_CACHE_DIR
      rmSync(cache, {recursive: true, force: true})
      rmSync(cwd, {recursive: true, force: true})
    })

    it('listMembers reads the index; openMember streams one member: two GETs cold, one warm', async function () {
      const tar = `s3://${bucket}/bundles/docs/bundle.tar`
      const proxy = await startProxy(harness().s3.endpoint)
      try {
        const c = {...conn(), endpoint: proxy.endpoint}
        const members = await s3c.listMembers(tar, c)
        assert.deepEqual(members.filter(m => m.type === 'file').map(m => m.name).sort(), ['a.txt', 'c.md', 'sub/b.txt'])
        rmSync(cache, {recursive: true, force: true})
        proxy.reset()
        assert.equal((await readAll(s3c.openMember(tar, 'sub/b.txt', c))).toString(), 'beta!')
        assert.equal(proxy.count('GET'), 2)
        proxy.reset()
        assert.equal((await readAll(s3c.openMember('docs', 'c.md', {...c, bucket, prefix: 'bundles'}))).toString(), 'gamma')
        assert.equal(proxy.count('GET'), 1)
      } finally {
        await proxy.stop()
      }
    })

    it('openMember of a folder or a missing member fails as a stream error and writes no file', async function () {
      const tar = `s3://${bucket}/bundles/docs/bundle.tar`
      const before = process.cwd()
      process.chdir(cwd)
      try {
        await assert.rejects(readAll(s3c.openMember(tar, 'sub', conn())), /folder/)
        await assert.rejects(readAll(s3c.openMember(tar, 'sub/', conn())), /folder/)
        await assert.rejects(readAll(s3c.openMember(tar, 'nope.txt', conn())), /is not in/)
      } finally {
        process.chdir(before)
      }
      assert.deepEqual(readdirSync(cwd), [])
    })
  })
})
