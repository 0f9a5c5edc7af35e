import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, spawnCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {listKeys} from './harness/objects.js'
import type {RecordedRequest} from './harness/proxy.js'
import {runCliWithin, runIdOf, withWorker, withWorkers} from './harness/run.js'
import {putObjects} from './harness/verbs.js'
import {waitFor} from './harness/wait.js'

const isDeleteObjects = (r: RecordedRequest) => r.method === 'POST' && /(^|&)delete(=|&|$)/.test(r.query)

function keysOf(n: number, prefix: string, suffix = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < n; i++) out[`${prefix}${String(i).padStart(5, '0')}${suffix}`] = 'x'
  return out
}

describe('rm, rb --force and sync --delete on BullMQ workers (--redis)', function () {
  this.timeout(240_000)
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  it('rm of 4,500 keys on two workers, one SIGKILLed mid-run: every named key gone, nothing else, each DeleteObjects of a dead worker sent again', async function () {
    const bucket = await newBucket('rmbq')
    // 4,000 under many/ (4 jobs of 1,000) and 500 .gz of logs/ (1 job); the rest must stay.
    await putObjects(bucket, {...keysOf(4000, 'many/'), ...keysOf(500, 'logs/', '.gz'), ...keysOf(20, 'logs/', '.log'), 'manyx': 'not under many/', 'keep/a': 'a'})
    // Every DeleteObjects waits until released: with one job in hand per worker, both hold one when two are held.
    await withWorkers(2, {proxy: {hold: isDeleteObjects}, args: ['--concurrency', '1', '--stalled-seconds', '2']}, async ([doomed, {proxy, env}]) => {
      const run = spawnCli(['rm', `s3://${bucket}/many/`, `s3://${bucket}/logs/*.gz`, '--json'], {env})
      await waitFor(() => proxy.held() === 2)
      doomed.child.kill('SIGKILL')
      await doomed.done
      proxy.setFaults({})
      const r = await run.done
      assert.equal(r.code, 0, r.stderr + r.stdout)
      assert.match(r.stderr, /run \d{8}-[0-9a-f]{8}/)
      const s = JSON.parse(r.stdout)
      assert.deepEqual([s.removed, s.failed, s.requests, s.unmatched], [4500, 0, 5, []], r.stdout)
      assert.match(s.runId, /^\d{8}-[0-9a-f]{8}$/)
      // 5 jobs, and the one the killed worker held sent again by the survivor (its stalled job).
      assert.equal(proxy.count(undefined, isDeleteObjects), 6)
      assert.equal(proxy.count(undefined, r => r.method === 'DELETE'), 0, 'no single-key deletes')
    })
    const left = [...(await listKeys(bucket)).keys()].sort()
    assert.deepEqual(left, ['keep/a', ...Object.keys(keysOf(20, 'logs/', '.log')), 'manyx'])
  })

  it('rm --redis with a DeleteObjects that fails for good: exit 1 naming its keys; s3c retry deletes only those, not a key added since', async function () {
    const bucket = await newBucket('rmbqr')
    await putObjects(bucket, keysOf(3000, 'k/'))
    let deletes = 0
    await withWorker({proxy: {alwaysFail: (_p, r) => isDeleteObjects(r) && ++deletes === 2}}, async ({proxy, env}) => {
      const first = await runCliWithin(['rm', `s3://${bucket}/k/`, '--max-retry', '0', '--json'], {env})
      assert.equal(first.code, 1, first.stderr)
      const s = JSON.parse(first.stdout)
      assert.deepEqual([s.removed, s.failed, s.requests], [2000, 1000, 3])
      assert.match(s.failures[0].url, new RegExp(`^s3://${bucket}/k/\\d{5}$`))
      assert.match(s.failures[0].error, /InternalError/)
      assert.match(first.stderr, /^failed: s3:\/\/.*\/k\/\d{5}: /m)
      const failed = new Set<string>(s.failures.map((f: {url: string}) => f.url.slice(`s3://${bucket}/`.length)))
      assert.deepEqual([...(await listKeys(bucket)).keys()].sort(), [...failed].sort())
      // A key the first run never saw: a retry redoes what failed, nothing more.
      await putObjects(bucket, {'k/new': 'arrived after the run'})
      proxy.setFaults({})
      proxy.reset()
      const retry = await runCliWithin(['retry', s.runId, '--json'], {env})
      assert.equal(retry.code, 0, retry.stderr)
      const rs = JSON.parse(retry.stdout)
      assert.equal(rs.command, 'rm')
      assert.deepEqual([rs.filesDone, rs.filesFailed], [3000, 0], retry.stdout.slice(0, 2000))
      assert.equal(proxy.count(undefined, isDeleteObjects), 1, 'one DeleteObjects: the failed 1,000 keys')
      assert.deepEqual([...(await listKeys(bucket)).keys()], ['k/new'])
    })
  })

  it('rb --force --redis empties the bucket on the worker (3 DeleteObjects for 2,500 keys), then removes it; --detach is refused', async function () {
    const bucket = await newBucket('rbbq')
    await putObjects(bucket, keysOf(2500, 'o/'))
    await withWorker({proxy: {}}, async ({proxy, env}) => {
      const detached = await runCliWithin(['rb', `s3://${bucket}`, '--force', '--detach'], {env})
      assert.equal(detached.code, 2)
      assert.equal(detached.stderr.trim().split('\n').length, 1, detached.stderr)
      assert.match(detached.stderr, /rb --detach/)
      assert.equal(proxy.count(undefined, isDeleteObjects), 0)
      const r = await runCliWithin(['rb', `s3://${bucket}`, '--force', '--json'], {env})
      assert.equal(r.code, 0, r.stderr)
      runIdOf(r.stderr)
      const s = JSON.parse(r.stdout)
      assert.equal(s.objectsDeleted, 2500)
      assert.match(s.runId, /^\d{8}-[0-9a-f]{8}$/)
      assert.equal(proxy.count(undefined, isDeleteObjects), 3)
      const gone = await runCli(['rb', `s3://${bucket}`])
      assert.equal(gone.code, 2)
      assert.match(gone.stderr, /does not exist/)
    })
  })

  it('sync --delete --redis: the delete pass is a second run on the worker (S3→S3 and local→S3); --detach with --delete is refused', async function () {
    const bucket = await newBucket('syncbq')
    const other = await newBucket('syncbqo')
    await putObjects(bucket, keysOf(30, 'src/'))
    await putObjects(other, {...keysOf(1500, 'dst/extra-'), 'dst/keep.log': 'excluded', 'outside': 'not under dst/'})
    const folder = mkdtempSync(join(tmpdir(), 's3c-syncbq-'))
    dirs.push(folder)
    await withWorker({proxy: {}}, async ({proxy, env}) => {
      const detached = await runCliWithin(['sync', `s3://${bucket}/src/`, `s3://${other}/dst/`, '--delete', '--detach'], {env})
      assert.equal(detached.code, 2)
      assert.match(detached.stderr, /--delete --detach/)
      const r = await runCliWithin(['sync', `s3://${bucket}/src/`, `s3://${other}/dst/`, '--delete', '--exclude', '*.log', '--json'], {env})
      assert.equal(r.code, 0, r.stderr)
      const s = JSON.parse(r.stdout)
      assert.deepEqual([s.filesDone, s.filesFailed, s.deleted], [30, 0, 1500], r.stdout)
      const runs = [...r.stderr.matchAll(/run (\d{8}-[0-9a-f]{8})/g)].map(m => m[1])
      assert.equal(new Set(runs).size, 2, `two runs: the copies and the deletes\n${r.stderr}`)
      assert.equal(proxy.count(undefined, isDeleteObjects), 2)
      assert.deepEqual([...(await listKeys(other)).keys()].sort(), [...Object.keys(keysOf(30, 'dst/')), 'dst/keep.log', 'outside'])

      // local→S3: what the folder no longer has goes, on the worker too.
      writeFileSync(join(folder, 'a.txt'), 'a')
      writeFileSync(join(folder, 'b.txt'), 'b')
      assert.equal((await runCli(['sync', folder, `s3://${other}/up/`], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})).code, 0)
      rmSync(join(folder, 'b.txt'))
      proxy.reset()
      const up = await runCliWithin(['sync', folder, `s3://${other}/up/`, '--delete', '--json'], {env})
      assert.equal(up.code, 0, up.stderr)
      assert.equal(JSON.parse(up.stdout).deleted, 1)
      assert.equal(proxy.count(undefined, isDeleteObjects), 1)
      assert.deepEqual([...(await listKeys(other)).keys()].filter(k => k.startsWith('up/')), ['up/a.txt'])
    })
  })
})
