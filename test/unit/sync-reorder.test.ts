import assert from 'node:assert/strict'
import {ReorderBuffer} from '../../src/state/reorder.js'

const tick = () => new Promise(r => setImmediate(r))

describe('sync reorder buffer: results out of order, state entries in order', function () {
  it('releases the filled prefix in slot order as results arrive out of order', async function () {
    const out: string[] = []
    const buf = new ReorderBuffer<string>({capacity: 10, sink: v => { out.push(v) }})
    const s = await Promise.all(['a', 'b', 'c', 'd', 'e'].map(() => buf.reserve()))
    buf.fill(s[0], 'a') // a skip: released at once
    buf.fill(s[2], 'c')
    buf.fill(s[4], 'e')
    await buf.flushed()
    assert.deepEqual(out, ['a'])
    assert.equal(buf.size, 4)
    buf.fill(s[1], 'b')
    await buf.flushed()
    assert.deepEqual(out, ['a', 'b', 'c'])
    buf.fill(s[3], undefined) // a failed transfer: no entry
    await buf.close()
    assert.deepEqual(out, ['a', 'b', 'c', 'e'])
    assert.equal(buf.released, 4)
  })

  it("'wait': reserve waits while capacity slots are held, and goes on once the head is filled", async function () {
    const out: number[] = []
    const buf = new ReorderBuffer<number>({capacity: 3, sink: v => { out.push(v) }})
    const s0 = await buf.reserve()
    const s1 = await buf.reserve()
    const s2 = await buf.reserve()
    buf.fill(s1, 1)
    buf.fill(s2, 2)
    let got: number | undefined
    const pending = buf.reserve().then(s => { got = s })
    await tick()
    assert.equal(got, undefined, 'waits: the head is still out')
    buf.fill(s0, 0)
    await pending
    assert.equal(got, 3)
    buf.fill(got!, 3)
    await buf.close()
    assert.deepEqual(out, [0, 1, 2, 3])
  })

  it("'forfeit': a full buffer gives up its head slot instead of waiting; its late result is dropped", async function () {
    const out: string[] = []
    const buf = new ReorderBuffer<string>({capacity: 3, sink: v => { out.push(v) }, overflow: 'forfeit'})
    const slow = await buf.reserve() // a large file still uploading
    const rest: number[] = []
    for (let i = 0; i < 5; i++) {
      const s = await buf.reserve()
      rest.push(s)
      buf.fill(s, `skip${i}`)
    }
    assert.equal(buf.forfeited, 1)
    assert.ok(buf.size <= 3)
    buf.fill(slow, 'late') // ignored
    await buf.close()
    assert.deepEqual(out, ['skip0', 'skip1', 'skip2', 'skip3', 'skip4'])
  })

  it('a slow sink holds space too: memory stays bounded by capacity', async function () {
    let inSink = 0
    let maxHeld = 0
    const written: number[] = []
    const buf = new ReorderBuffer<number>({capacity: 8, sink: async v => {
      inSink++
      await new Promise(r => setTimeout(r, 1))
      written.push(v)
      inSink--
    }})
    for (let i = 0; i < 200; i++) {
      const s = await buf.reserve()
      buf.fill(s, i)
      maxHeld = Math.max(maxHeld, buf.size)
    }
    await buf.close()
    assert.ok(maxHeld <= 8, `held ${maxHeld}`)
    assert.deepEqual(written, Array.from({length: 200}, (_, i) => i))
    assert.equal(inSink, 0)
  })

  it('random completion order over many slots: output is exactly the slot order, size never above capacity', async function () {
    const n = 5000
    const capacity = 64
    const out: number[] = []
    const buf = new ReorderBuffer<number>({capacity, sink: v => { out.push(v) }})
    let seed = 7
    const rnd = (m: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % m
    const inFlight: number[] = []
    for (let i = 0; i < n; i++) {
      // Like a runner with up to 32 jobs in flight finishing in any order.
      while (inFlight.length >= 32) buf.fill(...(inFlight.splice(rnd(inFlight.length), 1).map(s => [s, s] as const)[0]))
      const s = await buf.reserve()
      assert.ok(buf.size <= capacity)
      if (rnd(3) === 0) buf.fill(s, s) // decided at once
      else inFlight.push(s)
    }
    while (inFlight.length) { const s = inFlight.splice(rnd(inFlight.length), 1)[0]; buf.fill(s, s) }
    await buf.close()
    assert.deepEqual(out, Array.from({length: n}, (_, i) => i))
  })

  it('an interrupted run: forfeitPending releases what was filled, in order, and close then succeeds', async function () {
    const out: string[] = []
    const buf = new ReorderBuffer<string>({capacity: 10, sink: v => { out.push(v) }})
    const s = await Promise.all([0, 1, 2, 3].map(() => buf.reserve()))
    buf.fill(s[1], 'b')
    buf.fill(s[3], 'd')
    await assert.rejects(buf.close(), /4 slots not filled/)
    const again = new ReorderBuffer<string>({capacity: 10, sink: v => { out.push(v) }})
    const t = await Promise.all([0, 1, 2, 3].map(() => again.reserve()))
    again.fill(t[1], 'b')
    again.fill(t[3], 'd')
    again.forfeitPending()
    await again.close()
    assert.deepEqual(out, ['b', 'd'])
    assert.equal(again.forfeited, 2)
  })

  it('refuses misuse: a slot filled twice, a slot never reserved, capacity 0', async function () {
    const buf = new ReorderBuffer<number>({capacity: 4, sink: () => undefined})
    const a = await buf.reserve()
    const b = await buf.reserve()
    buf.fill(b, 2)
    assert.throws(() => buf.fill(b, 2), /filled twice/)
    assert.throws(() => buf.fill(b + 5, 1), /never reserved/)
    buf.fill(a, 1)
    await buf.close()
    await assert.rejects(buf.reserve(), /closed/)
    assert.throws(() => new ReorderBuffer<number>({capacity: 0, sink: () => undefined}), RangeError)
  })

  it('a sink that fails makes reserve and close reject with its error', async function () {
    const buf = new ReorderBuffer<number>({capacity: 2, sink: v => { if (v === 1) throw new Error('disk full') }})
    buf.fill(await buf.reserve(), 0)
    buf.fill(await buf.reserve(), 1)
    await assert.rejects(async () => {
      for (let i = 0; i < 10; i++) buf.fill(await buf.reserve(), i + 2)
    }, /disk full/)
    await assert.rejects(buf.flushed(), /disk full/)
  })
})
