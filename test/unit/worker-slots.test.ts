import assert from 'node:assert/strict'
import {AdaptiveLimit} from '../../src/run/adaptive.js'
import {batchSize} from '../../src/run/batching.js'
import {PartBudget, RequestSlots} from '../../src/run/slots.js'

/* A worker's request slots (s3c worker --concurrency) and the enqueuer's batch sizes: no server needed. */

describe('worker request slots and batch sizes', function () {
  it('RequestSlots: never more than the limit in flight, reached with enough waiting, served in order', async function () {
    const slots = new RequestSlots(3)
    const release: (() => void)[] = []
    const started: number[] = []
    const runs = Array.from({length: 10}, (_, i) => slots.run(() => new Promise<number>(resolve => {
      started.push(i)
      release.push(() => resolve(i))
    })))
    await new Promise(setImmediate)
    assert.deepEqual(started, [0, 1, 2])
    assert.equal(slots.inFlight, 3)
    assert.equal(slots.queued, 7)
    while (release.length) {
      release.shift()!()
      await new Promise(setImmediate)
      assert.ok(slots.inFlight <= 3)
    }
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.equal(slots.peak, 3)
    assert.equal(slots.inFlight, 0)
  })

  it('RequestSlots with a part budget: parts wait for it without a slot, other transfers go past them', async function () {
    const slots = new RequestSlots(4, undefined, new PartBudget(16, 1))
    const release = new Map<string, () => void>()
    const started: string[] = []
    const job = (name: string, part?: number) => slots.run(() => new Promise<void>(resolve => {
      started.push(name)
      release.set(name, resolve)
    }), part)
    const runs = [job('p1', 8), job('p2', 8), job('p3', 8), job('s1'), job('p4', 8), job('s2'), job('s3')]
    await new Promise(setImmediate)
    assert.deepEqual(started, ['p1', 'p2', 's1', 's2'], 'two parts of 8 fill 16 bytes; small transfers take the other slots')
    assert.equal(slots.queuedParts, 2)
    assert.ok(slots.enoughPartsWaiting)
    release.get('s1')!()
    await new Promise(setImmediate)
    assert.deepEqual(started.slice(4), ['s3'], 'a freed slot goes to the next transfer the budget does not hold back')
    release.get('p1')!()
    await new Promise(setImmediate)
    assert.deepEqual(started.slice(5), ['p3'], 'parts keep their order')
    for (const k of ['p2', 's2', 's3', 'p3']) release.get(k)!()
    await new Promise(setImmediate)
    assert.deepEqual(started.slice(6), ['p4'])
    release.get('p4')!()
    await Promise.all(runs)
    assert.equal(slots.inFlight, 0)
    assert.equal(slots.queuedParts, 0)
  })

  it('without a part budget (a fixed --concurrency), parts take slots as any transfer', async function () {
    const slots = new RequestSlots(3)
    const release: (() => void)[] = []
    const runs = Array.from({length: 5}, () => slots.run(() => new Promise<void>(resolve => release.push(resolve)), 1 << 30))
    await new Promise(setImmediate)
    assert.equal(slots.inFlight, 3)
    assert.equal(slots.enoughPartsWaiting, false)
    while (release.length) {
      release.shift()!()
      await new Promise(setImmediate)
    }
    await Promise.all(runs)
  })

  it('a part budget ignores a length that is no byte count (a job from Redis): it holds nothing', function () {
    const budget = new PartBudget(16, 1)
    for (const n of [Number.NaN, -5, 1.5, Number.POSITIVE_INFINITY, '8' as unknown as number]) {
      budget.take(n)
      assert.ok(budget.fits(16), String(n))
      budget.give(n)
    }
    assert.equal(budget.inFlight, 0)
  })

  it('RequestSlots follows an adaptive limit up and down', async function () {
    const limit = new AdaptiveLimit({start: 4, min: 1, max: 16})
    const slots = new RequestSlots(0, limit)
    const release: (() => void)[] = []
    const runs = Array.from({length: 20}, () => slots.run(() => new Promise<void>(resolve => release.push(resolve))))
    await new Promise(setImmediate)
    assert.equal(slots.inFlight, 4)
    limit.limit = 8
    release.shift()!()
    await new Promise(setImmediate)
    assert.equal(slots.inFlight, 8, 'a finished transfer lets the raised limit fill')
    limit.limit = 2
    for (let i = 0; i < 6; i++) release.shift()!()
    await new Promise(setImmediate)
    assert.equal(slots.inFlight, 2, 'a lowered limit is kept once transfers finish')
    while (release.length) {
      release.shift()!()
      await new Promise(setImmediate)
      assert.ok(slots.inFlight <= 2)
    }
    await Promise.all(runs)
  })

  it('batchSize ramps up, stays at the most in the middle, and cuts the tail by the workers seen', function () {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 20].map(emitted => batchSize({emitted, remaining: 10_000, end: false, workers: 4, max: 64})), [1, 2, 4, 8, 16, 32, 64, 64, 64])
    // The tail: remaining / (2 × workers), at most the ramp's cap, at least one file.
    let remaining = 300
    const tail: number[] = []
    while (remaining > 0) {
      const n = batchSize({emitted: 10, remaining, end: true, workers: 4, max: 64})
      tail.push(n)
      remaining -= n
    }
    assert.ok(tail[0] === 38 && tail.at(-1) === 1, `${tail}`)
    for (let i = 1; i < tail.length; i++) assert.ok(tail[i] <= tail[i - 1], `${tail}`)
    assert.equal(batchSize({emitted: 10, remaining: 100_000, end: true, workers: 4, max: 64}), 64)
    assert.equal(batchSize({emitted: 0, remaining: 100, end: true, workers: 1, max: 64}), 1, 'the ramp holds at the end too')
  })
})
