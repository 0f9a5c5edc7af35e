// The thread behind small-writes.ts: writes batches of small files with synchronous calls.
import {parentPort} from 'node:worker_threads'
import {writeSmallSync, type SmallWrite} from './small-write.js'

parentPort?.on('message', (batch: {id: number; writes: SmallWrite[]}) => {
  parentPort!.postMessage({id: batch.id, results: batch.writes.map(writeSmallSync)})
})
