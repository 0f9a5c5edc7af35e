import type {S3Store} from '../src/base/storage.js'
import {harness, newBucket, openTestStorage} from './harness/hooks.js'
import {storageContract} from './harness/storage-contract.js'

// The one storage contract (test/harness/storage-contract.ts) against S3Storage on the test
// server: the cases test/unit/storage-contract.test.ts runs against the local and in-memory stores.
describe('S3Storage', () => {
  let s3: S3Store | undefined
  before(async () => { s3 = await openTestStorage(harness().s3.endpoint) })
  after(async () => { await s3?.close() })

  storageContract('S3', () => ({
    store: s3!,
    newRoot: () => newBucket('contract'),
    // fauxqs lists in locale order, not S3's byte order (CONTRIBUTING.md, "Against another S3").
    unorderedListing: harness().s3.local,
  }))
})
