import {Flags} from '@oclif/core'
import {locationFlags, s3Flags} from './flags.js'
import {transferDefaults} from '../core/transfer.js'

/** What every command reading a bundle or indexed tar takes: where, and how to reach S3. */
export const bundleReadFlags = {
  ...locationFlags,
  ...s3Flags,
  'max-retry': Flags.integer({description: 'retries per request for retryable failures', default: transferDefaults.maxRetry, min: 0}),
  cache: Flags.boolean({description: 'use (and fill) the local index cache in ~/.cache/s3c (--no-cache: always read the index from S3)', default: true, allowNo: true}),
}
