import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {pathToFileURL} from 'node:url'
import {harness, newBucket} from './harness/hooks.js'
import {getObject, listKeys, putObject} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {projectRoot} from './harness/servers.js'

/** A program of the user's: the library imported, a few calls, then a warning of its own (issue 23). */
const PROGRAM = `
import * as s3c from ${JSON.stringify(pathToFileURL(join(projectRoot, 'dist/src/index.js')).href)}
const [bucket, endpoint, accessKeyId, secretAccessKey, region] = process.argv.slice(2)
const options = {endpoint, region, credentials: {accessKeyId, secretAccessKey}}
const url = key => 's3://' + bucket + '/' + key
// Each function on its own (each makes a client) and through connect().
await s3c.writeFile(url('a.txt'), 'a')
const names = []
for await (const e of s3c.list(url(''), options)) names.push(e.name)
await s3c.copy(url('a.txt'), url('b.txt'), options)
// DeleteObjects goes through the AWS SDK's client (the calls above may not load it).
await s3c.writeFile(url('gone.txt'), 'x', options)
await s3c.remove(url('gone.txt'), options)
const c = await s3c.connect(options)
await c.writeFile(url('c.txt'), 'c')
for await (const e of c.list(url(''))) names.push(e.name)
names.push(String(await c.readFile(url('c.txt'))))
await c.close()
// The program's own warnings are its own business: they still print.
process.emitWarning('a warning of the program itself')
console.log(JSON.stringify(names))
`

describe('library API: one connection, and nothing printed into the program', function () {
  const dirs: string[] = []
  let api: typeof import('../src/index.js')
  before(async function () {
    api = await import(join(projectRoot, 'dist/src/index.js'))
  })
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  it("a program importing the library prints no AWS SDK notice about Node's version; its own warnings still print", async function () {
    const {s3} = harness()
    const bucket = await newBucket('notice')
    const dir = mkdtempSync(join(tmpdir(), 's3c-notice-'))
    dirs.push(dir)
    writeFileSync(join(dir, 'program.mjs'), PROGRAM)
    const env: NodeJS.ProcessEnv = {...process.env, AWS_ENDPOINT_URL: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region}
    // Nothing that would hide the notice from outside: the library must not print it by itself.
    for (const k of ['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'NODE_NO_WARNINGS', 'NODE_OPTIONS', 'AWS_PROFILE']) delete env[k]
    const r = spawnSync(process.execPath, [join(dir, 'program.mjs'), bucket, s3.endpoint, s3.accessKeyId, s3.secretAccessKey, s3.region],
      {cwd: dir, env, encoding: 'utf8'})
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), ['a.txt', 'a.txt', 'b.txt', 'c.txt', 'c'])
    assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning|AWS SDK|will require node/)
    assert.match(r.stderr, /Warning: a warning of the program itself/)
    assert.equal(r.stderr.trim().split('\n').filter(l => !/--trace-warnings/.test(l)).length, 1, r.stderr)
  })

  it('every function bound by connect() (reads, writes, copies, syncs, remove) goes through one client and its keep-alive sockets', async function () {
    const {s3} = harness()
    const bucket = await newBucket('onepool')
    const dir = mkdtempSync(join(tmpdir(), 's3c-onepool-'))
    dirs.push(dir)
    mkdirSync(join(dir, 'up', 'sub'), {recursive: true})
    writeFileSync(join(dir, 'up', 'x.txt'), 'x')
    writeFileSync(join(dir, 'up', 'sub', 'y.txt'), 'y')
    writeFileSync(join(dir, 'file.txt'), 'file')
    await putObject(bucket, 'seed.txt', Buffer.from('seed'))
    const proxy = await startProxy(s3.endpoint)
    try {
      // threadCount 1: one request at a time, so no call needs a second socket in a pool.
      const c = await api.connect({endpoint: proxy.endpoint, region: s3.region, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey},
        threadCount: 1})
      const url = (key: string) => `s3://${bucket}/${key}`
      assert.equal((await c.stat(url('seed.txt'))).size, 4)
      assert.equal(await c.exists(url('none.txt')), false)
      assert.equal(await c.isDir(url('up/')), false)
      assert.equal(String(await c.readFile(url('seed.txt'))), 'seed')
      await c.writeFile(url('w.txt'), 'written')
      await pipeline(Readable.from([Buffer.from('streamed')]), c.createWriteStream(url('s.txt')))
      assert.equal((await c.copy(url('seed.txt'), url('copied.txt'))).filesDone, 1)
      assert.equal((await c.copy(join(dir, 'file.txt'), url('file.txt'))).filesDone, 1)
      assert.equal((await c.sync(join(dir, 'up'), url('up/'))).filesDone, 2)
      assert.equal((await c.sync(url('up/'), join(dir, 'down'))).filesDone, 2)
      assert.equal((await c.move(url('copied.txt'), url('moved.txt'))).filesDone, 1)
      const chunks: Buffer[] = []
      for await (const chunk of c.createReadStream(url('moved.txt'))) chunks.push(chunk as Buffer)
      assert.equal(Buffer.concat(chunks).toString(), 'seed')
      const listed: string[] = []
      for await (const e of c.list(url(''), {recursive: true})) listed.push(e.key)
      assert.deepEqual(listed.sort(), ['file.txt', 'moved.txt', 's.txt', 'seed.txt', 'up/sub/y.txt', 'up/x.txt', 'w.txt'])
      assert.equal((await c.remove(url('w.txt'))).removed, 1)
      await c.close()
      assert.equal(readFileSync(join(dir, 'down', 'sub', 'y.txt'), 'utf8'), 'y')
      assert.equal((await getObject(bucket, 's.txt')).toString(), 'streamed')
      assert.ok(!(await listKeys(bucket)).has('w.txt'))
      const sent = proxy.requests.length
      assert.ok(sent >= 15, `${sent} requests`)
      // One connection is one client with two keep-alive pools (src/s3/client.ts): the fast path's
      // for answers read whole, node:http's agent for the SDK and streamed answers. The calls are one
      // after the other, so each pool keeps one socket; a call with a client of its own would open more.
      const used = new Set(proxy.requests.map(r => r.connection))
      assert.ok(used.size <= 2 && proxy.connections() === used.size,
        `one socket per pool: ${proxy.requests.map(r => `${r.connection} ${r.method} ${r.path}?${r.query}`).join('\n')}`)
    } finally {
      await proxy.stop()
    }
  })
})
