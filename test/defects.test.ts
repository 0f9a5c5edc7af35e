import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli} from './harness/cli.js'
import {newBucket} from './harness/hooks.js'
import {getObject, putObject} from './harness/objects.js'

/* Issue 22's "smaller defects": each is bad input said in one line, or a key accounted for. */
describe('smaller defects: one line for bad input, every key accounted for', function () {
  const dirs: string[] = []
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  it('metadata or a content type that is not ASCII: exit 2 naming the header, nothing written', async function () {
    const bucket = await newBucket('meta')
    const dir = mk('meta')
    writeFileSync(join(dir, 'a.txt'), 'a')
    for (const args of [['--metadata', 'owner=Zoë'], ['--content-type', 'text/plain; name=ä']]) {
      const r = await runCli(['cp', join(dir, 'a.txt'), `s3://${bucket}/a.txt`, ...args])
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /x-amz-meta-owner|content-type/)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      const p = await runCli(['pipe', `s3://${bucket}/p.txt`, ...args], {input: Buffer.from('p')})
      assert.equal(p.code, 2, p.stderr)
    }
    await assert.rejects(getObject(bucket, 'a.txt'))
  })

  it('presign --no-sign-request is refused: a presigned URL is a signature', async function () {
    const bucket = await newBucket('pre')
    await putObject(bucket, 'k', Buffer.from('k'))
    const r = await runCli(['presign', `s3://${bucket}/k`, '--no-sign-request'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /--no-sign-request/)
    assert.equal(r.stdout, '')
  })

  it('a key ending with "/" that holds data is skipped with its reason by download and cp, not passed over in silence', async function () {
    const bucket = await newBucket('slash')
    await putObject(bucket, 'd/a.txt', Buffer.from('a'))
    await putObject(bucket, 'd/sub/', Buffer.from('data in a folder marker'))
    await putObject(bucket, 'd/empty/', Buffer.alloc(0))
    const dst = mk('slash')
    const down = await runCli(['download', `s3://${bucket}/d/`, dst, '--json'])
    assert.equal(down.code, 0, down.stderr)
    const s = JSON.parse(down.stdout)
    assert.deepEqual([s.filesDone, s.filesSkipped, s.filesFailed], [1, 1, 0])
    assert.match(JSON.stringify(s), /key ends with \\"\/\\" and holds data/)
    assert.equal(readFileSync(join(dst, 'a.txt'), 'utf8'), 'a')
    const cp = await runCli(['cp', `s3://${bucket}/d/`, `s3://${bucket}/e/`, '--json'])
    assert.equal(cp.code, 0, cp.stderr)
    assert.deepEqual([JSON.parse(cp.stdout).filesDone, JSON.parse(cp.stdout).filesSkipped], [1, 1])
  })

  it('a backslash in a key without wildcards is part of the key; before a wildcard character it escapes it', async function () {
    const bucket = await newBucket('bs')
    await putObject(bucket, 'a\\b.txt', Buffer.from('backslash'))
    await putObject(bucket, 'what?.txt', Buffer.from('question'))
    await putObject(bucket, 'whatX.txt', Buffer.from('other'))
    const a = await runCli(['cat', `s3://${bucket}/a\\b.txt`])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(a.stdout, 'backslash')
    const q = await runCli(['cat', `s3://${bucket}/what\\?.txt`])
    assert.equal(q.code, 0, q.stderr)
    assert.equal(q.stdout, 'question')
    const rm = await runCli(['rm', `s3://${bucket}/what\\?.txt`])
    assert.equal(rm.code, 0, rm.stderr)
    assert.equal((await getObject(bucket, 'whatX.txt')).toString(), 'other')
  })

  it('run given a folder is exit 2; an unterminated quote fails its line only; a backslash joins two lines', async function () {
    const bucket = await newBucket('runq')
    await putObject(bucket, 'a.txt', Buffer.from('a'))
    const folder = await runCli(['run', mk('runf')])
    assert.equal(folder.code, 2, folder.stderr)
    const input = Buffer.from(`cp s3://${bucket}/a.txt \\\n  s3://${bucket}/b.txt\ncp 's3://${bucket}/a.txt s3://${bucket}/c.txt\n`)
    const r = await runCli(['run', '-'], {input})
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /^3: error: unterminated ' quote/m)
    assert.equal((await getObject(bucket, 'b.txt')).toString(), 'a')
    await assert.rejects(getObject(bucket, 'c.txt'))
    assert.ok(!existsSync('c.txt'))
  })
})
