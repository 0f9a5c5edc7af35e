import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import * as s3c from '../../src/index.js'
import type {ConnectOptions, ErrorCode} from '../../src/index.js'

/*
 * The library's one options shape (issue 23): exact types, so a misspelled option is a compile
 * error (this file is compiled by `tsc` in the unit tier: an `@ts-expect-error` that is not an
 * error fails it), and the same check at run time for JavaScript callers. Also the error codes
 * and the answers that need no server (local paths).
 */

/** Compile-time checks only: never called. */
export function typeChecks(): void {
  const good = {endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', pathStyle: true, maxRetry: 2}
  void s3c.stat('s3://b/k', good)
  void s3c.writeFile('s3://b/k', 'x', good)
  void s3c.copy('s3://b/k', 's3://b/j', {...good, noClobber: true})
  void s3c.list('s3://b/', {...good, recursive: true})
  void s3c.connect({profile: 'minio', noSignRequest: true, caBundle: '/etc/ca.pem', requestPayer: 'requester', log: 'debug'})
  const conn: ConnectOptions = good
  void conn

  // A variable with a misspelled key: TypeScript's excess-property check does not look at it, the exact types do.
  const misspelled = {endpointUrl: 'http://127.0.0.1:9000', region: 'us-east-1'}
  // @ts-expect-error: endpointUrl is not an option (endpoint is)
  void s3c.stat('s3://b/k', misspelled)
  // @ts-expect-error: the write functions take the same options
  void s3c.writeFile('s3://b/k', 'x', misspelled)
  // @ts-expect-error: and so do copy, move, sync
  void s3c.sync('a', 's3://b/', misspelled)
  // @ts-expect-error: and the archives
  void s3c.listMembers('s3://b/a.tar', misspelled)
  // @ts-expect-error: and streams
  void s3c.createReadStream('s3://b/k', {...misspelled, start: 0})
  // @ts-expect-error: an option of another function
  void s3c.stat('s3://b/k', {recursive: true})
  // @ts-expect-error: connect() too
  void s3c.connect({endpoint_url: 'http://x'})
  void (async () => {
    const c = await s3c.connect(good)
    // @ts-expect-error: a bound call takes its own options, not the connection's
    await c.stat('s3://b/k', {endpoint: 'http://elsewhere'})
    await c.list('s3://b/', {recursive: true})
    const code: ErrorCode = 'NotFound'
    // @ts-expect-error: codes are a closed set
    const wrong: ErrorCode = 'Missing'
    void [code, wrong]
  })
}

async function codeOf(p: Promise<unknown>): Promise<{code: string; exitCode: number; message: string}> {
  try {
    await p
  } catch (error) {
    assert.ok(error instanceof s3c.S3cError, `an S3cError, not ${String(error)}`)
    return {code: error.code, exitCode: error.exitCode, message: error.message}
  }
  assert.fail('did not reject')
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

describe('library options and error codes (no server)', function () {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 's3c-apiopt-'))
    mkdirSync(join(dir, 'docs/sub'), {recursive: true})
    writeFileSync(join(dir, 'docs/a.txt'), 'alpha')
    writeFileSync(join(dir, 'docs/sub/b.txt'), 'beta')
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('an unknown option is an InvalidArgument naming it (and the nearest), before anything is sent, for every function', async function () {
    // An endpoint nothing listens on: were the option ignored, the call would go on and fail otherwise.
    const bad = {endpointUrl: 'http://127.0.0.1:9'} as unknown as ConnectOptions
    const calls: [string, () => Promise<unknown>][] = [
      ['stat', () => s3c.stat('s3://b/k', bad)],
      ['exists', () => s3c.exists('s3://b/k', bad)],
      ['isDir', () => s3c.isDir('s3://b/k', bad)],
      ['readFile', () => s3c.readFile('s3://b/k', bad)],
      ['remove', () => s3c.remove('s3://b/k', bad)],
      ['writeFile', () => s3c.writeFile('s3://b/k', 'x', bad)],
      ['copy', () => s3c.copy('s3://b/k', 's3://b/j', bad)],
      ['move', () => s3c.move('s3://b/k', 's3://b/j', bad)],
      ['sync', () => s3c.sync('s3://b/k/', 's3://b/j/', bad)],
      ['listMembers', () => s3c.listMembers('s3://b/a.tar', bad)],
      ['connect', () => s3c.connect(bad)],
      ['list', async () => { for await (const e of s3c.list('s3://b/', bad)) void e }],
      ['glob', async () => { for await (const e of s3c.glob('s3://b/*', bad)) void e }],
      ['createReadStream', async () => s3c.createReadStream('s3://b/k', bad)],
      ['createWriteStream', async () => s3c.createWriteStream('s3://b/k', bad)],
      ['openMember', async () => s3c.openMember('s3://b/a.tar', 'm', bad)],
    ]
    for (const [name, call] of calls) {
      const e = await codeOf(call())
      assert.equal(e.code, 'InvalidArgument', name)
      assert.equal(e.exitCode, 2, name)
      assert.match(e.message, new RegExp(`^${name}: unknown option "endpointUrl" \\(did you mean endpoint\\?\\)`), name)
    }
    const both = await codeOf(s3c.stat('s3://b/k', {noSignRequest: true, credentials: {accessKeyId: 'a', secretAccessKey: 'b'}}))
    assert.equal(both.code, 'InvalidArgument')
  })

  it('a connection\'s calls refuse the connection\'s options and work after nothing but close()', async function () {
    const c = await s3c.connect({endpoint: 'http://127.0.0.1:9', region: 'us-east-1', noSignRequest: true})
    const e = await codeOf(c.stat('s3://b/k', {endpoint: 'http://elsewhere'} as object))
    assert.match(e.message, /^stat: unknown option "endpoint"/)
    assert.equal(await c.exists(join(dir, 'docs/a.txt')), true)
    await c.close()
    assert.equal((await codeOf(c.exists(join(dir, 'docs/a.txt')))).message, 'exists: the connection is closed')
  })

  it('local paths: exists, isDir, stat/list names (as s3c ls --json: name relative to the folder, key whole), codes ENOENT, EISDIR, ENOTDIR', async function () {
    assert.equal(await s3c.exists(join(dir, 'docs/a.txt')), true)
    assert.equal(await s3c.exists(join(dir, 'docs')), true)
    assert.equal(await s3c.exists(join(dir, 'nope')), false)
    assert.equal(await s3c.exists(join(dir, 'docs/a.txt/below')), false)
    assert.equal(await s3c.isDir(join(dir, 'docs')), true)
    assert.equal(await s3c.isDir(join(dir, 'docs/a.txt')), false)
    assert.equal(await s3c.isDir(join(dir, 'nope')), false)
    const st = await s3c.stat(join(dir, 'docs/a.txt'))
    assert.deepEqual([st.name, st.key], ['a.txt', join(dir, 'docs/a.txt')])
    assert.equal((await s3c.stat(join(dir, 'docs'))).name, 'docs/')
    const level: string[] = []
    for await (const e of s3c.list(join(dir, 'docs'))) level.push(`${e.name} ${e.key}`)
    assert.deepEqual(level, [`a.txt ${join(dir, 'docs/a.txt')}`, `sub/ ${join(dir, 'docs/sub')}`])
    const globbed: string[] = []
    for await (const e of s3c.glob(`${dir}/docs/*.txt`)) globbed.push(e.name)
    assert.deepEqual(globbed, ['a.txt', 'sub/b.txt'])

    assert.equal((await codeOf(s3c.readFile(join(dir, 'nope')))).code, 'ENOENT')
    assert.equal((await codeOf(s3c.stat(join(dir, 'nope')))).code, 'ENOENT')
    assert.equal((await codeOf(readAll(s3c.createReadStream(join(dir, 'nope'))))).code, 'ENOENT')
    assert.equal((await codeOf(readAll(s3c.createReadStream(join(dir, 'docs'))))).code, 'EISDIR')
    assert.equal((await codeOf(s3c.readFile(join(dir, 'docs')))).code, 'EISDIR')
    assert.equal((await codeOf((async () => { for await (const e of s3c.list(join(dir, 'docs/a.txt'))) void e })())).code, 'ENOTDIR')
    assert.equal((await codeOf((async () => { for await (const e of s3c.list(join(dir, 'nope'))) void e })())).code, 'ENOENT')
    // A local copy of a missing file into a local file: the pipeline rejects with the reader's error.
    const e = await codeOf(pipeline(s3c.createReadStream(join(dir, 'nope')), s3c.createWriteStream(join(dir, 'out.txt'))))
    assert.equal(e.code, 'ENOENT')
  })

  it('bad arguments: InvalidArgument, exit code 2', async function () {
    assert.equal((await codeOf(s3c.writeFile('s3://b/', 'x'))).code, 'InvalidArgument')
    assert.equal((await codeOf(readAll(s3c.createReadStream(join(dir, 'docs/a.txt'), {start: 3, end: 1})))).code, 'InvalidArgument')
    assert.equal((await codeOf(s3c.stat('s3://b/*.txt'))).code, 'InvalidArgument')
  })
})
