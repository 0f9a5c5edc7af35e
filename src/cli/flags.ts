import {Flags} from '@oclif/core'
import {parseSize} from '../base/units.js'
import {LOG_LEVELS, REQUEST_PAYERS} from '../s3/config.js'
import {transferDefaults} from '../run/defaults.js'
import {outputFlags} from './output.js'
import {REDIS_ENV} from '../run/redis.js'

const size = Flags.custom<number>({
  parse: async input => parseSize(input),
})

/**
 * A flag given once per value (`--exclude a --exclude b`), in any position: one value per
 * occurrence, so `sync --exclude '*.tmp' SRC DST` leaves SRC and DST to the arguments (oclif's
 * plain `multiple` takes every word after the flag as a value). Every repeatable flag is one of these.
 */
export function repeatable(description: string) {
  return Flags.string({description, multiple: true, multipleNonGreedy: true})
}

/** How to reach S3: the same flags on every command that talks to S3 (baseFlags of S3Command and RunCommand, cli/base.ts). */
export const s3Flags = {
  'endpoint-url': Flags.string({description: 'S3 endpoint (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, S3_ENDPOINT_URL, the profile\'s s3 endpoint_url / services / endpoint_url, AWS)', helpGroup: 'S3'}),
  region: Flags.string({description: 'region (else AWS_REGION, AWS_DEFAULT_REGION, the profile\'s region, us-east-1)', helpGroup: 'S3'}),
  profile: Flags.string({description: 'profile in ~/.aws/config and ~/.aws/credentials (else AWS_PROFILE, else default); must exist', helpGroup: 'S3'}),
  'path-style': Flags.boolean({description: 'path-style addressing (else the profile\'s s3 addressing_style; default: on for a custom endpoint; always on for an IP address or localhost)', allowNo: true, helpGroup: 'S3'}),
  'no-sign-request': Flags.boolean({description: 'send requests unsigned, as anyone (public buckets); no credentials are looked up', helpGroup: 'S3'}),
  'request-payer': Flags.string({description: 'requester: you pay for the requests and the transfer (requester-pays buckets); sent with every request', options: [...REQUEST_PAYERS], helpGroup: 'S3'}),
  log: Flags.string({description: 'on stderr: error (errors only), warn (default), info (also failed requests), debug (every request: method, URL, status, ms; no secrets)', options: [...LOG_LEVELS], helpGroup: 'S3'}),
}

/** The retry policy of every request (src/base/retry.ts). Not on worker and retry: a run's jobs carry their run's. */
export const retryFlags = {
  'max-retry': Flags.integer({description: 'retries per request for retryable failures', default: transferDefaults.maxRetry, min: 0}),
}

/** The Redis that holds the runs (status, runs, retry, worker, dashboard). */
export const redisFlags = {
  redis: Flags.string({description: `Redis URL (else ${REDIS_ENV})`, env: REDIS_ENV, helpGroup: 'DISTRIBUTED'}),
}

/** A run's flags: where its jobs run (in this process, or on BullMQ workers through Redis) and how many at once. */
export const runFlags = {
  redis: Flags.string({description: `run the jobs on BullMQ workers (\`s3c worker\`) through this Redis (else ${REDIS_ENV})`, env: REDIS_ENV, helpGroup: 'DISTRIBUTED'}),
  'run-id': Flags.string({description: 'name of the run in Redis (default: a new id)', helpGroup: 'DISTRIBUTED'}),
  detach: Flags.boolean({description: 'with --redis: print the run id once everything is enqueued and return (see s3c status)', helpGroup: 'DISTRIBUTED'}),
  'thread-count': Flags.integer({char: 't', description: `requests in flight, fixed (default: found by measuring, from ${transferDefaults.adaptiveStart} up to ${transferDefaults.adaptiveMax}: more while the rate grows, fewer when the server throttles; parts of large files: 128 MiB of them at most)`, min: 1, max: 1024}),
}

/** baseFlags of the commands (oclif merges them into each command's own flags). */
export const baseFlagSets = {
  output: outputFlags,
  /** Commands that only read Redis (status, runs, dashboard). */
  redis: {...outputFlags, ...redisFlags},
  /** Commands that send S3 requests outside a run (cleanup, index, list-files, download-single, tar list). */
  s3: {...outputFlags, ...s3Flags, ...retryFlags},
  /** Commands whose S3 requests are a run's jobs elsewhere (worker, retry). */
  s3Redis: {...outputFlags, ...s3Flags, ...redisFlags},
  /** Commands that are runs (upload, download, bundle, download-all, tar create, tar extract). */
  run: {...outputFlags, ...s3Flags, ...retryFlags, ...runFlags},
}

/** Where in S3: bucket and prefix, or an s3:// argument. */
export const locationFlags = {
  bucket: Flags.string({char: 'b', description: 'bucket (else S3C_BUCKET)'}),
  prefix: Flags.string({char: 'p', description: 'key prefix ("folder") in the bucket'}),
}

/** s3concurrent's flags plus ours, shared by upload and download (some also by bundle, download-all, tar create/extract). */
export const transferFlags = {
  'local-folder': Flags.string({char: 'l', description: 'local folder (default: the current directory)'}),
  'multipart-threshold': size({description: 'files at or above this size move in parallel parts', default: transferDefaults.multipartThreshold}),
  'part-size': size({description: 'part size for large files (grown to fit 10,000 parts)', default: transferDefaults.partSize}),
  include: repeatable('only names matching this wildcard (repeatable; * matches across /, ? one character: *.log is every .log file)'),
  exclude: repeatable('skip names matching this wildcard (repeatable; * matches across /; dir/* skips a whole folder unread)'),
  force: Flags.boolean({description: 'transfer every file, even unchanged ones'}),
  checksum: Flags.boolean({description: 'compare content (sha256) instead of size and modification time'}),
  'dry-run': Flags.boolean({description: 'print what would be transferred; send no writes'}),
}

/** Upload and download: the sync state that lets a re-run decide from the listing alone (docs/DESIGN-state.md). */
export const stateFlags = {
  state: Flags.boolean({description: 'read and write the sync state on this machine (--no-state, or S3C_NO_STATE=1: neither; every same-size file is checked with a HEAD)',
    default: true, allowNo: true}),
  'state-dir': Flags.string({description: 'keep sync states in this folder (default: S3C_STATE_DIR, else $XDG_STATE_HOME/s3c/sync, else ~/.local/state/s3c/sync)'}),
  'state-url': Flags.string({description: 'keep sync states under this s3://bucket/prefix/ instead (shared by every machine)'}),
}

/** What every command reading a bundle or indexed tar takes besides the S3 flags. */
export const bundleReadFlags = {
  ...locationFlags,
  cache: Flags.boolean({description: 'use (and fill) the local index cache in ~/.cache/s3c (--no-cache: always read the index from S3)', default: true, allowNo: true}),
}
