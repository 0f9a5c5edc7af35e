import {retryPolicy} from '../base/retry.js'
import type {S3Config} from './config.js'
import {S3Storage} from './storage.js'

/** A connection's settings once resolved: the CLI's (cli/options.ts readOptions) or the library's (api/connect.ts). */
export interface Connection {
  s3: S3Config
  /** Retries per request for retryable failures (default 10, as the CLI's --max-retry). */
  maxRetry?: number
  /** Stops the requests of the call. */
  signal?: AbortSignal
}

/** Opens one connection for one call (closed by `withS3`). */
export async function openS3(c: Connection): Promise<S3Storage> {
  return S3Storage.open(c.s3, retryPolicy(c.maxRetry ?? 10), c.signal)
}

/** Runs `fn` on a connection and closes it after: the commands of one request or a few (ls, cat, mb…) and the library. */
export async function withS3<T>(c: Connection, fn: (s3: S3Storage) => Promise<T>): Promise<T> {
  const s3 = await openS3(c)
  try {
    return await fn(s3)
  } finally {
    await s3.close()
  }
}
