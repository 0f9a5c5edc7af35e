import assert from 'node:assert/strict'
import {AdaptiveLimit} from '../../src/run/adaptive.js'

/**
 * A server model on a fake clock: `inFlight` requests each take `latencyMs`, and the server (or
 * the client's CPU) completes at most `capacity` per second. Each completion is reported to the
 * limit as it happens; the limit's value is read back before the next one, as the runner does.
 */
function simulate(limit: AdaptiveLimit, model: (t: number) => {latencyMs: number; capacity: number; throttle?: boolean}, durationMs: number, clock: {t: number}): void {
  while (clock.t < durationMs) {
    const m = model(clock.t)
    const rate = Math.min(limit.limit / m.latencyMs, m.capacity / 1000) // per ms
    clock.t += 1 / rate
    if (m.throttle) limit.throttled()
    limit.finished(m.latencyMs, true)
  }
}

describe('adaptive concurrency (src/run/adaptive.ts)', function () {
  const make = (clock: {t: number}, start = 32) => new AdaptiveLimit({start, min: 4, max: 128, windowMs: 500, now: () => clock.t})

  it('through 30 ms of distance, grows while the rate grows, up to what the link carries', function () {
    const clock = {t: 0}
    const limit = make(clock)
    // 4,000 requests/s: 120 in flight at 30 ms.
    simulate(limit, () => ({latencyMs: 30, capacity: 4000}), 20_000, clock)
    assert.ok(limit.limit >= 108, `limit ${limit.limit}: ${JSON.stringify(limit.history.slice(0, 8))}`)
    assert.ok(limit.history.some(h => h.change === 'up'))
  })

  it('slow start: a distant server is reached in a few round trips (×2 steps over short windows), then steps of ×1.5', function () {
    const clock = {t: 0}
    const limit = make(clock)
    // 4,000 requests/s at 30 ms: 120 in flight. A run of 3,000 files lasts ~1 s there.
    simulate(limit, () => ({latencyMs: 30, capacity: 4000}), 400, clock)
    assert.deepEqual(limit.history.slice(0, 2).map(h => h.limit), [32, 64], JSON.stringify(limit.history))
    assert.ok(limit.limit >= 120, `limit ${limit.limit} after 400 ms: ${JSON.stringify(limit.history)}`)
    // A step that pays less than half its promise ends slow start: the next probes are ×1.5.
    const clock2 = {t: 0}
    const slow = make(clock2)
    simulate(slow, () => ({latencyMs: 30, capacity: 1300}), 20_000, clock2)
    // 32 → 64 paid ×1.22 (1,067 → 1,300/s): still up, but by ×1.5 (96, never 128), then back.
    assert.equal(slow.peak, 96, JSON.stringify(slow.history.slice(0, 10)))
    assert.ok(slow.history.some(h => h.change === 'back'))
  })

  it('bound by the CPU (loopback): a step up that does not pay goes back; the limit stays at the start', function () {
    const clock = {t: 0}
    const limit = make(clock)
    simulate(limit, () => ({latencyMs: 1, capacity: 1500}), 30_000, clock)
    // One slow-start step (×2), then probes of ×1.5 that go back.
    assert.equal(limit.peak, 64)
    assert.ok(limit.history.some(h => h.limit === 48), 'probes of ×1.5 after slow start')
    assert.ok(limit.history.filter(h => h.change === 'back').length >= 2)
    // Most of the time at the start value: probes are short.
    const at32 = limit.history.filter(h => h.limit === 32).length
    assert.ok(at32 > limit.history.length * 0.8, `${at32} of ${limit.history.length} windows at 32`)
  })

  it('a throttled server (503 SlowDown) halves the limit at once, once per window, then holds', function () {
    const clock = {t: 0}
    const limit = make(clock, 64)
    simulate(limit, () => ({latencyMs: 30, capacity: 10_000}), 1100, clock)
    const before = limit.limit
    assert.ok(before > 64, 'grew first')
    limit.throttled()
    assert.equal(limit.limit, Math.floor(before / 2))
    limit.throttled()
    assert.equal(limit.limit, Math.floor(before / 2), 'a second 503 in the same window changes nothing')
    simulate(limit, () => ({latencyMs: 30, capacity: 10_000}), 3000, clock)
    assert.equal(limit.limit, Math.floor(before / 2), 'held for a few windows after')
    simulate(limit, () => ({latencyMs: 30, capacity: 10_000, throttle: true}), 60_000, clock)
    assert.equal(limit.limit, 4, 'never below min')
  })

  it('a server that slows down (slower answers, less done at the same limit) is eased off', function () {
    const clock = {t: 0}
    const limit = make(clock, 128)
    // At max from the start: kept; then the server's answers take 3× as long and it completes a third as much.
    simulate(limit, t => (t < 5000 ? {latencyMs: 30, capacity: 100_000} : {latencyMs: 90, capacity: 1400}), 8000, clock)
    assert.ok(limit.history.some(h => h.change === 'slower'), JSON.stringify(limit.history))
    assert.ok(limit.limit < 128)
  })

  it('after a change, jobs started before it are not measured: the next window starts when the first job started after it finishes', function () {
    const clock = {t: 0}
    const limit = make(clock)
    // 32 in flight at 30 ms until slow start's first window closes (one round, ≥ 25 ms).
    while (limit.limit === 32) {
      clock.t += 30 / 32
      limit.finished(30, true)
    }
    const changedAt = clock.t
    assert.equal(limit.limit, 64)
    // Thousands of finishes of jobs started before the change, however fast: no window closes.
    for (let i = 0; i < 5000; i++) {
      clock.t += 0.01
      limit.finished(clock.t - changedAt + 1, true)
    }
    assert.equal(limit.history.length, 1, JSON.stringify(limit.history))
    // Jobs started after the change: a window of one round of 64 closes and is measured.
    for (let i = 0; i < 65; i++) {
      clock.t += 30 / 64
      limit.finished(30, true)
    }
    assert.equal(limit.history.length, 2, JSON.stringify(limit.history))
    assert.equal(limit.history[1].limit, 64)
    assert.ok(Math.abs(limit.history[1].rate - 64 / 0.03) < 100, `rate ${limit.history[1].rate}: the new limit's alone`)
  })

  it('slow start: a step whose window reads low (a busy moment) gets one more window before it is undone', function () {
    const clock = {t: 0}
    const limit = make(clock)
    // 4,000/s through 30 ms, except a 60 ms stall of the client right after the step to 64.
    let stalled = false
    simulate(limit, t => {
      if (!stalled && limit.limit === 64 && limit.history.length === 1) {
        stalled = true
        clock.t += 60
      }
      return {latencyMs: 30, capacity: 4000}
    }, 400, clock)
    const changes = limit.history.map(h => `${h.limit}:${h.change}`)
    assert.ok(changes.includes('64:confirm'), changes.join(' '))
    assert.ok(!changes.some(c => c.endsWith(':back')), changes.join(' '))
    assert.equal(limit.limit, 128, changes.join(' '))
  })

  it('a step back that loses as much as a step up must win is undone: the window before the step read high', function () {
    const clock = {t: 0}
    const limit = make(clock, 64)
    // The first window at 64 meets a fast moment (15 ms answers: 4,266/s); then 30 ms and a server
    // that completes 2,500/s: 128 gives 2,500/s, which reads as no gain over 4,266; 64 alone gives 2,133.
    simulate(limit, () => (limit.history.length === 0 ? {latencyMs: 15, capacity: 5000} : {latencyMs: 30, capacity: 2500}), 5000, clock)
    const changes = limit.history.map(h => `${h.limit}:${h.change}`)
    assert.deepEqual(changes.slice(0, 4), ['64:up', '128:confirm', '128:back', '64:restored'], changes.join(' '))
    assert.equal(limit.limit, 128, changes.join(' '))
    assert.ok(changes.slice(4).every(c => c.startsWith('128:')), changes.join(' '))
  })

  it('windows where the runner lacks work change nothing', function () {
    const clock = {t: 0}
    const limit = make(clock)
    for (let i = 0; i < 10_000; i++) {
      clock.t += 1
      limit.finished(30, false)
    }
    assert.equal(limit.limit, 32)
    assert.ok(limit.history.every(h => h.change === 'idle'))
  })

  it('stays within [min, max], and a start outside is brought in', function () {
    assert.equal(new AdaptiveLimit({start: 500, min: 4, max: 128}).limit, 128)
    assert.equal(new AdaptiveLimit({start: 1, min: 4, max: 128}).limit, 4)
  })
})
