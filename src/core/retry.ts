import pRetry from 'p-retry'
import {classifyError} from './errors.js'

/** The one retry policy: exponential backoff with jitter, only for retryable failures. */
export interface RetryPolicy {
  /** Retries after the first attempt (s3concurrent's max_retry). */
  retries: number
  minTimeoutMs: number
  maxTimeoutMs: number
}

export const defaultRetryPolicy: RetryPolicy = {retries: 10, minTimeoutMs: 100, maxTimeoutMs: 10_000}

/** A failure that must end the whole run (credentials, missing bucket, …). */
export class FatalError extends Error {
  constructor(readonly original: unknown) {
    super((original as Error)?.message ?? String(original))
    this.name = 'FatalError'
  }
}

/**
 * Runs `fn` until it succeeds, a non-retryable error occurs or the retries are used up.
 * Fatal errors come back wrapped in FatalError so the runner can stop the run.
 */
export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy, signal?: AbortSignal): Promise<T> {
  try {
    return await pRetry(fn, {
      retries: policy.retries,
      factor: 2,
      minTimeout: policy.minTimeoutMs,
      maxTimeout: policy.maxTimeoutMs,
      randomize: true,
      signal,
      shouldRetry: ({error}) => classifyError(error) === 'retry',
    })
  } catch (error) {
    if (classifyError(error) === 'fatal' && !(error instanceof FatalError)) throw new FatalError(error)
    throw error
  }
}
