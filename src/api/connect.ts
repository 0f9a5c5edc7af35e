import {transferDefaults} from '../run/defaults.js'
import {resolveS3Config, type S3Config} from '../s3/config.js'
import {openS3, withS3 as withConnection} from '../storage/open.js'
import type {S3Store} from '../base/storage.js'

/**
 * How the library reaches S3: the CLI's configuration (environment, AWS_PROFILE, ~/.aws files;
 * README "Connecting") unless an option says otherwise.
 */
export interface ConnectOptions {
  /** The S3 endpoint URL (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, …, the profile's, AWS). */
  endpoint?: string
  region?: string
  /** A profile of ~/.aws/config and ~/.aws/credentials (else AWS_PROFILE, else default). */
  profile?: string
  /** Keys to use instead of the credential chain. */
  credentials?: {accessKeyId: string; secretAccessKey: string; sessionToken?: string}
  /** Path-style addressing (default: on for a custom endpoint). */
  pathStyle?: boolean
  /** Retries per request for retryable failures (default 10, as the CLI's --max-retry). */
  maxRetry?: number
  /** Requests in flight for the calls that send many (remove). Default 16. */
  threadCount?: number
  /** A configuration resolved already (the CLI's): the fields above are then ignored. */
  s3?: S3Config
  /** Stops the requests of the call. */
  signal?: AbortSignal
}

/** The connection's configuration, resolved as the CLI resolves it. */
export async function resolveConnection(opts: ConnectOptions = {}, sockets = transferDefaults.threadCount): Promise<S3Config> {
  return opts.s3 ?? {
    ...await resolveS3Config({'endpoint-url': opts.endpoint, region: opts.region, profile: opts.profile, 'path-style': opts.pathStyle}, sockets),
    ...(opts.credentials ? {credentials: opts.credentials} : {}),
  }
}

/** Opens one connection for one call (closed by `withS3`). */
export async function connect(opts: ConnectOptions = {}, sockets = transferDefaults.threadCount): Promise<S3Store> {
  return openS3({s3: await resolveConnection(opts, sockets), maxRetry: opts.maxRetry, signal: opts.signal})
}

/** Runs `fn` on a connection and closes it after. */
export async function withS3<T>(opts: ConnectOptions, fn: (s3: S3Store) => Promise<T>, sockets = transferDefaults.threadCount): Promise<T> {
  return withConnection({s3: await resolveConnection(opts, sockets), maxRetry: opts.maxRetry, signal: opts.signal}, fn)
}
