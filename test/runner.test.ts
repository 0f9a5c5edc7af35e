import assert from 'node:assert/strict'
import {Queue} from 'bullmq'
import type {JobData, JobResult, Work} from '../src/jobs/types.js'
import {BullMQRunner, LOOKAHEAD_BATCHES, MAX_BULK} from '../src/run/bullmq.js'
import type {JobEnvelope} from '../src/run/envelope.js'
import {QUEUE_NAME, RUNS_KEY, connectRedis, runDoneKey, runEventsChannel, runFailuresKey, runJobsKey, runKey, runLockKey, runOutcomesKey} from '../src/run/redis.js'
import {RunStats} from '../src/run/stats.js'
import {parseFileRecord, readCounters, readFailures, recordResult} from '../src/run/counters.js'
import {harness} from './harness/hooks.js'
import {waitFor} from './harness/wait.js'
import {complete, keyOf, part, uploadFiles} from './harness/jobs.js'

/*
 * The BullMQ runner against the harness's real redis-server: the test reads back what it
 * queued. test/unit/runner.test.ts runs the in-process runner on its own.
 */

describe('runners', function () {
  describe('BullMQRunner batching (real redis-server)', function () {
    let seq = 0
    /** Opens a run, feeds it `work`, and returns the jobs it put into the queue (then removes them: no worker runs them). */
    async function queued(work: Work[], opts: {batchFiles?: number; batchBytes?: number} = {}): Promise<{name: string; job: JobData; children: string[]}[]> {
      const url = harness().redis.url
      let runId = ''
      // Detached: drain() returns once everything is queued; no worker runs the jobs, the test reads them.
      const runner = await BullMQRunner.open({redisUrl: url, maxRetry: 0, stats: new RunStats(), description: `runner.test ${process.pid} ${Date.now()} ${seq++}`,
        command: '{}', detach: true, onRunId: id => { runId = id }, ...opts})
      for (const w of work) await runner.add(w)
      await runner.drain()
      const redis = connectRedis(url)
      const queue = new Queue(QUEUE_NAME, {connection: redis})
      try {
        const jobs = (await queue.getJobs(['waiting', 'waiting-children', 'prioritized', 'delayed'])).filter(j => (j.data as JobEnvelope).runId === runId)
        const out = await Promise.all(jobs.map(async j => {
          const deps = await j.getDependencies()
          return {id: j.id!, name: j.name, job: (j.data as JobEnvelope).job, children: Object.keys(deps.unprocessed ?? {}), top: (j.data as JobEnvelope).top}
        }))
        // Leave no trace for later tests: the jobs (a parent takes its children along) and the run.
        for (const j of jobs.filter(x => (x.data as JobEnvelope).top)) await queue.remove(j.id!).catch(() => undefined)
        await redis.multi().del(runKey(runId), runJobsKey(runId), runDoneKey(runId), runFailuresKey(runId)).zrem(RUNS_KEY, runId).exec()
        // Order: as added (BullMQ ids are not ordered; the envelope's files tell).
        return out.filter(j => j.top).sort((a, b) => work.findIndex(w => firstKey(w) === firstKey(a.job)) - work.findIndex(w => firstKey(w) === firstKey(b.job)))
      } finally {
        await queue.close()
        redis.disconnect()
      }
    }
    const firstKey = (w: Work | JobData) => ('parent' in w ? keyOf(w.parent) : keyOf(w))
    const filesOf = (j: {job: JobData}) => ('files' in j.job ? j.job.files.map(f => f.key) : [])

    it('merges consecutive small-file jobs up to batchFiles files and 8 MiB: the first batches ramp up, the last ones are cut small', async function () {
      const many = Array.from({length: 130}, (_, i) => uploadFiles(`f${String(i).padStart(3, '0')}`))
      // batchFiles 4: the look-ahead (16 batches, 64 files) is passed, so full batches are cut in the middle.
      const byCount = await queued(many, {batchFiles: 4})
      const sizes = byCount.map(j => filesOf(j).length)
      assert.deepEqual(byCount.flatMap(filesOf), many.map(w => w.files[0].key), 'every file once, in order')
      assert.deepEqual(sizes.slice(0, 4), [1, 2, 4, 4], 'the ramp, then full batches')
      assert.ok(sizes.every(n => n <= 4), `no batch over 4 files: ${sizes}`)
      assert.equal(sizes.at(-1), 1, `the tail is cut down to single files: ${sizes}`)
      for (let i = sizes.indexOf(4); i < sizes.length - 1; i++) assert.ok(sizes[i] >= sizes[i + 1], `from full batches down, sizes never grow: ${sizes}`)
      const MiB = 1 << 20
      // After the ramp and with more than the look-ahead held: a, b (6 MiB) fit one batch; c would pass 8 MiB.
      const tiny = (n: number, p: string) => Array.from({length: n}, (_, i) => uploadFiles(`${p}${String(i).padStart(3, '0')}`))
      const big = [...tiny(7, 'a0'), uploadFiles('a', 3 * MiB), uploadFiles('b', 3 * MiB), uploadFiles('c', 3 * MiB), uploadFiles('d', 1), ...tiny(70, 'z')]
      const byBytes = (await queued(big, {batchFiles: 4})).map(filesOf)
      assert.deepEqual(byBytes.find(f => f.includes('a')), ['a', 'b'])
      assert.deepEqual(byBytes.find(f => f.includes('c'))?.slice(0, 2), ['c', 'd'])
    })

    it('a change of kind or bucket cuts the held files; a flow goes after the files before it', async function () {
      const download = (key: string): Work => ({kind: 'download-files', bucket: 'b', root: '/nowhere', files: [{key, path: `/nowhere/${key}`, size: 1}]} as Work)
      const group = (p: string, bucket = 'b') => Array.from({length: 12}, (_, i) => uploadFiles(`${p}${String(i).padStart(2, '0')}`, 10, bucket))
      const work = [...group('a'), download('c'), ...group('d', 'other'), {parent: complete('big'), children: [part('big', 1), part('big', 2)]} as Work, uploadFiles('f', 10, 'other')]
      const jobs = await queued(work)
      const kindAndBucket = (j: {name: string; job: JobData}) => `${j.name} ${'bucket' in j.job ? j.job.bucket : ''}`
      // Each job holds files of one kind and bucket, and the groups come in the order added.
      const runs = jobs.map(kindAndBucket).filter((k, i, all) => i === 0 || all[i - 1] !== k)
      assert.deepEqual(runs, ['upload-files b', 'download-files b', 'upload-files other', 'complete-upload b', 'upload-files other'])
      assert.deepEqual(jobs.flatMap(j => filesOf(j).length ? filesOf(j) : [keyOf(j.job)]), work.map(w => ('parent' in w ? 'big' : keyOf(w))))
      assert.equal(jobs.find(j => j.name === 'complete-upload')!.children.length, 2, 'the flow keeps its two children')
    })
  })
})

describe('BullMQRunner: the run\'s events channel is untrusted', function () {
  it('forged and malformed messages on the channel never let the walk queue past maxPending: they cost reads of the counters, and the run goes on to its end', async function () {
    const url = harness().redis.url
    // maxPending above one bulk, so a walk that trusted the events would pass it between bulks.
    const cap = 300
    const total = 1500
    // What the cap allows: maxPending, one bulk sent before the walk looks again, and the
    // look-ahead's tail (batchFiles 1: a job per held file).
    const bound = cap + MAX_BULK + LOOKAHEAD_BATCHES
    const redis = connectRedis(url)
    const publisher = connectRedis(url)
    const connection = connectRedis(url)
    const queue = new Queue(QUEUE_NAME, {connection})
    let runId = ''
    let flooding = true
    let flood: Promise<void> = Promise.resolve()
    try {
      const runner = await BullMQRunner.open({redisUrl: url, maxRetry: 0, stats: new RunStats(), description: `runner.test forged ${process.pid} ${Date.now()}`,
        command: '{}', detach: true, maxPending: cap, batchFiles: 1, onRunId: id => { runId = id }})
      // Far more messages than jobs, of every shape: each one would count a job as finished.
      const junk: (string | Buffer)[] = ['1', '', 'not json', '{"jobsFinished":1e9}', Buffer.from([0xff, 0xfe, 0x00, 0x80]), 'x'.repeat(4096)]
      let forged = 0
      flood = (async () => {
        while (flooding) {
          const p = publisher.pipeline()
          for (let i = 0; i < 100; i++) p.publish(runEventsChannel(runId), junk[(forged + i) % junk.length])
          await p.exec()
          forged += 100
        }
      })()
      await waitFor(() => forged >= 1000)
      const work = Array.from({length: total}, (_, i) => uploadFiles(`f${String(i).padStart(4, '0')}`))
      let walked = false
      const walk = (async () => {
        for (const w of work) await runner.add(w)
        await runner.drain()
      })().then(() => undefined, (error: unknown) => error).finally(() => { walked = true })
      const waiting = async () => (await queue.getJobs(['waiting'])).filter(j => (j.data as JobEnvelope).runId === runId)
      let most = 0
      const look = async () => {
        const [jobs, unfinished] = await Promise.all([waiting(), redis.scard(runJobsKey(runId)).then(async a => a - await redis.scard(runDoneKey(runId)))])
        most = Math.max(most, jobs.length, unfinished)
        return jobs
      }
      // No worker yet: the walk fills the queue to the cap and waits there, under the flood (time
      // enough for a walk that believed it to queue every job many times over).
      await waitFor(async () => (await look()).length >= cap)
      const seen = forged
      await waitFor(async () => { await look(); return forged >= seen + 20_000 })
      assert.ok(most <= bound, `${most} jobs unfinished in Redis, the cap allows ${bound}`)
      assert.equal(walked, false, 'the walk waits for room')
      // Then jobs finish as a worker records them (a real event each), 50 at a time.
      const runTry = Number(await redis.hget(runKey(runId), 'try'))
      let finished = 0
      while (!walked || finished < total) {
        const jobs = (await look()).slice(0, 50)
        for (const j of jobs) {
          await queue.remove(j.id!)
          await recordResult(redis, runId, runTry, j.id!, {files: []})
          finished++
        }
        if (jobs.length > 0) continue
        if (walked) break
        await new Promise(r => setTimeout(r, 20))
      }
      assert.equal(await walk, undefined, 'no message stopped the run')
      assert.ok(most <= bound, `${most} jobs unfinished in Redis, the cap allows ${bound}`)
      const c = await readCounters(redis, runId)
      assert.deepEqual([c.jobsAdded, c.jobsFinished, finished], [total, total, total])
    } finally {
      flooding = false
      await flood
      await redis.multi().del(runKey(runId), runJobsKey(runId), runDoneKey(runId), runFailuresKey(runId)).zrem(RUNS_KEY, runId).exec()
      await queue.close()
      connection.disconnect()
      redis.disconnect()
      publisher.disconnect()
    }
  })
})

describe('run counters in Redis', function () {
  it('readCounters reads the counts and the job sets at one instant (a job finishing in between is not half-seen)', async function () {
    const redis = connectRedis(harness().redis.url)
    const worker = connectRedis(harness().redis.url)
    const runId = `counters-${process.pid}-${Date.now()}`
    try {
      await redis.multi().hset(runKey(runId), {try: 1, filesDone: 150}).sadd(runJobsKey(runId), 'job-1').exec()
      // A worker records its job while the reader is between its commands: the reader must see
      // either neither (1 job added, none finished) or both (finished, and its file counted).
      const scard = redis.scard.bind(redis) as (key: string) => Promise<number>
      let recorded = false
      ;(redis as unknown as {scard: (key: string) => Promise<number>}).scard = async (key: string) => {
        if (!recorded) {
          recorded = true
          await recordResult(worker, runId, 1, 'job-1', {files: [{key: 'flaky', path: 'flaky', bytes: 1, status: 'done'}]})
        }
        return scard(key)
      }
      const c = await readCounters(redis, runId)
      const finished = c.jobsFinished >= c.jobsAdded
      assert.equal(c.filesDone, finished ? 151 : 150, `jobs ${c.jobsFinished}/${c.jobsAdded} finished, filesDone ${c.filesDone}`)
    } finally {
      await redis.del(runKey(runId), runJobsKey(runId), runDoneKey(runId), runFailuresKey(runId))
      redis.disconnect()
      worker.disconnect()
    }
  })

  it('recordResult sends the file records to the outcome list only for the current try, while the CLI collects them and holds its lock', async function () {
    const redis = connectRedis(harness().redis.url)
    const runId = `outcomes-${process.pid}-${Date.now()}`
    const state = {etag: 'e1', local: {size: 1, mtimeNs: '5', ino: '7', ctimeNs: '9'}}
    const result: JobResult = {files: [
      {key: 'a', path: '/x/a', bytes: 1, status: 'done', state},
      {key: 'b', path: '/x/b', bytes: 0, status: 'failed', error: 'refused'},
      {key: 'c', path: '/x/c', bytes: 1, status: 'skipped'},
    ]}
    const list = () => redis.lrange(runOutcomesKey(runId), 0, -1)
    try {
      await redis.multi().hset(runKey(runId), {try: 2, outcomes: 1}).set(runLockKey(runId), 'cli').exec()
      assert.equal(await recordResult(redis, runId, 1, 'stale', result, true), false, 'a job of an earlier try')
      assert.deepEqual(await list(), [])
      assert.equal(await recordResult(redis, runId, 2, 'j1', result, true), true)
      assert.deepEqual((await list()).map(parseFileRecord), [
        {key: 'a', status: 'done', state, path: '', bytes: 0},
        {key: 'b', status: 'failed', state: undefined, path: '', bytes: 0},
        {key: 'c', status: 'skipped', state: undefined, path: '', bytes: 0},
      ])
      assert.equal(await recordResult(redis, runId, 2, 'j1', result, true), false, 'a job that ran twice counts and reports once')
      assert.equal((await list()).length, 3)
      // The failures and counts are unchanged by the records that follow them.
      assert.deepEqual(await readFailures(redis, runId), [{key: 'b', path: '/x/b', error: 'refused'}])
      assert.deepEqual(await redis.hmget(runKey(runId), 'filesDone', 'filesFailed', 'filesSkipped'), ['1', '1', '1'])
      // The CLI is gone (its lock lapsed) or does not collect: counted, nothing pushed.
      await redis.del(runLockKey(runId))
      assert.equal(await recordResult(redis, runId, 2, 'j2', result, true), true)
      await redis.multi().set(runLockKey(runId), 'cli').hdel(runKey(runId), 'outcomes').exec()
      assert.equal(await recordResult(redis, runId, 2, 'j3', result, true), true)
      assert.equal((await list()).length, 3)
      assert.deepEqual(await redis.hmget(runKey(runId), 'filesDone', 'filesFailed'), ['3', '3'])
    } finally {
      await redis.del(runKey(runId), runJobsKey(runId), runDoneKey(runId), runFailuresKey(runId), runOutcomesKey(runId), runLockKey(runId))
      redis.disconnect()
    }
  })

  it('an attached BullMQ run pops outcome records in chunks into collectOutcomes and deletes the list at its end; a later try drops an earlier try\'s records; a detached run collects none', async function () {
    const url = harness().redis.url
    const redis = connectRedis(url)
    const description = `runner.test outcomes ${process.pid} ${Date.now()}`
    let runId = ''
    const seen: string[] = []
    try {
      const runner = await BullMQRunner.open({redisUrl: url, maxRetry: 0, stats: new RunStats(), description, command: '{}', onRunId: id => { runId = id }})
      const admitted = await runner.collectOutcomes(o => { seen.push(o.key) })
      assert.ok(admitted !== undefined && admitted > 0)
      assert.equal(await redis.hget(runKey(runId), 'outcomes'), '1', 'workers are told to report outcomes')
      // As workers would push them (2,500: three pops of at most 1,000), then the run ends.
      const keys = Array.from({length: 2500}, (_, i) => `k${i}`)
      await redis.rpush(runOutcomesKey(runId), ...keys.map(key => JSON.stringify({key, status: 'done'})))
      await runner.drain()
      assert.deepEqual(seen, keys, 'every record, in order, once')
      assert.equal(await redis.exists(runOutcomesKey(runId)), 0)
      assert.equal(await redis.hget(runKey(runId), 'outcomes'), null)

      // Records an earlier try left (its CLI died while workers reported) are not the next try's.
      await redis.multi().hset(runKey(runId), {outcomes: 1, status: 'interrupted'}).rpush(runOutcomesKey(runId), JSON.stringify({key: 'old', status: 'done'})).exec()
      const next = await BullMQRunner.open({redisUrl: url, runId, maxRetry: 0, stats: new RunStats(), description, command: '{}'})
      assert.equal(await redis.exists(runOutcomesKey(runId)), 0, 'dropped when the new try starts')
      assert.equal(await redis.hget(runKey(runId), 'outcomes'), null)
      seen.length = 0
      await next.collectOutcomes(o => { seen.push(o.key) })
      await next.drain()
      assert.deepEqual(seen, [])

      const detached = await BullMQRunner.open({redisUrl: url, runId, maxRetry: 0, stats: new RunStats(), description, command: '{}', detach: true})
      assert.equal(await detached.collectOutcomes(() => assert.fail('a detached run collects nothing')), undefined)
      assert.equal(await redis.hget(runKey(runId), 'outcomes'), null)
      await detached.drain()
    } finally {
      await redis.multi().del(runKey(runId), runJobsKey(runId), runDoneKey(runId), runFailuresKey(runId), runOutcomesKey(runId)).zrem(RUNS_KEY, runId).exec()
      redis.disconnect()
    }
  })
})
