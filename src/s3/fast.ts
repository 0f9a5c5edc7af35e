import {createHash, createHmac, type Hash, type Hmac} from 'node:crypto'
import type {Agent, IncomingMessage} from 'node:http'
import type {AwsCredentialIdentity, Provider} from '@smithy/types'
import type {Readable} from 'node:stream'
import type {RequestLog} from './log.js'
import {parseListObjectsV2, type ListV2Page} from './listing-xml.js'
import {Http1Pool, type BodySink, type Http1Answer} from './http1.js'
import {canonicalQuery, escapeUri, SigV4Signer} from './sigv4.js'

export {escapeUri}

/**
 * The small-object hot path: GET/PUT/HEAD signed by src/s3/sigv4.ts. Answers read whole (small
 * objects, CopyObject, listings) go through src/s3/http1.ts on kept-alive sockets of their own;
 * streamed answers (large ranges) through node:http on the sockets the SDK client shares
 * (src/s3/client.ts). The SDK's per-command middleware costs ~1.7 ms CPU per request
 * (docs/DESIGN.md, "The transfer path"); this path skips it. Only src/s3/storage.ts uses it: it
 * picks this path or the SDK for each request, callers never do.
 */

type SourceData = string | ArrayBuffer | ArrayBufferView

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  return Buffer.from(data)
}

/** node:crypto behind the signer's Hash interface (the default is a pure-JS SHA-256). */
export class NodeSha256 {
  private hash: Hash | Hmac
  constructor(private readonly secret?: SourceData) {
    this.hash = this.make()
  }
  private make(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret))
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data))
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest()
  }
  reset(): void {
    this.hash = this.make()
  }
}

/** RFC 3986 encoding of each key segment, as S3 expects in the path. */
export function encodeKey(key: string): string {
  return key.split('/').map(escapeUri).join('/')
}

/** Same shape as an SDK ServiceException, so one classifier handles both. */
export class S3HttpError extends Error {
  readonly $metadata: {httpStatusCode: number}
  readonly $fault: 'client' | 'server'
  constructor(name: string, message: string, status: number) {
    super(message)
    this.name = name
    this.$metadata = {httpStatusCode: status}
    this.$fault = status >= 500 ? 'server' : 'client'
  }
}

const STATUS_NAMES: Record<number, string> = {
  301: 'PermanentRedirect', 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 412: 'PreconditionFailed',
  416: 'InvalidRange', 429: 'SlowDown', 500: 'InternalError', 503: 'ServiceUnavailable',
}

function errorFromResponse(status: number, body: string, fallbackName?: string): S3HttpError {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1]
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1]
  const name = code || fallbackName || STATUS_NAMES[status] || `Http${status}`
  return new S3HttpError(name, message || `${name} (HTTP ${status})`, status)
}

const EMPTY = Buffer.alloc(0)

/**
 * An answer of 200 whose body is an S3 error (CopyObject and CompleteMultipartUpload report a
 * failure found after the status was sent this way): thrown as that error, as a server fault so
 * it is retried as the SDK retries it.
 */
export function throwIfErrorBody(body: Buffer): void {
  if (body.length === 0 || body.length > 64 * 1024) return
  const text = body.toString('utf8')
  if (!/<Error>/.test(text)) return
  throw errorFromResponse(500, text)
}

/** The whole body of an answer; a connection lost before its end rejects (node:http's ECONNRESET "aborted"), and is retried. */
async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk as Buffer)
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

export type Headers = Record<string, string>

export interface FastS3Options {
  /** Base URL: the custom endpoint or https://s3.REGION.amazonaws.com */
  endpoint: URL
  pathStyle: boolean
  region: string
  credentials: Provider<AwsCredentialIdentity>
  /** The keep-alive sockets of the endpoint for streamed answers (https.Agent for https: it carries the trusted certificates), made on first use. */
  agent: () => Agent
  /** Sockets per host for the answers read whole (src/s3/http1.ts). */
  maxSockets: number
  /** The certificates an https endpoint is checked against, when not only the system's. */
  ca?: string[]
  /** --no-sign-request: send requests unsigned (no Authorization, no credentials asked). */
  anonymous?: boolean
  /** --request-payer: x-amz-request-payer on every request. */
  requestPayer?: string
  /** --log info/debug: each request once its answer's headers have come (src/s3/log.ts). */
  log?: RequestLog
}

export interface FastResponse {
  status: number
  headers: Headers
  body: Buffer
}

/**
 * How long a request may wait for its answer's headers, or between two pieces of its body (or of
 * what it sends): 120 s, twice the AWS CLI's read timeout. The fast path and the SDK's handler both
 * use it (src/s3/client.ts); tests shorten it with S3C_IDLE_TIMEOUT_MS (≥ 200).
 */
export function idleTimeoutMs(env = process.env): number {
  const v = Number(env.S3C_IDLE_TIMEOUT_MS)
  return Number.isFinite(v) && v > 0 ? Math.max(200, Math.min(v, 120_000)) : 120_000
}
const IDLE_TIMEOUT_MS = idleTimeoutMs()
export const CONNECT_TIMEOUT_MS = 10_000

export class FastS3 {
  private readonly signer: SigV4Signer
  /** Kept-alive sockets by host and port (a virtual-hosted bucket is a host of its own). */
  private readonly pools = new Map<string, Http1Pool>()

  constructor(private readonly opts: FastS3Options) {
    this.signer = new SigV4Signer(opts.region)
  }

  private pool(t: {hostname: string; port?: number; protocol: string}): Http1Pool {
    const https = t.protocol === 'https:'
    const port = t.port ?? (https ? 443 : 80)
    const id = `${t.hostname}:${port}`
    let pool = this.pools.get(id)
    if (!pool) {
      pool = new Http1Pool({protocol: https ? 'https:' : 'http:', hostname: t.hostname, port, maxSockets: this.opts.maxSockets, ca: this.opts.ca,
        idleTimeoutMs: IDLE_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS})
      this.pools.set(id, pool)
    }
    return pool
  }

  private target(bucket: string, key: string): {origin: string; hostname: string; port?: number; protocol: string; path: string} {
    const base = this.opts.endpoint
    const basePath = base.pathname.replace(/\/+$/, '')
    const virtual = !this.opts.pathStyle && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)
    const hostname = virtual ? `${bucket}.${base.hostname}` : base.hostname
    const port = base.port ? Number(base.port) : undefined
    // A request on the bucket itself (a listing) has no key: /bucket, or / on the bucket's host.
    const path = virtual ? `${basePath}/${encodeKey(key)}` : key === '' ? `${basePath}/${bucket}` : `${basePath}/${bucket}/${encodeKey(key)}`
    const origin = `${base.protocol}//${hostname}${base.port ? `:${base.port}` : ''}`
    return {origin, hostname, port, protocol: base.protocol, path}
  }

  /** One request on the shared sockets: resolves with the answer once its headers have come; its body is not read yet. */
  private exchange(method: string, t: {hostname: string; port?: number; protocol: string; path: string}, headers: Headers, body?: Buffer, signal?: AbortSignal): Promise<IncomingMessage> {
    // node:http(s) load with the first streamed answer: commands that stream none (ls, cp S3→S3, cat of a small object) never load them.
    const {request} = t.protocol === 'https:' ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http')
    return new Promise((resolve, reject) => {
      const req = request({
        method, hostname: t.hostname, port: t.port, path: t.path, headers, agent: this.opts.agent(), signal, timeout: IDLE_TIMEOUT_MS,
      }, resolve)
      req.on('error', reject)
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${IDLE_TIMEOUT_MS / 1000} s`), {code: 'ETIMEDOUT'})))
      // A new socket must connect within CONNECT_TIMEOUT_MS (a black-holed host), as the SDK's handler is told.
      req.on('socket', socket => {
        if (!socket.connecting) return
        const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no connection within ${CONNECT_TIMEOUT_MS / 1000} s`), {code: 'ETIMEDOUT'})), CONNECT_TIMEOUT_MS)
        const clear = () => clearTimeout(timer)
        socket.once('connect', clear)
        socket.once('secureConnect', clear)
        socket.once('close', clear)
      })
      req.end(body)
    })
  }

  /** Signs and sends one request, and reads its answer whole (src/s3/http1.ts). */
  private async exchangeWhole(method: 'GET' | 'PUT' | 'HEAD', bucket: string, key: string, headers: Headers, body?: Buffer, bodySha256?: string, signal?: AbortSignal,
    query: Record<string, string> = {}, sink?: BodySink): Promise<Http1Answer> {
    const {t, sent} = await this.signed(method, bucket, key, headers, body, bodySha256, query)
    return this.logged(method, t, () => this.pool(t).request(method, t.path, sent, body, signal, sink), a => a.status)
  }

  /** Signs and sends one request on node:http; the answer's body is not read yet (a stream). */
  private async send(method: 'GET' | 'PUT' | 'HEAD', bucket: string, key: string, headers: Headers, body?: Buffer, bodySha256?: string, signal?: AbortSignal,
    query: Record<string, string> = {}): Promise<IncomingMessage> {
    const {t, sent} = await this.signed(method, bucket, key, headers, body, bodySha256, query)
    return this.logged(method, t, () => this.exchange(method, t, sent, body, signal), res => res.statusCode ?? 0)
  }

  /** The request's target and its signed headers. */
  private async signed(method: 'GET' | 'PUT' | 'HEAD', bucket: string, key: string, headers: Headers, body: Buffer | undefined, bodySha256: string | undefined,
    query: Record<string, string>): Promise<{t: ReturnType<FastS3['target']>; sent: Headers}> {
    const target = this.target(bucket, key)
    const search = canonicalQuery(query)
    const t = search ? {...target, path: `${target.path}?${search}`} : target
    // A signed payload hash: the server rejects a body damaged in transit.
    const payloadHash = bodySha256 ?? sha256Hex(body ?? EMPTY)
    const host = t.port ? `${t.hostname}:${t.port}` : t.hostname
    const unsigned: Headers = {
      ...headers, host, 'x-amz-content-sha256': payloadHash, ...(body ? {'content-length': String(body.length)} : {}),
      ...(this.opts.requestPayer ? {'x-amz-request-payer': this.opts.requestPayer} : {}),
    }
    const sent = this.opts.anonymous
      ? unsigned
      : this.signer.sign({method, path: target.path, query, headers: unsigned}, await this.opts.credentials())
    return {t, sent}
  }

  /** Runs one exchange, written to --log's request log when there is one. */
  private async logged<A>(method: string, t: {origin: string; path: string}, exchange: () => Promise<A>, status: (a: A) => number): Promise<A> {
    const log = this.opts.log
    if (!log) return exchange()
    const started = performance.now()
    try {
      const answer = await exchange()
      log(method, t.origin + t.path, status(answer), performance.now() - started)
      return answer
    } catch (error) {
      const e = error as {code?: string; name?: string}
      log(method, t.origin + t.path, e.code ?? e.name ?? 'error', performance.now() - started)
      throw error
    }
  }

  /** Sends one signed request and reads the whole answer; throws S3HttpError for non-2xx answers. */
  async request(method: 'GET' | 'PUT' | 'HEAD', bucket: string, key: string, headers: Headers = {}, body?: Buffer, bodySha256?: string): Promise<FastResponse> {
    const answer = await this.exchangeWhole(method, bucket, key, headers, body, bodySha256)
    if (answer.status >= 300) throw errorFromResponse(answer.status, answer.body.toString('utf8'))
    return answer
  }

  /**
   * A GET whose 2xx body goes to `sink` piece by piece as it comes, on the shared sockets (a large
   * range into a file: no stream objects, nothing held whole); throws S3HttpError for non-2xx answers.
   */
  async getInto(bucket: string, key: string, headers: Headers, sink: BodySink, signal?: AbortSignal): Promise<{status: number; headers: Headers}> {
    const answer = await this.exchangeWhole('GET', bucket, key, headers, undefined, undefined, signal, {}, sink)
    if (answer.status >= 300) throw errorFromResponse(answer.status, answer.body.toString('utf8'))
    return {status: answer.status, headers: answer.headers}
  }

  /** A GET whose body is handed over as a stream once the answer's headers have come (a large member read by a reader). */
  async stream(bucket: string, key: string, headers: Headers, signal?: AbortSignal): Promise<{status: number; headers: Headers; body: Readable}> {
    const res = await this.send('GET', bucket, key, headers, undefined, undefined, signal)
    const status = res.statusCode ?? 0
    if (status >= 300) throw errorFromResponse(status, (await readAll(res)).toString('utf8'))
    return {status, headers: res.headers as Record<string, string>, body: res}
  }

  /**
   * One ListObjectsV2 page (keys asked URL-encoded: XML 1.0 cannot carry every character a key
   * may hold), read by src/s3/listing-xml.ts; throws S3HttpError for non-2xx answers.
   */
  async listObjectsV2(bucket: string, params: {prefix?: string; continuationToken?: string; delimiter?: string; startAfter?: string; maxKeys?: number},
    signal?: AbortSignal): Promise<ListV2Page> {
    const query: Record<string, string> = {'list-type': '2', 'encoding-type': 'url'}
    if (params.prefix) query.prefix = params.prefix
    if (params.continuationToken) query['continuation-token'] = params.continuationToken
    if (params.delimiter) query.delimiter = params.delimiter
    if (params.startAfter) query['start-after'] = params.startAfter
    if (params.maxKeys !== undefined) query['max-keys'] = String(params.maxKeys)
    const answer = await this.exchangeWhole('GET', bucket, '', {}, undefined, undefined, signal, query)
    const text = answer.body.toString('utf8')
    if (answer.status >= 300) throw errorFromResponse(answer.status, text)
    try {
      return parseListObjectsV2(text)
    } catch (error) {
      // A body that is not a listing (a proxy's page, a cut answer): a server fault, retried.
      throw new S3HttpError('InternalError', `ListObjectsV2 of ${bucket}: ${(error as Error).message}`, 500)
    }
  }

  /** Where a request for the object goes, and how it is signed: for presigned URLs (src/s3/presign.ts). */
  signingTarget(bucket: string, key: string): {origin: string; hostname: string; port?: number; protocol: string; path: string; region: string;
    credentials: Provider<AwsCredentialIdentity>; anonymous: boolean} {
    return {...this.target(bucket, key), region: this.opts.region, credentials: this.opts.credentials, anonymous: this.opts.anonymous === true}
  }

  /** Closes the sockets of the answers read whole (node:http's agent belongs to the connection: src/s3/client.ts closes it). */
  async close(): Promise<void> {
    for (const pool of this.pools.values()) pool.close()
    this.pools.clear()
  }
}
