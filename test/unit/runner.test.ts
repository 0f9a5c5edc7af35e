import assert from 'node:assert/strict'
import {FatalError, S3cError} from '../../src/base/errors.js'
import type {Handlers} from '../../src/jobs/handlers.js'
import type {ChildrenOutcome, JobContext, JobData, JobResult, Work} from '../../src/jobs/types.js'
import {InProcessRunner} from '../../src/run/in-process.js'
import {PartBudget} from '../../src/run/slots.js'
import {kindOf} from '../../src/jobs/registry.js'
import {complete, keyOf, part, uploadFiles} from '../harness/jobs.js'

/*
 * The in-process runner on its own, given a handler table of its own: this tests the runner's
 * ordering, not S3. test/runner.test.ts runs the BullMQ runner against a real redis-server.
 */

/** A promise with its resolve, to hold a handler until the test lets it go. */
function gate(): {promise: Promise<void>; open(): void} {
  let open!: () => void
  const promise = new Promise<void>(resolve => { open = resolve })
  return {promise, open}
}

/** A handler table that records the order jobs ran in; `run` decides what each job does. */
function recordingHandlers(run: (job: JobData, children?: ChildrenOutcome) => Promise<JobResult>): {handlers: Handlers; order: string[]; started: string[]} {
  const order: string[] = []
  const started: string[] = []
  const handler = async (job: JobData, _ctx: JobContext, children?: ChildrenOutcome) => {
    started.push(keyOf(job))
    try {
      return await run(job, children)
    } finally {
      order.push(keyOf(job))
    }
  }
  const handlers = new Proxy({}, {get: () => handler}) as Handlers
  return {handlers, order, started}
}

function runnerWith(handlers: Handlers, opts: {concurrency: number; maxQueued?: number; parts?: PartBudget}) {
  const results: {job: JobData; result: JobResult}[] = []
  const ctx: JobContext = {s3: undefined as never, onBytes: () => undefined}
  const runner = new InProcessRunner(handlers, ctx, {...opts, onResult: (result, job) => results.push({job, result}),
    partBytes: job => kindOf(job).partBytes?.(job)})
  return {runner, results}
}
describe('runners', function () {
  describe('InProcessRunner', function () {
    it('runs a flow\'s parent after all its children, and hands it their results and failures', async function () {
      const {handlers, order} = recordingHandlers(async (job, children) => {
        if (job.kind === 'upload-part' && job.partNumber === 2) throw new Error('part 2 refused')
        if (job.kind === 'complete-upload') return {files: [{key: job.key, path: job.path, bytes: 1, status: children!.failures.length ? 'failed' : 'done', error: children!.failures[0]}]}
        return {part: {PartNumber: (job as {partNumber: number}).partNumber, ETag: '"e"'}}
      })
      const {runner, results} = runnerWith(handlers, {concurrency: 4})
      await runner.add({parent: complete('f'), children: [part('f', 1), part('f', 2), part('f', 3)]} as Work)
      await runner.drain()
      assert.equal(order.at(-1), 'f', 'the parent runs last')
      assert.deepEqual(order.slice(0, 3).sort(), ['f#1', 'f#2', 'f#3'])
      const parent = results.find(r => r.job.kind === 'complete-upload')!
      assert.equal(parent.result.files![0].status, 'failed')
      assert.match(parent.result.files![0].error!, /part 2 refused/)
    })

    it('a job that throws is reported as its files failed, and the run goes on', async function () {
      const {handlers} = recordingHandlers(async job => {
        if (keyOf(job) === 'bad') throw new Error('no such file')
        return {files: [{key: keyOf(job), path: '', bytes: 10, status: 'done'}]}
      })
      const {runner, results} = runnerWith(handlers, {concurrency: 1})
      for (const k of ['a', 'bad', 'c']) await runner.add(uploadFiles(k))
      await runner.drain()
      assert.deepEqual(results.map(r => [r.result.files![0].key, r.result.files![0].status]), [['a', 'done'], ['bad', 'failed'], ['c', 'done']])
    })

    it('add() waits while maxQueued jobs are waiting (backpressure), and goes on once one starts', async function () {
      const hold = gate()
      const {handlers, started} = recordingHandlers(async () => {
        await hold.promise
        return {}
      })
      const {runner} = runnerWith(handlers, {concurrency: 1, maxQueued: 2})
      await runner.add(uploadFiles('running'))
      await runner.add(uploadFiles('q1'))
      await runner.add(uploadFiles('q2'))
      let accepted = false
      const blocked = runner.add(uploadFiles('q3')).then(() => { accepted = true })
      // Let every pending callback run: add() must still be waiting (one running, two queued).
      await new Promise(resolve => setImmediate(resolve))
      assert.equal(accepted, false, 'add() returned with the queue full')
      assert.deepEqual(started, ['running'])
      hold.open()
      await blocked
      await runner.drain()
      assert.deepEqual(started, ['running', 'q1', 'q2', 'q3'])
    })

    it('stop(): nothing new starts, running jobs finish, drain() and add() reject with the error', async function () {
      const hold = gate()
      const {handlers, started, order} = recordingHandlers(async () => {
        await hold.promise
        return {}
      })
      const {runner} = runnerWith(handlers, {concurrency: 2})
      for (const k of ['a', 'b', 'c', 'd']) await runner.add(uploadFiles(k))
      assert.deepEqual(started, ['a', 'b'])
      const error = new FatalError(new S3cError('stopped by the test'))
      runner.stop(error)
      hold.open()
      await assert.rejects(runner.drain(), e => e === error)
      assert.deepEqual(started, ['a', 'b'], 'no job started after stop()')
      assert.deepEqual(order.sort(), ['a', 'b'])
      await assert.rejects(runner.add(uploadFiles('e')), e => e === error)
    })

    it('a FatalError from a job stops the run', async function () {
      const fatal = new FatalError(new S3cError('access denied'))
      const hold = gate()
      const {handlers, started} = recordingHandlers(async job => {
        await hold.promise
        if (keyOf(job) === 'a') throw fatal
        return {}
      })
      const {runner} = runnerWith(handlers, {concurrency: 1})
      for (const k of ['a', 'b', 'c']) await runner.add(uploadFiles(k))
      hold.open()
      await assert.rejects(runner.drain(), e => e === fatal)
      assert.deepEqual(started, ['a'])
    })

    it('a part budget bounds the parts in flight; other jobs go past parts it holds back, and parts keep their order', async function () {
      const holds = new Map<string, {promise: Promise<void>; open(): void}>()
      const {handlers, started} = recordingHandlers(async job => {
        const g = gate()
        holds.set(keyOf(job), g)
        await g.promise
        return {}
      })
      // Parts of 8 bytes, 24 bytes of budget: 3 parts at once (the minimum, 2, does not bind), in 10 slots.
      const {runner} = runnerWith(handlers, {concurrency: 10, parts: new PartBudget(24, 2)})
      const work: Work[] = [part('f', 1), part('f', 2), part('f', 3), part('f', 4), part('f', 5), uploadFiles('small1'), part('f', 6), uploadFiles('small2')]
      for (const w of work) await runner.add(w)
      await new Promise(setImmediate)
      assert.deepEqual(started, ['f#1', 'f#2', 'f#3', 'small1', 'small2'])
      holds.get('f#2')!.open()
      await new Promise(setImmediate)
      assert.deepEqual(started.slice(5), ['f#4'], 'a finished part lets the first part held back start')
      for (const k of ['f#1', 'f#3', 'f#4', 'small1', 'small2']) holds.get(k)!.open()
      await new Promise(setImmediate)
      await new Promise(setImmediate)
      assert.deepEqual(started.slice(6), ['f#5', 'f#6'])
      for (const k of ['f#5', 'f#6']) holds.get(k)!.open()
      await runner.drain()
    })

    it('parts larger than the whole budget still run, as many at once as the budget\'s minimum', async function () {
      const release: (() => void)[] = []
      const {handlers, started} = recordingHandlers(() => new Promise(resolve => release.push(() => resolve({}))))
      const {runner} = runnerWith(handlers, {concurrency: 10, parts: new PartBudget(4, 2)})
      for (let n = 1; n <= 4; n++) await runner.add(part('f', n))
      await new Promise(setImmediate)
      assert.deepEqual(started, ['f#1', 'f#2'])
      while (release.length) {
        release.shift()!()
        await new Promise(setImmediate)
        await new Promise(setImmediate)
      }
      await runner.drain()
      assert.deepEqual(started, ['f#1', 'f#2', 'f#3', 'f#4'])
    })
  })
})
