import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'
import {readSmallSync, writeSmallSync, type SmallRead, type SmallReadResult, type SmallWrite, type SmallWriteResult} from './small-io-ops.js'

/*
 * Small files are read and written on helper threads, not on the main one, which parses HTTP and
 * signs requests. Creating a file (open with O_EXCL, write, futimes, rename, fstat, close) costs
 * ~30 µs on a quiet disk and ~190 µs when hundreds land at once; reading one whose pages are not
 * cached (a daily mirror's files are not) ~90 µs here and milliseconds on a spinning disk. On the
 * main thread each of those stops every request in flight; on a thread they overlap the requests.
 * One thread (S3C_IO_THREADS=N for more: a spinning disk serves several reads at once better). The
 * operations of one turn of the event loop go out as one message (split between the threads when
 * there are several); each runs the same synchronous sequence (small-io-ops.ts), so
 * the temp-then-rename rule is unchanged. Read bodies come back as transferred ArrayBuffers (no
 * copy). On a single-core machine threads would only add hops: there the calls run inline
 * (S3C_INLINE_IO=1 does the same).
 *
 * A thread starts with the first file a run reads or writes, not with the run: a no-change re-run
 * touches none and so never pays its ~10 MiB (measured: 132 → 121 MiB peak at 20,000 files). It
 * takes ~50–80 ms to load; until it is online the operations run inline, on the main thread,
 * which has nothing else to do then (the first requests are not out yet), so no file waits for it.
 */

type Op = ({kind: 'write'} & SmallWrite) | ({kind: 'read'} & SmallRead)
type Result = SmallWriteResult | SmallReadResult

interface Pending {
  ops: Op[]
  settle: ((r: Result) => void)[]
}

/** One thread by default: each costs ~10 MiB, and a second measured no faster here, cached or not. A slow disk may want more. */
const THREADS = Math.max(1, Math.floor(Number(process.env.S3C_IO_THREADS ?? 1)) || 1)
const inline = availableParallelism() < 2 || process.env.S3C_INLINE_IO === '1'
/** A thread failed before its first answer: threads cannot run here, operations run inline. */
let failedToLoad = false
const threads: (Worker | undefined)[] = []
/** Threads that have loaded and take messages; until then operations run inline. */
const online: boolean[] = []
/** Per thread: the settle functions of the batches it holds, by id. */
const waiting: Map<number, Pending['settle']>[] = []
let batch: Pending | undefined
/** What ran where (for tests): threads started, operations run inline and on a thread. */
const counts = {started: 0, inline: 0, threaded: 0}
let nextId = 0

/**
 * The thread's module: beside this one in dist/src. The CLI runs a bundle of this code from
 * dist/bundle (scripts/bundle.js), whose files sit elsewhere: from there it is found by the
 * package's layout, dist/src being always shipped.
 */
function workerUrl(): URL {
  const here = import.meta.url
  const bundle = here.lastIndexOf('/dist/bundle/')
  return bundle < 0 ? new URL('./small-io-worker.js', here) : new URL(`${here.slice(0, bundle)}/dist/src/local/small-io-worker.js`)
}

function thread(i: number): Worker {
  const existing = threads[i]
  if (existing) return existing
  const w = new Worker(workerUrl())
  counts.started++
  const held = (waiting[i] = new Map())
  online[i] = false
  w.once('online', () => {
    online[i] = true
    if (held.size === 0) w.unref()
  })
  let answered = false
  w.on('message', (m: {id: number; results: Result[]}) => {
    answered = true
    const settle = held.get(m.id)!
    held.delete(m.id)
    m.results.forEach((r, k) => settle[k](r))
    if (held.size === 0) w.unref() // idle: never keeps the process alive
  })
  w.on('error', (error) => {
    // The thread died (out of memory…): fail what it held, start a new one for what follows;
    // one that failed before its first answer (it cannot load here: an execArgv a thread refuses,
    // a missing file) is not tried again: inline from then on.
    if (!answered) failedToLoad = true
    threads[i] = undefined
    online[i] = false
    for (const settle of held.values()) for (const s of settle) s({failure: {message: `file I/O thread failed: ${error.message}`, opened: false}})
  })
  threads[i] = w
  return w
}

function post(i: number, ops: Op[], settle: Pending['settle']): void {
  const id = nextId++
  const w = thread(i)
  waiting[i].set(id, settle)
  w.ref()
  w.postMessage({id, ops})
}

let nextThread = 0

function flush(): void {
  const b = batch!
  batch = undefined
  // A batch of a few goes whole to one thread (taking turns); a larger one is split between them.
  if (b.ops.length < 4 * THREADS) {
    post(nextThread, b.ops, b.settle)
    nextThread = (nextThread + 1) % THREADS
    return
  }
  const per = Math.ceil(b.ops.length / THREADS)
  for (let i = 0; i < THREADS; i++) post(i, b.ops.slice(i * per, (i + 1) * per), b.settle.slice(i * per, (i + 1) * per))
}

function enqueue(op: Op): Promise<Result> {
  return new Promise((resolve) => {
    if (!batch) {
      batch = {ops: [], settle: []}
      setImmediate(flush)
    }
    counts.threaded++
    batch.ops.push(op)
    batch.settle.push(resolve)
  })
}

/**
 * True while the first thread is still loading (it is started here if none is): the caller then
 * runs its operation inline rather than wait ~50–80 ms for the load.
 */
function loading(): boolean {
  if (online[0]) return false
  counts.inline++
  for (let i = 0; i < THREADS; i++) {
    const w = thread(i)
    if (waiting[i].size === 0) w.unref() // a thread loading for nothing never keeps the process alive
  }
  return true
}

/** Writes one small file (temp name, then rename) off the main thread; resolves to its stat in place, or its failure. */
export function writeSmall(w: SmallWrite): Promise<SmallWriteResult> {
  if (inline || failedToLoad || loading()) return Promise.resolve(writeSmallSync(w))
  return enqueue({kind: 'write', ...w}) as Promise<SmallWriteResult>
}

/** Reads one small file whole off the main thread; resolves to its bytes and the stat of the open file, or its failure. */
export function readSmall(r: SmallRead): Promise<SmallReadResult> {
  if (inline || failedToLoad || loading()) return Promise.resolve(readSmallSync(r))
  return enqueue({kind: 'read', ...r}) as Promise<SmallReadResult>
}

/** Threads started so far and operations run inline and on a thread (a copy). */
export function smallIoCounts(): {started: number; inline: number; threaded: number} {
  return {...counts}
}
