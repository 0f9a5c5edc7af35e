import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Redis} from 'ioredis'
import {runCli, spawnCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {listKeys, putObject} from './harness/objects.js'
import {runCliWithin} from './harness/run.js'
import {scratchDirs} from './harness/scratch.js'
import {waitFor} from './harness/wait.js'

/* A job or stored command rewritten in Redis (docs/USAGE.md, "Safety"): workers act only under --root, and with a job key only on what the key signed. */

const KEY = 'a shared secret for the tests'

interface Envelope {runId: string; sig?: string; job: {kind: string; [k: string]: unknown}}

describe('forged jobs and stored commands (Redis is outside input)', function () {
  this.timeout(240_000)
  const scratch = scratchDirs()
  let redis: Redis
  before(() => { redis = new Redis(harness().redis.url) })
  after(() => redis.disconnect())

  /** The queued jobs of a detached run (no worker running), with their data. */
  async function jobsOf(runId: string): Promise<{id: string; data: Envelope}[]> {
    const ids = await redis.smembers(`s3c:run:${runId}:jobs`)
    return Promise.all(ids.map(async id => ({id, data: JSON.parse((await redis.hget(`bull:s3c:${id}`, 'data'))!) as Envelope})))
  }
  const rewrite = (id: string, data: Envelope) => redis.hset(`bull:s3c:${id}`, 'data', JSON.stringify(data))

  /** Enqueues `args` detached, lets `forge` rewrite its jobs, runs one worker until the run is done, and returns the run's status. */
  async function forgedRun(args: string[], forge: (data: Envelope) => void, workerArgs: string[], env: Record<string, string> = {}, forgeMore?: (id: string) => Promise<void>) {
    const redisEnv = {S3C_REDIS_URL: harness().redis.url, ...env}
    const up = await runCli([...args, '--detach'], {env: redisEnv})
    assert.equal(up.code, 0, up.stderr)
    const runId = up.stdout.trim()
    for (const j of await jobsOf(runId)) {
      forge(j.data)
      await rewrite(j.id, j.data)
      await forgeMore?.(j.id)
    }
    const worker = spawnCli(['worker', '--concurrency', '2', '--stalled-seconds', '2', ...workerArgs], {env: {AWS_ENDPOINT_URL: harness().s3.endpoint, ...redisEnv}})
    try {
      await waitFor(async () => JSON.parse((await runCli(['status', runId, '--json'], {env: redisEnv})).stdout).state === 'done')
    } finally {
      worker.child.kill('SIGTERM')
      await worker.done
    }
    return JSON.parse((await runCli(['status', runId, '--json'], {env: redisEnv})).stdout) as {filesDone: number; filesFailed: number; failures: {path: string; error: string}[]}
  }

  it('a job already recorded done (its worker died before BullMQ heard), or of a run Redis no longer holds, is dropped unrun', async function () {
    // The cause of a rare extra batch of PUTs in distributed.test.ts: a killed worker's job, done
    // and counted, handed on by the stall check after its run ended, ran again in the next test.
    const src = scratch('trust-done')
    writeFileSync(join(src, 'a.txt'), 'once')
    const redisEnv = {S3C_REDIS_URL: harness().redis.url}
    const runs: {runId: string; jobId: string; bucket: string}[] = []
    for (const forge of ['done', 'gone'] as const) {
      const bucket = await newBucket(`drop${forge}`)
      const up = await runCli(['upload', src, `s3://${bucket}/p`, '--detach'], {env: redisEnv})
      assert.equal(up.code, 0, up.stderr)
      const runId = up.stdout.trim()
      const [job] = await jobsOf(runId)
      if (forge === 'done') await redis.sadd(`s3c:run:${runId}:done`, job.id)
      else await redis.del(`s3c:run:${runId}`)
      runs.push({runId, jobId: job.id, bucket})
    }
    const worker = spawnCli(['worker', '--concurrency', '2', '--root', src], {env: {AWS_ENDPOINT_URL: harness().s3.endpoint, ...redisEnv}})
    try {
      // Completed jobs are removed (removeOnComplete): gone from Redis means the worker finished with it.
      await waitFor(async () => (await Promise.all(runs.map(r => redis.exists(`bull:s3c:${r.jobId}`)))).every(n => n === 0))
    } finally {
      worker.child.kill('SIGTERM')
      await worker.done
    }
    for (const r of runs) assert.deepEqual([...(await listKeys(r.bucket)).keys()], [], `nothing uploaded (${r.runId})`)
  })

  it('an upload rewritten to read a file outside the worker\'s --root: refused, the object not written', async function () {
    const src = scratch('trust-src')
    writeFileSync(join(src, 'a.txt'), 'mine')
    const secret = join(scratch('trust-secret'), 'id_rsa')
    writeFileSync(join(secret), 'PRIVATE KEY')
    const bucket = await newBucket('forgeup')
    const s = await forgedRun(['upload', src, `s3://${bucket}/p`], d => {
      assert.equal(d.job.kind, 'upload-files')
      for (const f of d.job.files as {path: string}[]) f.path = secret
    }, ['--root', src])
    assert.deepEqual([s.filesDone, s.filesFailed], [0, 1])
    assert.match(s.failures[0].error, /^refused: .*id_rsa is outside this worker's folders: start the worker with --root/)
    assert.deepEqual([...(await listKeys(bucket)).keys()], [], 'nothing uploaded')
  })

  it('a part of a large file rewritten to read outside --root: the part is refused, nothing stored, the file failed', async function () {
    const src = scratch('trust-big')
    writeFileSync(join(src, 'big.bin'), Buffer.alloc(6 << 20, 7))
    const secret = join(scratch('trust-big-secret'), 'secret.bin')
    writeFileSync(secret, Buffer.alloc(6 << 20, 1))
    const bucket = await newBucket('forgepart')
    let parts = 0
    const s = await forgedRun(['upload', src, `s3://${bucket}/b`, '--multipart-threshold', '5MiB', '--part-size', '5MiB'], () => undefined, ['--root', src], {}, async parent => {
      // A flow's children are not in the run's set: they hang under the parent's dependencies.
      for (const child of await redis.smembers(`bull:s3c:${parent}:dependencies`)) {
        const data = JSON.parse((await redis.hget(child, 'data'))!) as Envelope
        assert.equal(data.job.kind, 'upload-part')
        data.job.path = secret
        await redis.hset(child, 'data', JSON.stringify(data))
        parts++
      }
    })
    assert.equal(parts, 2)
    assert.equal(s.filesFailed, 1)
    assert.match(s.failures[0].error, /secret\.bin is outside this worker's folders/)
    assert.deepEqual([...(await listKeys(bucket)).keys()], [], 'nothing completed')
  })

  it('a worker given a --root that does not exist, or a job key file it cannot read, stops at once with one line (exit 2)', async function () {
    const env = {S3C_REDIS_URL: harness().redis.url}
    const noRoot = await runCliWithin(['worker', '--root', '/no/such/folder'], {env}, 30_000)
    assert.equal(noRoot.code, 2, noRoot.stderr)
    assert.match(noRoot.stderr, /^s3c: --root \/no\/such\/folder: no such folder: create it or name another\n$/)
    const noKey = await runCliWithin(['worker', '--root', scratch('trust-root')], {env: {...env, S3C_JOB_KEY_FILE: '/no/such/key'}}, 30_000)
    assert.equal(noKey.code, 2, noKey.stderr)
    assert.match(noKey.stderr, /^s3c: cannot read the job key file S3C_JOB_KEY_FILE=\/no\/such\/key \(ENOENT\): fix the path or unset it\n$/)
  })

  it('a download rewritten to write outside --root: refused, nothing written', async function () {
    const bucket = await newBucket('forgedown')
    await putObject(bucket, 'd/a.txt', Buffer.from('theirs'))
    const dest = scratch('trust-dest')
    const elsewhere = scratch('trust-elsewhere')
    const s = await forgedRun(['download', `s3://${bucket}/d`, dest], d => {
      assert.equal(d.job.kind, 'download-files')
      d.job.root = elsewhere
      for (const f of d.job.files as {path: string}[]) f.path = join(elsewhere, 'a.txt')
    }, ['--root', dest])
    assert.equal(s.filesFailed, 1)
    assert.match(s.failures[0].error, /^refused: .* is outside this worker's folders/)
    assert.deepEqual([readdirSync(elsewhere), readdirSync(dest)], [[], []])
  })

  it('mv rewritten to delete a file outside --root (removeSource): refused, the file still there', async function () {
    const src = scratch('trust-mv')
    writeFileSync(join(src, 'a.txt'), 'mine')
    const victim = join(scratch('trust-victim'), 'precious')
    writeFileSync(victim, 'keep me')
    const bucket = await newBucket('forgemv')
    const s = await forgedRun(['mv', src, `s3://${bucket}/m`], d => {
      assert.equal(d.job.removeSource, true)
      for (const f of d.job.files as {path: string}[]) f.path = victim
    }, ['--root', src])
    assert.equal(s.filesFailed, 1)
    assert.match(s.failures[0].error, /precious is outside this worker's folders/)
    assert.ok(existsSync(victim), 'not deleted')
    assert.ok(existsSync(join(src, 'a.txt')), 'the real source untouched too')
  })

  it('with a job key: signed jobs run; an unsigned or tampered job is refused and nothing is read', async function () {
    const src = scratch('trust-key')
    writeFileSync(join(src, 'a.txt'), 'mine')
    const bucket = await newBucket('forgekey')
    const withKey = {S3C_JOB_KEY: KEY}
    // Signed and untouched: done.
    const ok = await forgedRun(['upload', src, `s3://${bucket}/ok`], d => assert.match(d.sig!, /^[0-9a-f]{64}$/), ['--root', src], withKey)
    assert.deepEqual([ok.filesDone, ok.filesFailed], [1, 0])
    // An unsigned job (queued by an s3c without the key, or forged) met by a worker holding the key.
    const r1 = await forgedRun(['upload', src, `s3://${bucket}/unsigned2`], d => { delete d.sig }, ['--root', src], withKey)
    assert.equal(r1.filesFailed, 1)
    assert.match(r1.failures[0].error, /^refused: the job is not signed and this worker has a job key/)
    // Signed, then changed (another key in S3, the signature kept): refused.
    const r2 = await forgedRun(['upload', src, `s3://${bucket}/tampered`], d => { (d.job.files as {key: string}[])[0].key = 'elsewhere/a.txt' }, ['--root', src], withKey)
    assert.equal(r2.filesFailed, 1)
    assert.match(r2.failures[0].error, /^refused: the job does not match its signature/)
    const keys = [...(await listKeys(bucket)).keys()].sort()
    assert.deepEqual(keys, ['ok/a.txt'])
  })

  it('s3c retry with a job key: a stored command changed in Redis, or unsigned, is refused in one line', async function () {
    const src = scratch('trust-retry')
    mkdirSync(join(src, 'd'))
    writeFileSync(join(src, 'd', 'a.txt'), 'mine')
    const bucket = await newBucket('forgeretry')
    const env = {S3C_REDIS_URL: harness().redis.url, S3C_JOB_KEY: KEY}
    const up = await runCli(['upload', src, `s3://${bucket}/r`, '--detach'], {env})
    assert.equal(up.code, 0, up.stderr)
    const runId = up.stdout.trim()
    const key = `s3c:run:${runId}`
    // Untouched, the command passes the check (the run is only still running).
    const fine = await runCliWithin(['retry', runId], {env})
    assert.match(fine.stderr, /is still running/)
    const command = JSON.parse((await redis.hget(key, 'command'))!)
    command.options.localFolder = '/etc'
    await redis.hset(key, 'command', JSON.stringify(command))
    const tampered = await runCliWithin(['retry', runId], {env})
    assert.equal(tampered.code, 2, tampered.stderr)
    assert.match(tampered.stderr, /^s3c: run "[^"]+": its stored command does not match its signature .*: refused; run the command again yourself\n$/)
    assert.ok(!tampered.stderr.includes(KEY))
    await redis.hdel(key, 'commandSig')
    const unsigned = await runCliWithin(['retry', runId], {env})
    assert.equal(unsigned.code, 2, unsigned.stderr)
    assert.match(unsigned.stderr, /its stored command is not signed, and this s3c has a job key/)
  })
  it('s3c retry without a job key: a stored command rewritten to name a folder outside --root (default: the working folder) is refused in one line, nothing read', async function () {
    const src = scratch('trust-rroot')
    mkdirSync(join(src, 'd'))
    writeFileSync(join(src, 'd', 'a.txt'), 'mine')
    const secret = scratch('trust-rroot-secret')
    writeFileSync(join(secret, 'id_rsa'), 'PRIVATE KEY')
    const bucket = await newBucket('forgeroot')
    const env = {S3C_REDIS_URL: harness().redis.url}
    const up = await runCli(['upload', src, `s3://${bucket}/r`, '--detach'], {env})
    assert.equal(up.code, 0, up.stderr)
    const runId = up.stdout.trim()
    const key = `s3c:run:${runId}`
    // Untouched, the command's folder is under --root, and under the working folder by default: the paths pass (the run is only still running).
    for (const opts of [{args: ['--root', src]}, {args: [], cwd: src, ownRoots: true}]) {
      const fine = await runCliWithin(['retry', runId, ...opts.args], {env, cwd: opts.cwd, ownRoots: opts.ownRoots})
      assert.match(fine.stderr, /is still running/)
    }
    const command = JSON.parse((await redis.hget(key, 'command'))!)
    command.options.localFolder = secret
    await redis.hset(key, 'command', JSON.stringify(command))
    const refused = new RegExp(`^s3c: run "${runId}": its stored command names ${secret}, outside the folders this retry may act in: run s3c retry with --root naming a folder that holds it\n$`)
    for (const opts of [{args: ['--root', src]}, {args: [], cwd: src, ownRoots: true}]) {
      const r = await runCliWithin(['retry', runId, ...opts.args], {env, cwd: opts.cwd, ownRoots: opts.ownRoots})
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, refused)
    }
    // A download folder, a local sync --delete destination: every place a stored command names is checked, whatever its verb.
    for (const forged of [{verb: 'download', options: {...command.options, localFolder: join(secret, 'into')}},
      {verb: 'sync-delete', options: {...command.options, localFolder: undefined, source: `s3://${bucket}/r`, destination: secret}},
      {verb: 'copy', options: {...command.options, localFolder: undefined, source: join(secret, 'id_rsa'), destination: `s3://${bucket}/x`}}]) {
      await redis.hset(key, 'command', JSON.stringify(forged))
      const r = await runCliWithin(['retry', runId, '--root', src], {env})
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /its stored command names .*, outside the folders this retry may act in: run s3c retry with --root/)
    }
    assert.deepEqual([...(await listKeys(bucket)).keys()], [], 'nothing uploaded')
    assert.ok(existsSync(join(secret, 'id_rsa')))
  })
})
