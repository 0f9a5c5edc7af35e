import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'
import {writeSmallSync, type SmallWrite, type SmallWriteResult} from './small-write.js'

/*
 * Small files are written on a helper thread, not on the main one. Creating a file (open with
 * O_EXCL, write, futimes, close, rename) costs ~190 µs of the main thread when hundreds of
 * downloads land at once (a fifth of it in open(2) alone, measured by a CPU profile of 10,000 ×
 * 4 KiB downloads), and the main thread is also the one parsing HTTP and signing requests. The
 * writes of one turn of the event loop go to the thread as one message; the same synchronous
 * sequence runs there, so the temp-then-rename rule is unchanged. On a single-core machine the
 * thread would only add hops: there the calls run inline.
 */

interface Pending {
  writes: SmallWrite[]
  settle: ((r: SmallWriteResult) => void)[]
}

let worker: Worker | undefined
let waiting = new Map<number, Pending['settle']>()
let batch: Pending | undefined
let nextId = 0
const inline = availableParallelism() < 2 || process.env.S3C_INLINE_WRITES === '1'

function thread(): Worker {
  if (worker) return worker
  const w = new Worker(new URL('./small-writes-worker.js', import.meta.url))
  w.on('message', (m: {id: number; results: SmallWriteResult[]}) => {
    const settle = waiting.get(m.id)!
    waiting.delete(m.id)
    m.results.forEach((r, i) => settle[i](r))
    if (waiting.size === 0) w.unref() // idle: never keeps the process alive
  })
  w.on('error', (error) => {
    // The thread died (out of memory…): fail what it held, start a new one for what follows.
    const failed = waiting
    waiting = new Map()
    worker = undefined
    for (const settle of failed.values()) for (const s of settle) s({failure: {message: `file writer thread failed: ${error.message}`, opened: false}})
  })
  worker = w
  return w
}

function flush(): void {
  const b = batch!
  batch = undefined
  const id = nextId++
  waiting.set(id, b.settle)
  const w = thread()
  w.ref()
  w.postMessage({id, writes: b.writes})
}

/** Writes one small file (temp name, then rename) off the main thread; resolves to its stat in place, or its failure. */
export function writeSmall(w: SmallWrite): Promise<SmallWriteResult> {
  if (inline) return Promise.resolve(writeSmallSync(w))
  return new Promise((resolve) => {
    if (!batch) {
      batch = {writes: [], settle: []}
      setImmediate(flush)
    }
    batch.writes.push(w)
    batch.settle.push(resolve)
  })
}
