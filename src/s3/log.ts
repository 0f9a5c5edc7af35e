import type {LogLevel} from './config.js'

/**
 * --log info and debug: S3 requests as they go, one line each on stderr, written by both request
 * paths (the SDK client and the fast path, src/s3/client.ts). A line carries the method, the URL
 * without secrets, the status (or the network error) and the milliseconds; never a header, so
 * no Authorization, signature or credential can be printed. Presigned-style query parameters
 * (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token) are redacted all the same.
 */
export type RequestLog = (method: string, url: string, outcome: number | string, ms: number) => void

/** Query parameters whose values are secrets or name a credential. */
const SECRET_PARAM = /signature|credential|security-token|^x-amz-security-token$|accesskey|^awsaccesskeyid$/i

/** The query string of a request, encoded, with secret values replaced by "REDACTED". */
export function redactedQuery(query: Record<string, string | string[] | null | undefined>): string {
  const pairs: string[] = []
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      const shown = v === null || v === undefined ? undefined : SECRET_PARAM.test(name) ? 'REDACTED' : encodeURIComponent(v)
      pairs.push(shown === undefined ? encodeURIComponent(name) : `${encodeURIComponent(name)}=${shown}`)
    }
  }
  return pairs.length > 0 ? `?${pairs.join('&')}` : ''
}

/** A status that is an ordinary answer, not a problem: absent objects (HEAD, GET) and If-Match checks. */
const ORDINARY = new Set([404, 412])

/**
 * The request log for a --log level, or undefined when nothing is logged: debug logs every
 * request, info the ones that got no answer or a refusal (5xx, 429, 403, 400…: what is retried or
 * ends a run), warn and error none.
 */
export function requestLog(level: LogLevel | undefined, write: (line: string) => void = line => process.stderr.write(line)): RequestLog | undefined {
  if (level !== 'debug' && level !== 'info') return undefined
  return (method, url, outcome, ms) => {
    const failed = typeof outcome === 'string' || (outcome >= 400 && !ORDINARY.has(outcome))
    if (level === 'info' && !failed) return
    write(`s3c: ${level === 'debug' ? 'request' : 'request failed'}: ${method} ${url} ${outcome} ${Math.round(ms)} ms\n`)
  }
}
