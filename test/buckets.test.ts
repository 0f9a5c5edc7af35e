import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {AbortMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, ListMultipartUploadsCommand, PutBucketVersioningCommand, PutObjectCommand, UploadPartCommand} from '@aws-sdk/client-s3'
import {runCli} from './harness/cli.js'
import {harness, newBucket, s3Client} from './harness/hooks.js'
import {listKeys} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {awscliTool, findTool} from './harness/tools.js'
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

  /** A bucket's existence, as `s3c ls` reports it (exit 2: no such bucket). */
  const gone = async (bucket: string) => (await runCli(['ls', `s3://${bucket}`])).code === 2

  /** `aws s3 ls s3://BUCKET --recursive` with the harness' keys and no config files of the machine: the keys, as awscli lists them. */
  function awsKeys(bucket: string): string[] {
    const {s3} = harness()
    const home = mkdtempSync(join(tmpdir(), 's3c-aws-home-'))
    try {
      const env: NodeJS.ProcessEnv = {...process.env, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region,
        AWS_REGION: s3.region, AWS_CONFIG_FILE: join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'), HOME: home}
      for (const k of ['AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_CA_BUNDLE', 'AWS_SESSION_TOKEN']) delete env[k]
      const r = spawnSync(findTool(awscliTool), ['--endpoint-url', s3.endpoint, 's3', 'ls', `s3://${bucket}`, '--recursive'], {encoding: 'utf8', env})
      assert.equal(r.status, 0, `aws s3 ls: ${r.stderr}`)
      // "2026-01-01 00:00:00       1234 key with spaces": the key is everything after the size.
      return r.stdout.split('\n').filter(Boolean).map(l => /^\S+ \S+ +\d+ (.*)$/.exec(l)![1])
    } finally {
      rmSync(home, {recursive: true, force: true})
    }
  }

  it("after upload, download, sync and cp of folders with default flags aws s3 ls --recursive shows only the user's objects, a download from a bucket the user may only read prints nothing, and rb --force removes it", async function () {
    const dir = mkdtempSync(join(tmpdir(), 's3c-rb-'))
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      // Plain names: fauxqs lists in locale order, which a download's merge would report (a warning of its own) for names of other scripts.
      for (let i = 0; i < 30; i++) {
        mkdirSync(join(dir, 'src', `d${i % 3}`, `e${i % 2}`), {recursive: true})
        writeFileSync(join(dir, 'src', `d${i % 3}`, `e${i % 2}`, `f${i}.txt`), `file ${i}\n`.repeat(i))
      }
      const bucket = await newBucket('rbsynced')
      for (const args of [['upload', join(dir, 'src'), `s3://${bucket}/up`], ['download', `s3://${bucket}/up`, join(dir, 'down')],
        ['sync', join(dir, 'src'), `s3://${bucket}/synced`], ['sync', `s3://${bucket}/synced`, join(dir, 'synced-down')],
        ['cp', join(dir, 'src'), `s3://${bucket}/copied/`], ['cp', `s3://${bucket}/copied/`, join(dir, 'copied-down')]]) {
        const r = await runCli(args)
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
        assert.equal(r.stderr.match(/warn|AccessDenied/gi), null, r.stderr)
      }
      const keys = awsKeys(bucket)
      assert.equal(keys.length, 90)
      assert.deepEqual(keys.filter(k => !/^(up|synced|copied)\//.test(k)), [], 'nothing but what the user asked for')
      assert.deepEqual(keys.sort(), [...(await listKeys(bucket)).keys()].sort(), 'awscli lists what the server holds')
      // The bucket as a reader sees it: every write refused (403 AccessDenied), as a read-only or public bucket answers.
      proxy.setFaults({deny: q => q.method !== 'GET' && q.method !== 'HEAD'})
      for (const [i, args] of [['download', `s3://${bucket}/up`, join(dir, 'ro-down')], ['download', `s3://${bucket}/up`, join(dir, 'ro-down')],
        ['sync', `s3://${bucket}/synced`, join(dir, 'ro-sync')], ['cp', `s3://${bucket}/copied/`, join(dir, 'ro-cp')]].entries()) {
        const r = await runCli(args, {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(r.code, 0, `${i}: ${args.join(' ')}: ${r.stderr}`)
        assert.equal(r.stderr, '', `${args.join(' ')} prints no warning`)
      }
      assert.equal(proxy.count('PUT') + proxy.count('POST') + proxy.count('DELETE'), 0, 'no write was even tried')
      assert.ok(proxy.count('GET') > 0)
      const r = await runCli(['rb', `s3://${bucket}`, '--force', '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).objectsDeleted, 90)
      assert.ok(await gone(bucket))
    } finally {
      await proxy.stop()
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('rb --force aborts an unfinished multipart upload (skipped where the server does not list them)', async function () {
    const bucket = await newBucket('rbmp')
    const c = s3Client()
    try {
      await putObjects(bucket, {'a.txt': 'a'})
      const mp = await c.send(new CreateMultipartUploadCommand({Bucket: bucket, Key: 'unfinished.bin'}))
      await c.send(new UploadPartCommand({Bucket: bucket, Key: 'unfinished.bin', UploadId: mp.UploadId, PartNumber: 1, Body: Buffer.alloc(1024)}))
      // fauxqs has no ListMultipartUploads (it answers with an object listing): nobody can find the upload to abort it there.
      const listed = await c.send(new ListMultipartUploadsCommand({Bucket: bucket})).catch(() => undefined)
      if (!listed?.Uploads?.some(u => u.UploadId === mp.UploadId)) {
        await c.send(new AbortMultipartUploadCommand({Bucket: bucket, Key: 'unfinished.bin', UploadId: mp.UploadId}))
        this.skip()
      }
      const r = await runCli(['rb', `s3://${bucket}`, '--force', '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).uploadsAborted, 1)
      assert.ok(await gone(bucket))
    } finally {
      c.destroy()
    }
  })

  it("rm 's3://b/*' then rb: the bucket is empty and goes (keys under .s3c/ are the user's like any other)", async function () {
    const bucket = await newBucket('rmrb')
    await putObjects(bucket, {'a.txt': 'a', 'deep/b.txt': 'b', '.s3c/state/x.ndjson.gz': 'left by an older s3c', '.s3c/mine': 'mine'})
    const rm = await runCli(['rm', `s3://${bucket}/*`])
    assert.equal(rm.code, 0, rm.stderr)
    assert.equal((await listKeys(bucket)).size, 0)
    const rb = await runCli(['rb', `s3://${bucket}`])
    assert.equal(rb.code, 0, rb.stderr)
    assert.ok(await gone(bucket))
  })

  it('rb --force on a versioned bucket deletes every version and delete marker (skipped where the server has no versioning)', async function () {
    const bucket = await newBucket('rbver')
    const c = s3Client()
    try {
      try {
        await c.send(new PutBucketVersioningCommand({Bucket: bucket, VersioningConfiguration: {Status: 'Enabled'}}))
      } catch {
        this.skip()
      }
      for (const body of ['one', 'two', 'three']) await c.send(new PutObjectCommand({Bucket: bucket, Key: 'v.txt', Body: body}))
      await c.send(new PutObjectCommand({Bucket: bucket, Key: 'gone.txt', Body: 'x'}))
      await c.send(new DeleteObjectCommand({Bucket: bucket, Key: 'gone.txt'}))
      const versions = await runCli(['ls', `s3://${bucket}`, '--all-versions'])
      // A server that accepts the call but keeps no versions (fauxqs) has nothing to test here.
      if (versions.code !== 0 || !/delete marker/.test(versions.stdout)) this.skip()
    } finally {
      c.destroy()
    }
    const r = await runCli(['rb', `s3://${bucket}`, '--force', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.ok(JSON.parse(r.stdout).versionsDeleted >= 4)
    assert.ok(await gone(bucket))
  })
})
