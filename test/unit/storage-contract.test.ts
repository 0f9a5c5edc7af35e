import {openLocalStore} from '../../src/storage/open.js'
import {storageContract} from '../harness/storage-contract.js'
import {scratchDirs} from '../harness/scratch.js'
import {memoryStore} from './memory-tree.js'

// The one storage contract (test/harness/storage-contract.ts) against the backends that need no
// server; test/storage-contract.test.ts runs the same cases against S3.

storageContract('in memory', () => {
  let n = 0
  return {store: memoryStore(), newRoot: async () => `root-${n++}`}
})

const scratch = scratchDirs()
storageContract('local filesystem', () => ({store: openLocalStore(), newRoot: async () => scratch('local-store')}))
