import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {closeSync, mkdtempSync, openSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliEnv, runCli} from './harness/cli.js'
import {projectRoot} from './harness/servers.js'
import {harness, newBucket} from './harness/hooks.js'
import {getObject} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {seededBytes} from './harness/tree.js'

const MiB = 1024 * 1024

describe('pipe', function () {
  it('a stream larger than one part: a multipart upload of 5 MiB parts, the object byte-exact', async function () {
    const bucket = await newBucket('pipe')
    const body = seededBytes(7, 23 * MiB + 12345)
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const r = await runCli(['pipe', `s3://${bucket}/stream.bin`, '--part-size', '5MiB', '--json'], {input: body, env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual([JSON.parse(r.stdout).bytes, JSON.parse(r.stdout).parts], [body.length, 5])
      assert.equal(proxy.count('PUT', q => q.query.includes('partNumber')), 5)
    } finally {
      await proxy.stop()
    }
    assert.ok((await getObject(bucket, 'stream.bin')).equals(body))
  })

  it('a small stream is one PUT; an empty one an empty object; bad input is one line', async function () {
    const bucket = await newBucket('pipes')
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const r = await runCli(['pipe', `s3://${bucket}/small.txt`, '--metadata', 'owner=alice'], {input: Buffer.from('hello'), env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(proxy.count('PUT'), 1)
      assert.equal(proxy.count('POST'), 0, 'no multipart upload')
    } finally {
      await proxy.stop()
    }
    assert.equal((await getObject(bucket, 'small.txt')).toString(), 'hello')
    assert.equal((await runCli(['pipe', `s3://${bucket}/empty`], {input: Buffer.alloc(0)})).code, 0)
    assert.equal((await getObject(bucket, 'empty')).length, 0)
    for (const args of [['pipe', `s3://${bucket}/`], ['pipe', './local'], ['pipe', `s3://${bucket}/x`, '--part-size', '1MiB']]) {
      const bad = await runCli(args, {input: Buffer.from('x')})
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`)
      assert.equal(bad.stderr.trim().split('\n').length, 1)
    }
  })

  it('standard input that is closed or a folder is refused (exit 2) and the object keeps its content', async function () {
    const bucket = await newBucket('pipein')
    assert.equal((await runCli(['pipe', `s3://${bucket}/kept.txt`], {input: Buffer.from('kept')})).code, 0)
    const run = (stdin: number | 'closed') => new Promise<{code: number | null; stderr: string}>((resolve, reject) => {
      const argv = [process.execPath, join(projectRoot, 'bin', 'run.js'), 'pipe', `s3://${bucket}/kept.txt`]
      // A closed descriptor 0 needs a shell: spawn has no way to leave it closed.
      const child = stdin === 'closed'
        ? spawn('sh', ['-c', 'exec "$@" <&-', 'sh', ...argv], {env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe']})
        : spawn(argv[0], argv.slice(1), {env: cliEnv(), stdio: [stdin, 'pipe', 'pipe']})
      let stderr = ''
      child.stderr!.on('data', d => { stderr += d })
      child.on('error', reject)
      child.on('close', code => resolve({code, stderr}))
    })
    const dir = mkdtempSync(join(tmpdir(), 's3c-pipein-'))
    const fd = openSync(dir, 'r')
    try {
      const folder = await run(fd)
      assert.equal(folder.code, 2, folder.stderr)
      assert.match(folder.stderr, /standard input is a folder/)
      const closed = await run('closed')
      assert.equal(closed.code, 2, closed.stderr)
      assert.match(closed.stderr, /standard input is closed/)
    } finally {
      closeSync(fd)
      rmSync(dir, {recursive: true, force: true})
    }
    assert.equal((await getObject(bucket, 'kept.txt')).toString(), 'kept')
  })

  it('Ctrl-C while the input is idle ends at once and aborts the multipart upload it started', async function () {
    const bucket = await newBucket('pipeint')
    const proxy = await startProxy(harness().s3.endpoint)
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'run.js'), 'pipe', `s3://${bucket}/idle.bin`, '--part-size', '5MiB'],
      {env: cliEnv({env: {AWS_ENDPOINT_URL: proxy.endpoint}}), stdio: ['pipe', 'pipe', 'pipe']})
    // The child may end while a write is pending: that is an outcome to assert on, not an uncaught EPIPE.
    child.stdin!.on('error', () => undefined)
    let stderr = ''
    child.stderr!.on('data', d => { stderr += d })
    const closed = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
    try {
      // More than one part: the multipart upload starts and its first part is sent; then nothing more comes.
      child.stdin!.write(seededBytes(3, 6 * MiB))
      // Waited for by the event, not a fixed time: on a loaded machine the first part can take long to leave.
      const parts = () => proxy.count('PUT', q => q.query.includes('partNumber') && q.status !== undefined)
      while (parts() === 0 && child.exitCode === null) await new Promise(r => setTimeout(r, 50))
      assert.equal(parts(), 1, stderr)
      child.kill('SIGINT')
      const code = await closed
      assert.notEqual(code, 0, stderr)
      // Waiting for the idle input would end only at the stop's grace, which exits without the abort.
      assert.equal(proxy.count('DELETE', q => q.query.includes('uploadId')), 1, `the multipart upload is aborted: ${stderr}`)
    } finally {
      child.stdin!.destroy()
      if (child.exitCode === null) child.kill('SIGKILL')
      await closed
      await proxy.stop()
    }
  })
})
