import {createHash} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {SignatureV4} from '@smithy/signature-v4'
import {NodeSha256} from '../../src/s3/fast.js'
import {SigV4Signer, canonicalQuery} from '../../src/s3/sigv4.js'

/**
 * A loopback HTTP proxy in front of the S3 server under test. It counts the requests clients
 * send, can inject faults (500, 503 SlowDown, dropped connections), and can check SigV4
 * signatures (fauxqs does not, so "wrong credentials" needs this gate in front of it).
 */

export interface RecordedRequest {
  method: string
  /** Decoded path: /bucket/key for path-style. */
  path: string
  query: string
  /** x-amz-copy-source and its range, for telling UploadPartCopy from UploadPart (no other header but Range is kept). */
  copySource?: string
  copyRange?: string
  /** The Range header of a GET. */
  range?: string
  /** The server's status code, once it answered. */
  status?: number
  /** Request body bytes forwarded to the server (PUT/POST bodies; bench:tar counts uploaded bytes with it). */
  requestBytes: number
  /** Response body bytes the server sent back. */
  responseBytes: number
  /** The request's headers as sent (lower-case names): what a client signed, which options it carried. */
  headers: http.IncomingHttpHeaders
  /** The TCP connection it came on, numbered from 1 in the order the proxy accepted them: which requests shared a keep-alive socket. */
  connection: number
}

export interface FaultOptions {
  /** Share of requests (0..1) that fail: 500, 503 SlowDown or a dropped connection. */
  failRate?: number
  /** Requests whose decoded path (and, when wanted, the rest of the request) matches always fail. */
  alwaysFail?: (path: string, req: RecordedRequest) => boolean
  /** The status alwaysFail answers: 500 InternalError (default) or 503 SlowDown. */
  alwaysFailStatus?: 500 | 503
  /** Requests that match get 403 AccessDenied (a fatal error for s3c). */
  deny?: (r: RecordedRequest) => boolean
  /**
   * Requests that match wait, unanswered, until a later setFaults() no longer holds them: a
   * slow phase as long as a test needs, by construction rather than by timing.
   */
  hold?: (r: RecordedRequest) => boolean
  /** Requests that match are never answered (the connection stays open): a run stuck mid-way, to kill. */
  stall?: (req: RecordedRequest) => boolean
  /**
   * Milliseconds every request waits before it is answered or forwarded: a network round trip to
   * a distant server (bench:scale lists through +30 ms), on a loopback server.
   */
  latencyMs?: number
  /**
   * Answers that match are cut mid-body: the headers (with the full Content-Length) and half the
   * body go out, then the connection closes. Only the first `cutBodyTimes` matching answers (1 by default).
   */
  cutBody?: (r: RecordedRequest) => boolean
  cutBodyTimes?: number
  /** Requests that match get 200 with an S3 error as the body (CopyObject's way to fail after the status), the first `errorBody200Times` (1). */
  errorBody200?: (r: RecordedRequest) => boolean
  errorBody200Times?: number
  /**
   * A misbehaving server: answers to requests that match are forwarded, then rewritten as the
   * lie says, every time (see Lie).
   */
  lie?: (r: RecordedRequest) => Lie | undefined
  seed?: number
}

/**
 * What a misbehaving server does to an answer. Bodies: 'short' sends the full Content-Length,
 * half the body, then closes; 'zero' says Content-Length: 0 and sends nothing; 'two-lengths'
 * sends a wrong Content-Length (one byte short) before the right one, then the body; 'altered'
 * sends the body with one byte changed (same length, same headers). Listings (ListObjectsV2, and
 * ListBuckets by its ContinuationToken): 'repeat-token' says IsTruncated=true with the same NextContinuationToken on every page;
 * 'token-cycle' gives tokens A, B, A, B… (each page the first page again); 'no-token' says
 * IsTruncated=true without a token. Checksums (for a server that sends them, which fauxqs does
 * not): 'checksum-right' adds the body's true `x-amz-checksum-sha256`, 'checksum-wrong' one of
 * other bytes, the body itself unchanged.
 */
export type Lie = 'short' | 'zero' | 'two-lengths' | 'altered' | 'repeat-token' | 'token-cycle' | 'no-token' | 'checksum-right' | 'checksum-wrong' | MarkerLie
  /** ListObjectsV2 with its objects in localeCompare order of their keys, as fauxqs lists, instead of S3's byte order. */
  | 'locale-order'
  /**
   * A ranged GET answered with other bytes of the same length: the Range is moved by one byte (down,
   * or up from 0) before it is sent, and the answer (its Content-Range saying so) is passed on.
   */
  | 'shifted-range'

/**
 * Lies of the listings that page by markers (ListObjectVersions, ListMultipartUploads): every page
 * says IsTruncated=true, with 'repeat-marker' the same NextKeyMarker each time, with
 * 'marker-cycle' A, B, A…, with 'no-marker' none (the id markers are dropped, so the client sends
 * a key marker alone: a valid request, answered by the server under test). A server that does
 * not list uploads (fauxqs answers ListMultipartUploads with an object listing) is played as one
 * that does, with none: the lie is what is tested.
 */
export type MarkerLie = 'repeat-marker' | 'marker-cycle' | 'no-marker'
const MARKER_LIES: readonly Lie[] = ['repeat-marker', 'marker-cycle', 'no-marker']

/** Writes an answer by hand on the socket (node:http would refuse a lie), then closes the connection. */
function writeRaw(socket: import('node:net').Socket, status: number, rawHeaders: string[], lengths: number[], body: Buffer, cut: boolean): void {
  let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n`
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (/^(content-length|transfer-encoding|connection|keep-alive)$/i.test(rawHeaders[i])) continue
    head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`
  }
  for (const l of lengths) head += `Content-Length: ${l}\r\n`
  head += 'Connection: close\r\n\r\n'
  socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]), () => (cut ? socket.destroy() : socket.end()))
}

/** A ListObjectVersions or ListMultipartUploads answer rewritten as `lie` says. */
function markerLie(lie: MarkerLie, rec: RecordedRequest, xml: string): string {
  const bucket = rec.path.split('/')[1] ?? ''
  if (/(^|&)uploads(=|&|$)/.test(rec.query) && !xml.includes('<ListMultipartUploadsResult'))
    xml = `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${bucket}</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`
  const sent = parseQuery(rec.query)['key-marker']
  const next = lie === 'repeat-marker' ? 'same-marker-again' : lie === 'marker-cycle' ? (sent === 'A' ? 'B' : 'A') : undefined
  return xml.replace(/<(Next(?:Key|VersionId|UploadId)Marker)>[^<]*<\/\1>|<Next(?:Key|VersionId|UploadId)Marker\/>/g, '')
    .replace(/<IsTruncated>(true|false)<\/IsTruncated>/, `<IsTruncated>true</IsTruncated>${next ? `<NextKeyMarker>${next}</NextKeyMarker>` : ''}`)
}

/** The answer rewritten as `lie` says (rec.status set), on the request's socket. */
function answerWithLie(lie: Lie, rec: RecordedRequest, up: http.IncomingMessage, body: Buffer, socket: import('node:net').Socket): void {
  const status = up.statusCode ?? 502
  if (MARKER_LIES.includes(lie)) {
    const out = Buffer.from(markerLie(lie as MarkerLie, rec, body.toString('utf8')), 'utf8')
    rec.responseBytes += out.length
    return writeRaw(socket, status, up.rawHeaders, [out.length], out, false)
  }
  if (lie === 'repeat-token' || lie === 'token-cycle' || lie === 'no-token') {
    const next = lie === 'repeat-token' ? 'same-token-again' : lie === 'token-cycle' ? (rec.query.includes('continuation-token=A') ? 'B' : 'A') : undefined
    const token = next ? `<NextContinuationToken>${next}</NextContinuationToken>` : ''
    let xml = body.toString('utf8')
    // ListBuckets pages by a ContinuationToken alone (no IsTruncated).
    if (xml.includes('</ListAllMyBucketsResult>'))
      xml = xml.replace(/<ContinuationToken>[^<]*<\/ContinuationToken>/, '').replace('</ListAllMyBucketsResult>', `${next ? `<ContinuationToken>${next}</ContinuationToken>` : ''}</ListAllMyBucketsResult>`)
    else xml = xml.replace(/<IsTruncated>false<\/IsTruncated>/, `<IsTruncated>true</IsTruncated>${token}`)
    const out = Buffer.from(xml, 'utf8')
    rec.responseBytes += out.length
    return writeRaw(socket, status, up.rawHeaders, [out.length], out, false)
  }
  if (lie === 'shifted-range') {
    rec.responseBytes += body.length
    return writeRaw(socket, status, up.rawHeaders, [body.length], body, false)
  }
  if (lie === 'locale-order') {
    const blocks = body.toString('utf8').match(/<Contents>[\s\S]*?<\/Contents>/g) ?? []
    const keyOf = (b: string) => decodeURIComponent((/<Key>([^<]*)<\/Key>/.exec(b)?.[1] ?? '').replace(/\+/g, ' '))
    const sorted = [...blocks].sort((a, b) => keyOf(a).localeCompare(keyOf(b)))
    let i = 0
    const out = Buffer.from(body.toString('utf8').replace(/<Contents>[\s\S]*?<\/Contents>/g, () => sorted[i++]), 'utf8')
    rec.responseBytes += out.length
    return writeRaw(socket, status, up.rawHeaders, [out.length], out, false)
  }
  if (lie === 'short') {
    const half = body.subarray(0, Math.floor(body.length / 2))
    rec.responseBytes += half.length
    return writeRaw(socket, status, up.rawHeaders, [body.length], half, true)
  }
  if (lie === 'zero') return writeRaw(socket, status, up.rawHeaders, [0], Buffer.alloc(0), false)
  if (lie === 'checksum-right' || lie === 'checksum-wrong') {
    const sum = createHash('sha256').update(lie === 'checksum-right' ? body : Buffer.concat([body, Buffer.from('x')])).digest('base64')
    rec.responseBytes += body.length
    return writeRaw(socket, status, [...up.rawHeaders, 'x-amz-checksum-sha256', sum], [body.length], body, false)
  }
  if (lie === 'two-lengths') {
    rec.responseBytes += body.length
    return writeRaw(socket, status, up.rawHeaders, [Math.max(0, body.length - 1), body.length], body, false)
  }
  const altered = Buffer.from(body)
  if (altered.length > 0) altered[altered.length >> 1] ^= 0xff
  rec.responseBytes += altered.length
  writeRaw(socket, status, up.rawHeaders, [altered.length], altered, false)
}

export interface ProxyOptions extends FaultOptions {
  auth?: {accessKeyId: string; secretAccessKey: string; region: string}
  /**
   * The keys a request the proxy changes (a looping listing's token dropped) is signed again
   * with, so that a server checking signatures answers it: by default the environment's
   * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION); without any, the changed request goes
   * with its old signature (fauxqs checks none).
   */
  resign?: {accessKeyId: string; secretAccessKey: string; region: string}
  /**
   * Awaited before a request is forwarded: lets a test act at an exact point of a run (e.g.
   * change a local file when the client asks for a given key), with no timing involved.
   */
  onRequest?: (r: RecordedRequest) => void | Promise<void>
}

export interface Proxy {
  endpoint: string
  requests: RecordedRequest[]
  count(method?: string, predicate?: (r: RecordedRequest) => boolean): number
  reset(): void
  setFaults(faults: FaultOptions): void
  /** Faults injected so far, by kind. */
  injected: {500: number; 503: number; drop: number; cut: number; errorBody: number; lies: number}
  /** Requests waiting in hold right now. */
  held(): number
  /** Requests stalled so far (FaultOptions.stall). */
  stalled(): number
  /**
   * The most requests that `inFlight` matched at one time since the last reset (from arrival to
   * the end of the answer): concurrency shown by count, not by time.
   */
  maxInFlight(): number
  /** Which requests maxInFlight counts (all when unset); reset() keeps it. */
  inFlight?: (r: RecordedRequest) => boolean
  /** Drops the connections of the requests stalled so far (the client sees a reset and retries). */
  releaseStalled(): void
  /** TCP connections accepted since the start (not reset): how many sockets the clients opened. */
  connections(): number
  stop(): Promise<void>
}

/** A small seeded PRNG (fault injection here, object sizes in bench/tar.ts). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/** A query as sent (`a=1&b`), decoded: what SigV4 signs, by name. */
function parseQuery(raw: string): Record<string, string> {
  const query: Record<string, string> = {}
  for (const pair of raw.split('&').filter(Boolean)) {
    const eq = pair.indexOf('=')
    query[decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq))] = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1))
  }
  return query
}

/** Recomputes the request's SigV4 signature with the known secret; returns an S3 error code or undefined. */
async function checkSignature(req: http.IncomingMessage, auth: NonNullable<ProxyOptions['auth']>): Promise<string | undefined> {
  const header = req.headers.authorization ?? ''
  const m = /Credential=([^/]+)\/[^,]*,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)/.exec(header)
  if (!m) return 'AccessDenied'
  const [, accessKeyId, signedHeaders, signature] = m
  if (accessKeyId !== auth.accessKeyId) return 'InvalidAccessKeyId'
  const url = req.url ?? '/'
  const qi = url.indexOf('?')
  const path = qi < 0 ? url : url.slice(0, qi)
  const query = parseQuery(qi < 0 ? '' : url.slice(qi + 1))
  const headers: Record<string, string> = {}
  for (const name of signedHeaders.split(';')) headers[name] = String(req.headers[name] ?? '')
  const date = headers['x-amz-date'] ?? String(req.headers['x-amz-date'] ?? '')
  const signingDate = new Date(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'))
  const signer = new SignatureV4({service: 's3', region: auth.region, sha256: NodeSha256, uriEscapePath: false,
    credentials: {accessKeyId: auth.accessKeyId, secretAccessKey: auth.secretAccessKey}})
  const [hostname, port] = (headers.host ?? '').split(':')
  const signed = await signer.sign({method: req.method ?? 'GET', protocol: 'http:', hostname, port: port ? Number(port) : undefined, path, query, headers},
    {signingDate})
  const ok = String(signed.headers.authorization ?? '').endsWith(`Signature=${signature}`)
  return ok ? undefined : 'SignatureDoesNotMatch'
}

/** `bytes=A-B` moved by one byte: down, or up when A is 0 (same length, other bytes). */
function shifted(range: string | undefined): string | undefined {
  const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '')
  if (!m) return undefined
  const d = Number(m[1]) > 0 ? -1 : 1
  return `bytes=${Number(m[1]) + d}-${Number(m[2]) + d}`
}

function environmentKeys(): ProxyOptions['resign'] {
  const {AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_REGION: region} = process.env
  return accessKeyId && secretAccessKey ? {accessKeyId, secretAccessKey, region: region || 'us-east-1'} : undefined
}

/**
 * A request sent to `url` (path and query, as the proxy changed it), with `changes` to its headers,
 * instead of the one the client signed: the same signed headers, signed again by s3c's signer (src/s3/sigv4.ts), and the query
 * in the canonical form that signature covers. Unsigned requests stay unsigned.
 */
function resigned(req: http.IncomingMessage, url: string, keys: ProxyOptions['resign'], changes: Record<string, string> = {}): {path: string; headers: http.OutgoingHttpHeaders} {
  const names = /SignedHeaders=([^,]+)/.exec(req.headers.authorization ?? '')?.[1].split(';')
  if (!keys || !names) return {path: url, headers: {...req.headers, ...changes}}
  const qi = url.indexOf('?')
  const path = qi < 0 ? url : url.slice(0, qi)
  const query = parseQuery(qi < 0 ? '' : url.slice(qi + 1))
  const signedHeaders: Record<string, string> = {}
  const given: http.IncomingHttpHeaders = {...req.headers, ...changes}
  for (const name of names) if (name !== 'x-amz-date' && given[name] !== undefined) signedHeaders[name] = String(given[name])
  const signed = new SigV4Signer(keys.region).sign({method: req.method ?? 'GET', path, query, headers: signedHeaders}, keys)
  const headers: http.OutgoingHttpHeaders = {...given}
  delete headers['x-amz-date']
  const q = canonicalQuery(query)
  return {path: q ? `${path}?${q}` : path, headers: {...headers, ...signed}}
}

export async function startProxy(target: string, opts: ProxyOptions = {}): Promise<Proxy> {
  const t = new URL(target)
  const resignKeys = opts.resign ?? environmentKeys()
  const agent = new http.Agent({keepAlive: true, maxSockets: 256})
  let faults: FaultOptions = opts
  let random = mulberry32(opts.seed ?? 42)
  const requests: RecordedRequest[] = []
  const injected = {500: 0, 503: 0, drop: 0, cut: 0, errorBody: 0, lies: 0}
  const holding: {rec: RecordedRequest; release: () => void}[] = []
  const rehold = () => {
    for (const h of holding.splice(0)) {
      if (faults.hold?.(h.rec)) holding.push(h)
      else h.release()
    }
  }
  let stalled = 0
  let inFlight = 0
  let maxInFlight = 0
  const stalledSockets: import('node:net').Socket[] = []
  const connectionIds = new WeakMap<import('node:net').Socket, number>()
  let connections = 0

  const server = http.createServer(async (req, res) => {
    const url = req.url ?? '/'
    const qi = url.indexOf('?')
    const rec: RecordedRequest = {method: req.method ?? 'GET', path: decodePath(qi < 0 ? url : url.slice(0, qi)), query: qi < 0 ? '' : url.slice(qi + 1),
      requestBytes: 0, responseBytes: 0, headers: req.headers, connection: connectionIds.get(req.socket) ?? 0}
    const copySource = req.headers['x-amz-copy-source']
    if (typeof copySource === 'string') rec.copySource = decodePath(copySource)
    const copyRange = req.headers['x-amz-copy-source-range']
    if (typeof copyRange === 'string') rec.copyRange = copyRange
    if (typeof req.headers.range === 'string') rec.range = req.headers.range
    requests.push(rec)
    if (!proxy.inFlight || proxy.inFlight(rec)) {
      maxInFlight = Math.max(maxInFlight, ++inFlight)
      res.once('close', () => { inFlight-- })
    }
    if (faults.latencyMs) await new Promise(resolve => setTimeout(resolve, faults.latencyMs))
    if (opts.auth) {
      const code = await checkSignature(req, opts.auth)
      if (code) {
        res.writeHead(403, {'content-type': 'application/xml'})
        res.end(req.method === 'HEAD' ? undefined : errorXml(code, 'request refused by the signature check'))
        return
      }
    }
    await opts.onRequest?.(rec)
    if (faults.hold?.(rec)) await new Promise<void>(release => holding.push({rec, release}))
    if (faults.deny?.(rec)) {
      res.writeHead(403, {'content-type': 'application/xml'})
      res.end(req.method === 'HEAD' ? undefined : errorXml('AccessDenied', 'injected: access denied'))
      return
    }
    if (faults.alwaysFail?.(rec.path, rec)) {
      const status = faults.alwaysFailStatus ?? 500
      injected[status]++
      res.writeHead(status, {'content-type': 'application/xml'})
      res.end(req.method === 'HEAD' ? undefined : errorXml(status === 500 ? 'InternalError' : 'SlowDown', 'injected failure'))
      return
    }
    if (faults.errorBody200?.(rec) && injected.errorBody < (faults.errorBody200Times ?? 1)) {
      injected.errorBody++
      req.resume()
      res.writeHead(200, {'content-type': 'application/xml'})
      res.end(errorXml('InternalError', 'injected: failed after 200'))
      return
    }
    if (faults.stall?.(rec)) {
      stalled++
      stalledSockets.push(req.socket)
      return
    }
    if (faults.failRate && random() < faults.failRate) {
      const kind = Math.floor(random() * 3)
      if (kind === 0) {
        injected.drop++
        req.socket.destroy()
        return
      }
      const status = kind === 1 ? 500 : 503
      injected[status]++
      res.writeHead(status, {'content-type': 'application/xml'})
      res.end(req.method === 'HEAD' ? undefined : errorXml(status === 500 ? 'InternalError' : 'SlowDown', 'injected failure'))
      return
    }
    const lie = faults.lie?.(rec)
    // A looping listing answers its first page again, whatever token it is sent (the server under test would refuse ours).
    const changed = lie === 'repeat-token' || lie === 'token-cycle' ? url.replace(/&continuation-token=[^&]*|continuation-token=[^&]*&?/, '') : url
    const range = lie === 'shifted-range' ? shifted(req.headers.range) : undefined
    const {path, headers} = changed === url && !range ? {path: url, headers: req.headers} : resigned(req, changed, resignKeys, range ? {range} : {})
    const upstream = http.request({host: t.hostname, port: t.port, method: req.method, path, headers, agent}, up => {
      rec.status = up.statusCode
      const length = Number(up.headers['content-length'] ?? 0)
      if (lie && (up.statusCode ?? 0) < 300) {
        injected.lies++
        const body: Buffer[] = []
        up.on('data', (chunk: Buffer) => body.push(chunk))
        up.on('end', () => answerWithLie(lie, rec, up, Buffer.concat(body), req.socket))
        return
      }
      if (faults.cutBody?.(rec) && length > 1 && injected.cut < (faults.cutBodyTimes ?? 1)) {
        injected.cut++
        const body: Buffer[] = []
        up.on('data', (chunk: Buffer) => body.push(chunk))
        up.on('end', () => {
          res.writeHead(up.statusCode ?? 502, up.headers)
          const half = Buffer.concat(body).subarray(0, Math.floor(length / 2))
          rec.responseBytes += half.length
          res.write(half, () => res.socket?.destroy())
        })
        return
      }
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.on('data', (chunk: Buffer) => { rec.responseBytes += chunk.length })
      up.pipe(res)
    })
    upstream.on('error', () => res.destroy())
    // Counted only here: a 'data' listener added earlier would start the body flowing before the pipe.
    req.on('data', (chunk: Buffer) => { rec.requestBytes += chunk.length })
    req.pipe(upstream)
  })
  server.on('connection', socket => connectionIds.set(socket, ++connections))
  server.keepAliveTimeout = 30_000
  // No server-side deadline: a held (or delayed) request's body is read only when it is forwarded, and Node's
  // default requestTimeout (300 s to receive a whole request) would cut a long hold.
  server.requestTimeout = 0
  server.headersTimeout = 0
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  const proxy: Proxy = {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    injected,
    held: () => holding.length,
    stalled: () => stalled,
    maxInFlight: () => maxInFlight,
    releaseStalled: () => { for (const socket of stalledSockets.splice(0)) socket.destroy() },
    connections: () => connections,
    count: (method, predicate) => requests.filter(r => (!method || r.method === method) && (!predicate || predicate(r))).length,
    reset: () => {
      requests.length = 0
      maxInFlight = inFlight
    },
    setFaults: f => {
      faults = f
      random = mulberry32(f.seed ?? 42)
      rehold()
    },
    stop: () => new Promise(resolve => {
      faults = {}
      rehold()
      server.closeAllConnections()
      server.close(() => resolve())
      agent.destroy()
    }),
  }
  return proxy
}

export type AuthGate = Proxy

export function startAuthGate(target: string, auth: NonNullable<ProxyOptions['auth']>): Promise<AuthGate> {
  return startProxy(target, {auth})
}
