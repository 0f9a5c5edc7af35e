import {createHash, type Hash} from 'node:crypto'
import {Transform, type Readable} from 'node:stream'
import {crc32} from 'node:zlib'

/**
 * Verified bodies (docs/DESIGN.md): the one rule every GET's answer passes, whole or streamed.
 * S3Storage's GET primitives (`getWhole`, `getStream`, `getRangeInto`, src/s3/storage.ts) call it, so no
 * verb, handler or library call can skip it. A body must hold the bytes its Content-Length
 * says and, when the caller listed the object, the listed size; a range must start where it was
 * asked to (Content-Range); a whole object (200, not a
 * range) must match the strongest digest its answer carries: s3c's stored SHA-256, an
 * `x-amz-checksum-*` the server returns, else the MD5 a single-part ETag is (never under
 * SSE-KMS or SSE-C, where the ETag is no MD5). A mismatch throws IncompleteBody or BadDigest,
 * which the retry policy (src/base/retry.ts) fetches again, then fails.
 */

export type Headers = Record<string, string>

/** The metadata s3c stores its SHA-256 (hex) of the content under (x-amz-meta-s3c-sha256). */
export const META_SHA256 = 's3c-sha256'

/** What an ETag says of the content: the MD5 (hex) of a single-part object, or a multipart ETag's; nothing under SSE-KMS or SSE-C. */
export function etagDigest(headers: Headers): {md5?: string; multipart?: {md5: string; parts: number}} {
  const sse = headers['x-amz-server-side-encryption']
  if (sse === 'aws:kms' || sse === 'aws:kms:dsse' || headers['x-amz-server-side-encryption-customer-algorithm'] !== undefined) return {}
  const etag = (headers.etag ?? '').replace(/"/g, '').toLowerCase()
  if (/^[0-9a-f]{32}$/.test(etag)) return {md5: etag}
  const multi = /^([0-9a-f]{32})-(\d+)$/.exec(etag)
  return multi ? {multipart: {md5: multi[1], parts: Number(multi[2])}} : {}
}

/** What the caller knows of the object before its GET. */
export interface BodyExpect {
  /** Its size as listed: a whole object's body must have it. */
  size?: number
  /** The first byte a ranged GET asked for: the answer's bytes must start there. */
  rangeStart?: number
}

/**
 * A ranged GET's answer must hold the bytes asked for: a 206 whose Content-Range starts where
 * the request's Range did, or a whole object (200, a server that ignores Range) when the range
 * starts at 0. Other bytes of the right length would be written as the range's (no digest
 * covers a range).
 */
function checkRange(label: string, status: number, headers: Headers, expect: BodyExpect): void {
  if (expect.rangeStart === undefined) return
  if (status === 200 && expect.rangeStart === 0) return
  const cr = headers['content-range'] ?? ''
  const start = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(cr.trim())?.[1]
  if (status !== 206 || start === undefined || Number(start) !== expect.rangeStart)
    throw new BodyMismatch('IncompleteBody', `${label}: asked for the bytes from ${expect.rangeStart}, the server answered ${status} with Content-Range ${JSON.stringify(cr)}`)
}

/** A body refused: named as S3's own errors so the retry policy fetches it again. */
export class BodyMismatch extends Error {
  constructor(name: 'IncompleteBody' | 'BadDigest', message: string) {
    super(message)
    this.name = name
  }
}

/** One digest a whole body is checked against: how to compute it, and what it must be. */
interface Digest {
  what: string
  make: () => {update(b: Buffer): void; digest(): string}
  want: string
  /** The stored SHA-256 (hex): what the sync state records once checked. */
  sha256?: string
}

function hash(algorithm: string, encoding: 'hex' | 'base64') {
  return () => {
    const h: Hash = createHash(algorithm)
    return {update: (b: Buffer) => { h.update(b) }, digest: () => h.digest(encoding)}
  }
}

function crc32Digest() {
  let crc = 0
  return {update: (b: Buffer) => { crc = crc32(b, crc) }, digest: () => {
    const out = Buffer.alloc(4)
    out.writeUInt32BE(crc >>> 0)
    return out.toString('base64')
  }}
}

/** The strongest digest the answer carries for the whole object, computed once (a checksum of parts, "…-N", is not the body's). */
function digestOf(headers: Headers): Digest | undefined {
  const sha256 = headers[`x-amz-meta-${META_SHA256}`]
  if (sha256 && /^[0-9a-f]{64}$/.test(sha256)) return {what: `its stored sha256 (x-amz-meta-${META_SHA256})`, make: hash('sha256', 'hex'), want: sha256, sha256}
  if (headers['x-amz-checksum-type'] !== 'COMPOSITE') {
    const checksum = (name: string) => { const v = headers[`x-amz-checksum-${name}`]; return v && !v.includes('-') ? v : undefined }
    const sum256 = checksum('sha256')
    if (sum256) return {what: 'x-amz-checksum-sha256', make: hash('sha256', 'base64'), want: sum256}
    const sum1 = checksum('sha1')
    if (sum1) return {what: 'x-amz-checksum-sha1', make: hash('sha1', 'base64'), want: sum1}
    const sumCrc = checksum('crc32')
    if (sumCrc) return {what: 'x-amz-checksum-crc32', make: crc32Digest, want: sumCrc}
  }
  const md5 = etagDigest(headers).md5
  return md5 ? {what: 'its ETag (the MD5 of a single-part object)', make: hash('md5', 'hex'), want: md5} : undefined
}

/** The answer's Content-Length, undefined without one; two different values are refused (no one can tell which is the body's). */
export function contentLength(headers: Headers, label: string): number | undefined {
  const text = headers['content-length']
  if (text === undefined) return undefined
  if (!text.includes(',')) return Number(text)
  const values = [...new Set(String(text).split(',').map(v => v.trim()))]
  if (values.length > 1) throw new BodyMismatch('IncompleteBody', `${label}: the server sent ${values.length} different Content-Length headers (${values.join(', ')}); fetched again, then failed`)
  return Number(values[0])
}

/** Checks the byte count against the answer's length and the listed size. */
function checkLength(label: string, got: number, answered: number | undefined, whole: boolean, expect: BodyExpect): void {
  if (answered !== undefined && got !== answered)
    throw new BodyMismatch('IncompleteBody', `${label}: the body ended after ${got} of the ${answered} bytes its Content-Length says`)
  if (whole && expect.size !== undefined && got !== expect.size)
    throw new BodyMismatch('IncompleteBody', `${label}: the server sent ${got} bytes, the listing says ${expect.size} (the object changed, or the server's answer is wrong)`)
}

function cutShort(label: string, got: number): BodyMismatch {
  return new BodyMismatch('IncompleteBody', `${label}: the connection closed after ${got} bytes of the body`)
}

function mismatch(label: string, d: Digest): BodyMismatch {
  return new BodyMismatch('BadDigest', `${label}: the body does not match ${d.what}`)
}

/**
 * A body read whole (status, headers, bytes). Returns the stored SHA-256 when it was checked
 * (for the sync state), else undefined.
 */
export function verifyBody(label: string, a: {status: number; headers: Headers; body: Buffer}, expect: BodyExpect = {}): string | undefined {
  checkRange(label, a.status, a.headers, expect)
  const whole = a.status === 200
  checkLength(label, a.body.length, contentLength(a.headers, label), whole, expect)
  const d = whole ? digestOf(a.headers) : undefined
  if (!d) return undefined
  const h = d.make()
  h.update(a.body)
  if (h.digest() !== d.want) throw mismatch(label, d)
  return d.sha256
}

/**
 * The checks of a body read piece by piece, made as the bytes pass: `head` at once (the range's
 * start, the lengths given), `update` per piece, `end` when the body ended (throws a mismatch).
 */
export function bodyChecker(label: string, status: number, headers: Headers, expect: BodyExpect = {}): {update(chunk: Buffer): void; end(): void; readonly got: number} {
  checkRange(label, status, headers, expect)
  const whole = status === 200
  const answered = contentLength(headers, label)
  const d = whole ? digestOf(headers) : undefined
  const h = d?.make()
  let got = 0
  return {
    get got() { return got },
    update(chunk) {
      got += chunk.length
      h?.update(chunk)
    },
    end() {
      checkLength(label, got, answered, whole, expect)
      if (d && h!.digest() !== d.want) throw mismatch(label, d)
    },
  }
}

/**
 * A body read as a stream: the same checks as verifyBody, made as the bytes pass; a mismatch
 * (or a body cut short) errors the stream at its end, so a reader never sees a clean end.
 */
export function verifyStream(label: string, status: number, headers: Headers, body: Readable, expect: BodyExpect = {}): Readable {
  const check = bodyChecker(label, status, headers, expect)
  const out = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      check.update(chunk)
      done(null, chunk)
    },
    flush(done) {
      try {
        check.end()
        done()
      } catch (error) {
        done(error as Error)
      }
    },
  })
  // node:http's "aborted" (ECONNRESET) is a body cut short: said so, with how far it came.
  body.once('error', error => out.destroy((error as {code?: string}).code === 'ECONNRESET' ? cutShort(label, check.got) : error))
  // A body whose connection closed before its end emits no 'end': that is a cut body too.
  body.once('close', () => {
    if (!body.readableEnded && !out.destroyed) out.destroy(cutShort(label, check.got))
  })
  // A reader that stops early (destroys the stream) frees the connection too.
  out.once('close', () => { if (!body.readableEnded && !body.destroyed) body.destroy() })
  return body.pipe(out)
}
