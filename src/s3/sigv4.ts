import {createHash, createHmac} from 'node:crypto'
import type {AwsCredentialIdentity} from '@smithy/types'

/*
 * AWS Signature Version 4 for the fast path's requests (src/s3/fast.ts), synchronous and with the
 * signing key kept per day. The SDK's signer (@smithy/signature-v4) gives the same headers (a
 * test signs the same requests with both and compares), but spends ~20 µs of CPU per request in
 * its generic, promise-based steps: 10% of the main thread of a small-file download, measured by
 * a CPU profile. Presigned URLs and everything sent through the SDK client keep the SDK's signer.
 */

/** Never signed (the SDK's list, plus proxy-* and sec-*): a proxy on the way may change them. */
const UNSIGNABLE = new Set(['authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards', 'pragma',
  'referer', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id'])
/** Set by the signer: a value given by the caller is dropped. */
const GENERATED = new Set(['authorization', 'x-amz-date', 'date'])

/** RFC 3986 encoding (what SigV4 signs): encodeURIComponent plus ! ' ( ) *. */
export function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** The query as SigV4 signs it (and as it is sent): names and values encoded, sorted by name. */
export function canonicalQuery(query: Record<string, string>): string {
  const pairs: [string, string][] = []
  for (const [k, v] of Object.entries(query)) if (k.toLowerCase() !== 'x-amz-signature') pairs.push([escapeUri(k), escapeUri(v)])
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return pairs.map(([k, v]) => `${k}=${v}`).join('&')
}

/** `20261126T123456Z` (seconds, UTC), as SigV4's x-amz-date spells it; the last one kept (thousands of requests share a second). */
let lastDate = {second: NaN, text: ''}
function amzDate(now: Date): string {
  const second = Math.floor(now.getTime() / 1000)
  if (second !== lastDate.second) lastDate = {second, text: now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')}
  return lastDate.text
}

export interface SignInput {
  method: string
  /** The path as sent: already encoded (S3 signs it as is, no normalizing). */
  path: string
  query?: Record<string, string>
  /** Lower-case names; must hold host and x-amz-content-sha256 (the payload hash signed). */
  headers: Record<string, string>
}

export class SigV4Signer {
  private key?: {scope: string; secret: string; token?: string; bytes: Buffer}

  constructor(private readonly region: string, private readonly service = 's3') {}

  /** The headers to send: the given ones plus x-amz-date, x-amz-security-token (temporary keys) and authorization. */
  sign(req: SignInput, credentials: AwsCredentialIdentity, now = new Date()): Record<string, string> {
    if (typeof credentials?.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string') throw new Error('Resolved credential object is not valid')
    const longDate = amzDate(now)
    const shortDate = longDate.slice(0, 8)
    const scope = `${shortDate}/${this.region}/${this.service}/aws4_request`
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !GENERATED.has(name.toLowerCase())) headers[name] = value
    headers['x-amz-date'] = longDate
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken
    const payloadHash = headers['x-amz-content-sha256']
    if (payloadHash === undefined) throw new Error('x-amz-content-sha256 must be set before signing')
    const canonical: [string, string][] = []
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase()
      if (UNSIGNABLE.has(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-')) continue
      canonical.push([lower, String(value).replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '')])
    }
    canonical.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    const signedHeaders = canonical.map(([n]) => n).join(';')
    const canonicalRequest = `${req.method}\n${req.path}\n${canonicalQuery(req.query ?? {})}\n${canonical.map(([n, v]) => `${n}:${v}\n`).join('')}\n${signedHeaders}\n${payloadHash}`
    const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`
    const signature = createHmac('sha256', this.signingKey(scope, shortDate, credentials)).update(stringToSign).digest('hex')
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`
    return headers
  }

  /** HMAC chain over day, region, service: the same for every request of a day with the same keys. */
  private signingKey(scope: string, shortDate: string, c: AwsCredentialIdentity): Buffer {
    const k = this.key
    if (k && k.scope === scope && k.secret === c.secretAccessKey && k.token === c.sessionToken) return k.bytes
    let bytes: Buffer = createHmac('sha256', `AWS4${c.secretAccessKey}`).update(shortDate).digest()
    for (const part of [this.region, this.service, 'aws4_request']) bytes = createHmac('sha256', bytes).update(part).digest()
    this.key = {scope, secret: c.secretAccessKey, token: c.sessionToken, bytes}
    return bytes
  }
}
