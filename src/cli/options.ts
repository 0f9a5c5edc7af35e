import {resolve} from 'node:path'
import type {TransferOptions} from '../run/session.js'
import {transferDefaults} from '../run/defaults.js'
import {resolveS3Config, type S3Config, type S3ConfigFlags} from '../s3/config.js'
import {parseLocation, parseS3Url, type S3Location} from '../base/location.js'
import {ExitCode, S3cError} from '../base/errors.js'

/** The S3 flags with the retry policy's (baseFlags of S3Command and RunCommand). */
export interface S3FlagValues extends S3ConfigFlags {
  'max-retry': number
}

/** A run's flags (baseFlags of RunCommand) and the transfer flags a command may add (cli/flags.ts). */
export interface RunFlagValues extends S3FlagValues {
  'thread-count'?: number
  redis?: string
  'run-id'?: string
  detach?: boolean
  'multipart-threshold'?: number
  'part-size'?: number
  include?: string[]
  exclude?: string[]
  force?: boolean
  checksum?: boolean
  'dry-run'?: boolean
  state?: boolean
  'state-url'?: string
  'state-dir'?: string
}

/** How to reach S3, from the S3 flags, the profile and the environment (`sockets`: connections to keep). */
export function s3Options(flags: S3ConfigFlags, sockets: number): Promise<S3Config> {
  return resolveS3Config(flags, sockets)
}

/** What a command that reads (list-files, download-single, index, tar list, cleanup) passes on: S3 and its retry policy. */
export async function readOptions(flags: S3FlagValues, sockets = 4): Promise<{s3: S3Config; maxRetry: number}> {
  return {s3: await s3Options(flags, sockets), maxRetry: flags['max-retry']}
}

/**
 * The one place flags become a run's options (upload, download, bundle, download-all, tar
 * create, tar extract): a flag a command does not declare takes the run's default.
 */
export async function runOptions(flags: RunFlagValues, location: S3Location): Promise<TransferOptions> {
  return {
    location,
    s3: await s3Options(flags, flags['thread-count'] ?? transferDefaults.threadCount),
    // No --thread-count: the limit moves with the link (src/run/adaptive.ts), from the default.
    threadCount: flags['thread-count'] ?? transferDefaults.threadCount, adaptive: flags['thread-count'] === undefined, maxRetry: flags['max-retry'],
    multipartThreshold: flags['multipart-threshold'] ?? transferDefaults.multipartThreshold,
    partSize: flags['part-size'] ?? transferDefaults.partSize,
    include: flags.include, exclude: flags.exclude,
    force: flags.force ?? false, checksum: flags.checksum ?? false, dryRun: flags['dry-run'] ?? false,
    redisUrl: flags.redis, runId: flags['run-id'], detach: flags.detach ?? false,
    state: flags.state !== false && !/^(1|true|yes)$/i.test(process.env.S3C_NO_STATE ?? ''), stateUrl: stateUrl(flags['state-url'], flags['state-dir']), stateDir: flags['state-dir'] ? resolve(flags['state-dir']) : undefined,
  }
}

/** --state-url, checked: an s3:// URL of a bucket (and prefix), not given with --state-dir. */
function stateUrl(url: string | undefined, dir: string | undefined): string | undefined {
  if (url === undefined) return undefined
  if (dir !== undefined) throw new S3cError('--state-url and --state-dir name two places for the sync state: give one', ExitCode.usage)
  if (parseLocation(url).type !== 's3' || !parseS3Url(url).bucket) throw new S3cError(`--state-url "${url}" is not an S3 URL: write it as s3://bucket/prefix/`, ExitCode.usage)
  return url
}
