import net from 'node:net'
import {contentLength} from './verify.js'

/**
 * HTTP/1.1 for the fast path's requests whose answers are read whole (src/s3/fast.ts: small GET,
 * PUT, HEAD, CopyObject, listings): one request at a time per kept-alive socket, the request's
 * head and body in one write, the answer parsed here.
 *
 * Why not node:http (or undici, measured the same): a run of s3c is short, and its requests run
 * mostly before V8 has optimized anything. node:http's JavaScript per request (ClientRequest,
 * the agent, two streams, the parser's callbacks) cost ~150 µs of CPU per request over the first
 * thousand, ~37 µs once optimized; this costs ~45 µs and ~15 µs (docs/DESIGN.md, "The transfer
 * path"). A large range written to a file comes through here too, its body handed to a sink
 * piece by piece (BodySink); answers read as streams (a reader of a large member) stay on node:http.
 *
 * What it does not do, because S3 does not need it: pipelining, Expect: 100-continue,
 * compression, redirects, proxies, trailers (read and dropped), HTTP/2.
 */

export interface Http1Options {
  protocol: 'http:' | 'https:'
  hostname: string
  port: number
  /** Sockets at most; more requests wait for one. */
  maxSockets: number
  /** The certificates to trust, when not only the system's (the system's plus AWS_CA_BUNDLE's). */
  ca?: string[]
  /** How long a request may wait for its answer, or between two pieces of it. */
  idleTimeoutMs: number
  /** How long a new socket may take to connect (and to finish its TLS handshake). */
  connectTimeoutMs: number
}

export interface Http1Answer {
  status: number
  /** Names in lower case; a header given twice has its values joined by ", ". */
  headers: Record<string, string>
  body: Buffer
}

/** A failure of the connection, with the codes node:http gives (ECONNRESET, ETIMEDOUT, …): the retry policy knows them. */
function netError(message: string, code: string): Error {
  return Object.assign(new Error(message), {code})
}

/** What node:http refuses in a header value (CR and LF among them: no header can be smuggled in). */
const INVALID_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/
const INVALID_PATH_CHAR = /[^\x21-\x7e]/
/** A head larger than this is not an S3 answer. */
const MAX_HEAD = 64 * 1024
const CRLF2 = Buffer.from('\r\n\r\n')
/** What every plain socket of every pool reads into (Connection.onData copies what it keeps). */
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024)

/**
 * Where a 2xx answer's body goes instead of being gathered (a large range written to a file as it
 * comes): its head first, which may refuse the answer by throwing; then each piece in order.
 */
export interface BodySink {
  head(status: number, headers: Record<string, string>): void
  /**
   * A piece of the body, valid only during the call (it may lie in the socket's read buffer: copy
   * what you keep); false asks for no more until `more` is called.
   */
  write(chunk: Buffer): boolean
  /** Set by the connection while it reads the body: call it to ask for more after write said false. */
  more?: () => void
}

interface Pending {
  method: string
  path: string
  sink?: BodySink
  resolve: (a: Http1Answer) => void
  reject: (e: unknown) => void
  /** Set once a byte of the answer came: a failure before it on a reused socket may be a socket the server had closed. */
  answered: boolean
  reused: boolean
}

/** How the body of the answer being read ends. */
type BodyMode = {kind: 'length'; left: number} | {kind: 'chunked'; left: number; trailer: boolean} | {kind: 'close'}

class Connection {
  private input: Buffer | undefined
  private pending: Pending | undefined
  private status = 0
  private headers: Record<string, string> = {}
  private body: Buffer[] = []
  private mode: BodyMode | undefined
  private keep = true
  /** The answer's body goes to the request's sink (a 2xx answer with one), not to `body`. */
  private sinking: BodySink | undefined
  /** The bytes being parsed lie in READ_BUFFER (see onData). */
  private shared = false
  closed = false

  /** With `readInto` (a plain socket reading into the shared READ_BUFFER), 'data' is not emitted: the pool calls onData. */
  constructor(readonly socket: net.Socket, private readonly pool: Http1Pool, readInto = false) {
    if (!readInto) socket.on('data', data => this.onData(data, false))
    socket.on('error', error => this.fail(error))
    socket.on('close', () => this.onClose())
    socket.on('timeout', () => socket.destroy(netError(`no answer within ${pool.opts.idleTimeoutMs / 1000} s`, 'ETIMEDOUT')))
  }

  send(head: string, body: Buffer | undefined, pending: Pending): void {
    this.pending = pending
    this.status = 0
    this.mode = undefined
    this.keep = true
    this.socket.ref()
    this.socket.setTimeout(this.pool.opts.idleTimeoutMs)
    this.socket.cork()
    this.socket.write(head, 'latin1')
    if (body && body.length > 0) this.socket.write(body)
    this.socket.uncork()
  }

  /**
   * Bytes read. `shared`: they lie in READ_BUFFER, which the next read of any socket overwrites, so
   * what is kept past this call (a body's pieces, an unparsed rest) is copied; a sink copies too.
   */
  onData(data: Buffer, shared: boolean): void {
    const p = this.pending
    if (!p) {
      // Bytes nobody asked for: the socket cannot be trusted with a request.
      this.socket.destroy()
      return
    }
    p.answered = true
    this.shared = shared
    // (An input read to its end is an empty buffer: not joined, or every piece of a body is copied once more.)
    this.input = this.input && this.input.length > 0 ? Buffer.concat([this.input, data]) : data
    try {
      this.parse()
      if (shared && this.input && this.input.length > 0 && this.input.buffer === READ_BUFFER.buffer) this.input = Buffer.from(this.input)
    } catch (error) {
      this.input = undefined
      this.socket.destroy()
      this.fail(error)
    }
  }

  private parse(): void {
    for (;;) {
      const input = this.input
      if (!input || input.length === 0) return
      if (!this.mode) {
        const end = input.indexOf(CRLF2)
        if (end < 0) {
          if (input.length > MAX_HEAD) throw netError('an answer whose head does not end', 'EPROTO')
          return
        }
        this.input = input.subarray(end + 4)
        const mode = this.readHead(input.toString('latin1', 0, end))
        if (mode?.kind === 'length' && mode.left === 0) return this.finish()
        continue // (after a 1xx answer, mode is unset: the real answer's head follows)
      }
      const mode = this.mode
      if (mode.kind === 'close') {
        this.take(input)
        this.input = undefined
        return
      }
      if (mode.kind === 'length') {
        const take = Math.min(mode.left, input.length)
        this.take(input.subarray(0, take))
        mode.left -= take
        this.input = input.subarray(take)
        if (mode.left === 0) return this.finish()
        return
      }
      // Chunked: size line, data, CRLF; a 0 size line starts the trailer, which ends at an empty line.
      if (mode.left > 0) {
        const take = Math.min(mode.left, input.length)
        this.take(input.subarray(0, take))
        mode.left -= take
        this.input = input.subarray(take)
        if (mode.left > 0) return
        mode.left = -2 // the CRLF after the data
        continue
      }
      if (mode.left === -2) {
        if (input.length < 2) return
        this.input = input.subarray(2)
        mode.left = 0
        continue
      }
      const eol = input.indexOf('\r\n')
      if (eol < 0) {
        if (input.length > MAX_HEAD) throw netError('a chunk size line that does not end', 'EPROTO')
        return
      }
      const line = input.toString('latin1', 0, eol)
      this.input = input.subarray(eol + 2)
      if (mode.trailer) {
        if (line === '') return this.finish()
        continue
      }
      const size = Number.parseInt(line.split(';')[0].trim(), 16)
      if (!Number.isFinite(size) || size < 0) throw netError(`a bad chunk size line ${JSON.stringify(line.slice(0, 40))}`, 'EPROTO')
      if (size === 0) mode.trailer = true
      else mode.left = size
    }
  }

  /** A piece of the body: to the sink, which may ask to wait (the socket pauses until it calls `more`), or kept. */
  private take(piece: Buffer): void {
    if (piece.length === 0) return
    if (!this.sinking) {
      this.body.push(this.shared ? Buffer.from(piece) : piece)
      return
    }
    if (!this.sinking.write(piece)) this.socket.pause()
  }

  /** Reads a status line and headers, and sets how the body ends; undefined for an informational (1xx) answer, which is skipped. */
  private readHead(head: string): BodyMode | undefined {
    const lines = head.split('\r\n')
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0])
    if (!m) throw netError(`not an HTTP/1.1 answer: ${JSON.stringify(lines[0].slice(0, 40))}`, 'EPROTO')
    const status = Number(m[2])
    if (status >= 100 && status < 200) return undefined
    const headers: Record<string, string> = {}
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value
    }
    this.status = status
    this.headers = headers
    this.body = []
    const sink = this.pending!.sink
    if (sink && status >= 200 && status < 300) {
      sink.head(status, headers) // (throws to refuse the answer: parse's caller fails the request)
      sink.more = () => this.socket.resume()
      this.sinking = sink
    }
    const connection = (headers.connection ?? '').toLowerCase()
    this.keep = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive')
    const noBody = this.pending!.method === 'HEAD' || status === 204 || status === 304
    if (noBody) this.mode = {kind: 'length', left: 0}
    else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) this.mode = {kind: 'chunked', left: 0, trailer: false}
    else if (headers['content-length'] !== undefined) {
      // Two different lengths: no one can tell where the body ends (src/s3/verify.ts refuses it, and it is retried).
      const length = contentLength(headers, `${this.pending!.method} ${this.pending!.path}`)!
      if (!Number.isSafeInteger(length) || length < 0) throw netError(`a bad Content-Length ${JSON.stringify(headers['content-length'])}`, 'EPROTO')
      this.mode = {kind: 'length', left: length}
    } else {
      this.mode = {kind: 'close'}
      this.keep = false
    }
    return this.mode
  }

  private finish(): void {
    const p = this.pending!
    const answer = {status: this.status, headers: this.headers, body: this.body.length === 1 ? this.body[0] : Buffer.concat(this.body)}
    const leftover = this.input !== undefined && this.input.length > 0
    this.pending = undefined
    this.mode = undefined
    this.input = undefined
    this.body = []
    this.unsink()
    if (this.keep && !leftover) this.pool.release(this)
    else {
      this.closed = true
      this.socket.destroy()
      this.pool.release(this)
    }
    p.resolve(answer)
  }

  private onClose(): void {
    this.closed = true
    if (this.pending && this.mode?.kind === 'close') return this.finish()
    // A body cut short says so (a connection error, retried as one).
    const cut = this.mode?.kind === 'length' ? `the connection closed ${this.mode.left} bytes before the end of the body its Content-Length says` : undefined
    this.fail(netError(cut ?? 'socket hang up', 'ECONNRESET'))
    this.pool.forget(this)
  }

  /** The sink's answer is over: it can no longer resume this socket, which serves other requests now. */
  private unsink(): void {
    if (!this.sinking) return
    this.sinking.more = undefined
    this.sinking = undefined
    this.socket.resume()
  }

  private fail(error: unknown): void {
    const p = this.pending
    if (!p) return
    this.unsink()
    this.pending = undefined
    this.closed = true
    this.socket.destroy()
    this.pool.forget(this)
    p.reject(error)
  }

  /** Idle in the pool: it keeps no process alive and has no request timeout. */
  park(): void {
    this.socket.setTimeout(0)
    this.socket.unref()
  }
}

/** Kept-alive sockets to one host and port. */
export class Http1Pool {
  private idle: Connection[] = []
  private all = new Set<Connection>()
  private waiting: {go: (c: Connection | undefined) => void}[] = []
  private session: Buffer | undefined
  private closing = false

  constructor(readonly opts: Http1Options) {}

  /** One request; a socket the server closed while it was idle is replaced once, before anything was answered. */
  async request(method: string, path: string, headers: Record<string, string>, body?: Buffer, signal?: AbortSignal, sink?: BodySink): Promise<Http1Answer> {
    let head = `${method} ${path} HTTP/1.1\r\n`
    if (INVALID_PATH_CHAR.test(path)) throw Object.assign(new TypeError(`Request path contains unescaped characters`), {code: 'ERR_UNESCAPED_CHARACTERS'})
    for (const [name, value] of Object.entries(headers)) {
      if (INVALID_HEADER_CHAR.test(value)) throw Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), {code: 'ERR_INVALID_CHAR'})
      head += `${name}: ${value}\r\n`
    }
    head += '\r\n'
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted()
      const connection = await this.acquire()
      try {
        return await this.exchange(connection, method, path, head, body, signal, sink)
      } catch (error) {
        const e = error as {stale?: boolean}
        if (!e.stale || attempt > 0) throw error
      }
    }
  }

  private exchange(c: Connection, method: string, path: string, head: string, body: Buffer | undefined, signal?: AbortSignal, sink?: BodySink): Promise<Http1Answer> {
    const reused = c.socket.bytesWritten > 0
    return new Promise<Http1Answer>((resolve, reject) => {
      const onAbort = () => c.socket.destroy(signal!.reason instanceof Error ? signal!.reason : Object.assign(new Error('The operation was aborted'), {name: 'AbortError', code: 'ABORT_ERR'}))
      signal?.addEventListener('abort', onAbort, {once: true})
      const done = () => signal?.removeEventListener('abort', onAbort)
      const pending: Pending = {
        method, path, reused, answered: false, sink,
        resolve: a => { done(); resolve(a) },
        reject: e => {
          done()
          // A kept-alive socket that fails before a byte of the answer: the server closed it while idle (a race every client meets); tried once more on a new socket.
          if (pending.reused && !pending.answered && !signal?.aborted && typeof e === 'object' && e !== null) Object.assign(e, {stale: true})
          // After the answer's headers (a body cut short): the endpoint did answer (base/retry.ts Contact).
          if (pending.answered && typeof e === 'object' && e !== null) Object.assign(e, {answered: true})
          reject(e)
        },
      }
      c.send(head, body, pending)
    })
  }

  private acquire(): Promise<Connection> {
    if (this.closing) return Promise.reject(netError('the connection was closed', 'ECONNRESET'))
    while (this.idle.length > 0) {
      const c = this.idle.pop()!
      if (!c.closed) return Promise.resolve(c)
    }
    if (this.all.size < this.opts.maxSockets) return this.connect()
    return new Promise<Connection | undefined>(go => this.waiting.push({go})).then(c => c ?? this.connect())
  }

  private connect(): Promise<Connection> {
    const o = this.opts
    // node:tls loads for the first https socket: a plain-http endpoint never needs it.
    const tls = o.protocol === 'https:' ? process.getBuiltinModule('node:tls') : undefined
    return new Promise<Connection>((resolve, reject) => {
      const socket = tls
        ? tls.connect({host: o.hostname, port: o.port, servername: net.isIP(o.hostname) ? undefined : o.hostname, ca: o.ca,
          session: this.session, ALPNProtocols: ['http/1.1']})
        // Plain sockets read into one buffer, not a new 64 KiB one per read: a large download's reads
        // would otherwise be a gigabyte of buffers for the garbage collector.
        : net.connect({host: o.hostname, port: o.port, onread: {buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => {
          c.onData(Buffer.from(buf.buffer, buf.byteOffset, n), true)
          return true
        }}})
      socket.setNoDelay(true)
      const c: Connection = new Connection(socket, this, !tls)
      this.all.add(c)
      const timer = setTimeout(() => socket.destroy(netError(`no connection within ${o.connectTimeoutMs / 1000} s`, 'ETIMEDOUT')), o.connectTimeoutMs)
      const connected = () => {
        clearTimeout(timer)
        socket.off('error', failed)
        resolve(c)
      }
      const failed = (error: Error) => {
        clearTimeout(timer)
        this.forget(c)
        reject(error)
      }
      socket.once(o.protocol === 'https:' ? 'secureConnect' : 'connect', connected)
      socket.once('error', failed)
      if (o.protocol === 'https:') socket.on('session', (s: Buffer) => { this.session = s })
    })
  }

  /** A connection is done with its request: to the next waiting request, or idle. */
  release(c: Connection): void {
    if (c.closed) return this.forget(c)
    const next = this.waiting.shift()
    if (next) return next.go(c)
    c.park()
    this.idle.push(c)
  }

  /** A connection is gone: a waiting request gets a new socket. */
  forget(c: Connection): void {
    if (!this.all.delete(c)) return
    const i = this.idle.indexOf(c)
    if (i >= 0) this.idle.splice(i, 1)
    this.waiting.shift()?.go(undefined)
  }

  close(): void {
    this.closing = true
    for (const c of this.all) c.socket.destroy()
    this.all.clear()
    this.idle = []
    for (const w of this.waiting.splice(0)) w.go(undefined)
  }
}
