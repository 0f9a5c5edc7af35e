import type pRetryFunction from 'p-retry'
import {FatalError, classifyError} from './errors.js'

/** The one retry policy: exponential backoff with jitter, only for retryable failures. */
export interface RetryPolicy {
  /** Retries after the first attempt (s3concurrent's max_retry). */
  retries: number
  minTimeoutMs: number
  maxTimeoutMs: number
}

/** The policy of `--max-retry N`: N retries, backoff from 100 ms doubling to 10 s, with jitter. */
export function retryPolicy(maxRetry: number): RetryPolicy {
  return {retries: maxRetry, minTimeoutMs: 100, maxTimeoutMs: 10_000}
}

export const defaultRetryPolicy: RetryPolicy = retryPolicy(10)

/**
 * The same policy for a check that must fail fast (does the bucket answer?): at most 2 retries,
 * short waits, so a dead endpoint is reported in about a second, not after 10 backoffs.
 */
export function probePolicy(policy: RetryPolicy): RetryPolicy {
  return {retries: Math.min(policy.retries, 2), minTimeoutMs: 200, maxTimeoutMs: 1000}
}

/** p-retry, imported for the first failure: a run that meets none never loads it (start-up). */
let pRetryModule: Promise<typeof pRetryFunction> | undefined
const loadPRetry = () => (pRetryModule ??= import('p-retry').then(m => m.default))

/**
 * Runs `fn` until it succeeds, a non-retryable error occurs or the retries are used up.
 * Fatal errors come back wrapped in FatalError so the runner can stop the run.
 */
export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy, signal?: AbortSignal): Promise<T> {
  try {
    if (signal?.aborted) return await (await loadPRetry())(fn, retryOptions(policy, signal)) // p-retry throws the signal's reason
    // The first attempt runs bare: p-retry's set-up costs a few µs, and a run sends thousands of
    // requests that succeed first time. A failure is handed to p-retry as its first attempt's
    // (replayed, not sent again), so the backoff and every rule after it are p-retry's own.
    let first: {error: unknown}
    try {
      return await fn()
    } catch (error) {
      first = {error}
    }
    if (signal?.aborted) throw classifyError(first.error) === 'retry' ? signal.reason : first.error
    let replayed = false
    const pRetry = await loadPRetry()
    return await pRetry(() => {
      if (replayed) return fn()
      replayed = true
      throw first.error
    }, retryOptions(policy, signal))
  } catch (error) {
    if (classifyError(error) === 'fatal' && !(error instanceof FatalError)) throw new FatalError(error)
    throw error
  }
}

function retryOptions(policy: RetryPolicy, signal?: AbortSignal): Parameters<typeof pRetryFunction>[1] {
  return {
    retries: policy.retries,
    factor: 2,
    minTimeout: policy.minTimeoutMs,
    maxTimeout: policy.maxTimeoutMs,
    randomize: true,
    signal,
    shouldRetry: ({error}) => classifyError(error) === 'retry',
  }
}
