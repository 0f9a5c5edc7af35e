// The threads behind small-io.ts: run batches of small reads and writes with synchronous calls.
import {parentPort} from 'node:worker_threads'
import {readSmallSync, writeSmallSync, type SmallRead, type SmallWrite} from './small-io-ops.js'

type Op = ({kind: 'write'} & SmallWrite) | ({kind: 'read'} & SmallRead)

parentPort?.on('message', (batch: {id: number; ops: Op[]}) => {
  const results = batch.ops.map(op => (op.kind === 'write' ? writeSmallSync(op) : readSmallSync(op)))
  // Read bodies are moved to the main thread, not copied.
  const transfer = results.flatMap(r => ('body' in r && r.body ? [r.body.buffer as ArrayBuffer] : []))
  parentPort!.postMessage({id: batch.id, results}, transfer)
})
