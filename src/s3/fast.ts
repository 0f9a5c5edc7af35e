import {createHash, createHmac, type Hash, type Hmac} from 'node:crypto'
import {SignatureV4} from '@smithy/signature-v4'
import type {AwsCredentialIdentity, Provider} from '@smithy/types'
import type {Readable} from 'node:stream'
import {Agent} from 'undici'
import type {RequestLog} from './log.js'

/**
 * The small-object hot path: GET/PUT/HEAD signed with the SDK's own SigV4 signer and sent over a
 * keep-alive undici pool. The SDK's per-command middleware costs ~1.7 ms CPU per request
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
  return key.split('/').map(seg => encodeURIComponent(seg).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/')
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
  connections: number
  /** Certificates to trust for https (the system's plus a CA bundle); Node's defaults when absent. */
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

export class FastS3 {
  private readonly agent: Agent
  private readonly signer: SignatureV4

  constructor(private readonly opts: FastS3Options) {
    this.agent = new Agent({connections: opts.connections, keepAliveTimeout: 30_000, headersTimeout: 120_000, bodyTimeout: 120_000,
      ...(opts.ca ? {connect: {ca: opts.ca}} : {})})
    this.signer = new SignatureV4({
      service: 's3', region: opts.region, credentials: opts.credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false,
    })
  }

  private target(bucket: string, key: string): {origin: string; hostname: string; port?: number; protocol: string; path: string} {
    const base = this.opts.endpoint
    const basePath = base.pathname.replace(/\/+$/, '')
    const virtual = !this.opts.pathStyle && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)
    const hostname = virtual ? `${bucket}.${base.hostname}` : base.hostname
    const port = base.port ? Number(base.port) : undefined
    const path = virtual ? `${basePath}/${encodeKey(key)}` : `${basePath}/${bucket}/${encodeKey(key)}`
    const origin = `${base.protocol}//${hostname}${base.port ? `:${base.port}` : ''}`
    return {origin, hostname, port, protocol: base.protocol, path}
  }

  /** Signs and sends one request; the answer's body is not read yet. */
  private async send(method: 'GET' | 'PUT' | 'HEAD', bucket: string, key: string, headers: Headers, body?: Buffer, bodySha256?: string, signal?: AbortSignal) {
    const t = this.target(bucket, key)
    // A signed payload hash: the server rejects a body damaged in transit.
    const payloadHash = bodySha256 ?? sha256Hex(body ?? EMPTY)
    const host = t.port ? `${t.hostname}:${t.port}` : t.hostname
    const unsigned: Headers = {
      ...headers, host, 'x-amz-content-sha256': payloadHash, ...(body ? {'content-length': String(body.length)} : {}),
      ...(this.opts.requestPayer ? {'x-amz-request-payer': this.opts.requestPayer} : {}),
    }
    const sent = this.opts.anonymous
      ? unsigned
      : (await this.signer.sign({method, protocol: t.protocol, hostname: t.hostname, port: t.port, path: t.path, query: {}, headers: unsigned, body})).headers
    const log = this.opts.log
    if (!log) return this.agent.request({origin: t.origin, path: t.path, method, headers: sent, body, signal})
    const started = performance.now()
    try {
      const res = await this.agent.request({origin: t.origin, path: t.path, method, headers: sent, body, signal})
      log(method, t.origin + t.path, res.statusCode, performance.now() - started)
      return res
    } catch (error) {
      const e = error as {code?: string; name?: string}
      log(method, t.origin + t.path, e.code ?? e.name ?? 'error', performance.now() - started)
      throw error
    }
  }

  /** Sends one signed request and reads the whole answer; throws S3HttpError for non-2xx answers. */
  async request(method: 'GET' | 'PUT' | 'HEAD', bucket: string, key: string, headers: Headers = {}, body?: Buffer, bodySha256?: string): Promise<FastResponse> {
    const res = await this.send(method, bucket, key, headers, body, bodySha256)
    const resHeaders = res.headers as Record<string, string>
    if (method === 'HEAD') {
      await res.body.dump()
      if (res.statusCode >= 300) throw errorFromResponse(res.statusCode, '')
      return {status: res.statusCode, headers: resHeaders, body: Buffer.alloc(0)}
    }
    const buf = Buffer.from(await res.body.arrayBuffer())
    if (res.statusCode >= 300) throw errorFromResponse(res.statusCode, buf.toString('utf8'))
    return {status: res.statusCode, headers: resHeaders, body: buf}
  }

  /** A GET whose body is handed over as a stream once the answer's headers have come (a large range). */
  async stream(bucket: string, key: string, headers: Headers, signal?: AbortSignal): Promise<{headers: Headers; body: Readable}> {
    const res = await this.send('GET', bucket, key, headers, undefined, undefined, signal)
    if (res.statusCode >= 300) throw errorFromResponse(res.statusCode, await res.body.text())
    return {headers: res.headers as Record<string, string>, body: res.body}
  }

  /** Where a request for the object goes, and how it is signed: for presigned URLs (src/s3/presign.ts). */
  signingTarget(bucket: string, key: string): {origin: string; hostname: string; port?: number; protocol: string; path: string; region: string; credentials: Provider<AwsCredentialIdentity>} {
    return {...this.target(bucket, key), region: this.opts.region, credentials: this.opts.credentials}
  }

  async close(): Promise<void> {
    await this.agent.close()
  }
}
