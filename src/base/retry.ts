import type pRetryFunction from 'p-retry'
import {ExitCode, FatalError, S3cError, classifyError, describeError, noAnswer, statusOf} from './errors.js'

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

/**
 * What one connection has learnt of its endpoint, shared by all its requests (src/s3/client.ts).
 * Until the endpoint has answered once, a failure that brought no answer (refused, a name that
 * does not resolve, a connection closed unanswered) is a wrong or dead endpoint, not a blip: it
 * gets UNANSWERED_RETRIES short retries, then stops the run with one line. After an answer the
 * same failure is taken as transient (a server restarting mid-run) and has the whole policy.
 */
export interface Contact {
  /** Where requests go, for the message (never contains secrets). */
  readonly endpoint: string
  answered: boolean
}

/** Retries of a request to an endpoint that has never answered, ~0.1 s and ~0.2 s apart. */
export const UNANSWERED_RETRIES = 2
const unansweredPolicy = (policy: RetryPolicy): RetryPolicy => ({retries: Math.min(policy.retries, UNANSWERED_RETRIES), minTimeoutMs: 100, maxTimeoutMs: 400})

/** The one line for an endpoint that never answered. */
function unansweredError(error: unknown, endpoint: string): FatalError {
  const how = noAnswer(error)
  const code = (error as {code?: string})?.code ?? 'ECONNRESET'
  return new FatalError(new S3cError(how === 'unreachable' ? describeError(error, {endpoint})
    : `the S3 endpoint at ${endpoint} closed the connection without answering (${code}): check --endpoint-url / AWS_ENDPOINT_URL (http or https, and the port) and that an S3 server listens there`,
  ExitCode.fatal))
}

/** p-retry, imported for the first failure: a run that meets none never loads it (start-up). */
let pRetryModule: Promise<typeof pRetryFunction> | undefined
const loadPRetry = () => (pRetryModule ??= import('p-retry').then(m => m.default))

/**
 * Runs `fn` until it succeeds, a non-retryable error occurs or the retries are used up.
 * Fatal errors come back wrapped in FatalError so the runner can stop the run.
 */
export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy, signal?: AbortSignal, contact?: Contact): Promise<T> {
  // Any answer, success or HTTP error, shows the endpoint is there.
  const attempt = contact ? async () => {
    try {
      const value = await fn()
      contact.answered = true
      return value
    } catch (error) {
      if (statusOf(error) !== undefined || (error as {answered?: boolean})?.answered) contact.answered = true
      throw error
    }
  } : fn
  let unanswered = false
  try {
    if (signal?.aborted) return await (await loadPRetry())(attempt, retryOptions(policy, signal)) // p-retry throws the signal's reason
    // The first attempt runs bare: p-retry's set-up costs a few µs, and a run sends thousands of
    // requests that succeed first time. A failure is handed to p-retry as its first attempt's
    // (replayed, not sent again), so the backoff and every rule after it are p-retry's own.
    let first: {error: unknown}
    try {
      return await attempt()
    } catch (error) {
      first = {error}
    }
    if (signal?.aborted) throw classifyError(first.error) === 'retry' ? signal.reason : first.error
    unanswered = contact !== undefined && !contact.answered && noAnswer(first.error) !== undefined
    let replayed = false
    const pRetry = await loadPRetry()
    return await pRetry(() => {
      if (replayed) return attempt()
      replayed = true
      throw first.error
    }, retryOptions(unanswered ? unansweredPolicy(policy) : policy, signal))
  } catch (error) {
    if (unanswered && !contact!.answered && noAnswer(error) && !signal?.aborted) throw unansweredError(error, contact!.endpoint)
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
