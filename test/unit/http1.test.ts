import assert from 'node:assert/strict'
import net from 'node:net'
import {Http1Pool} from '../../src/s3/http1.js'

/*
 * The fast path's HTTP/1.1 client (src/s3/http1.ts) against a raw TCP server that answers as
 * the test says: every way an answer's body may end, answers cut into pieces, kept-alive sockets
 * counted, a socket the server closed while idle, a server that never answers.
 */

type Handler = (request: string, socket: net.Socket, n: number) => void

/** A server that reads each request's head (the tests' bodies are given by Content-Length) and lets `handler` answer. */
async function rawServer(handler: Handler): Promise<{port: number; connections: () => number; close: () => Promise<void>}> {
  let connections = 0
  let n = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let input = ''
    socket.on('data', data => {
      input += data.toString('latin1')
      for (;;) {
        const end = input.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = input.slice(0, end)
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        if (input.length < end + 4 + length) return
        const request = input.slice(0, end + 4 + length)
        input = input.slice(end + 4 + length)
        handler(request, socket, n++)
      }
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as net.AddressInfo
  return {
    port, connections: () => connections,
    close: () => new Promise<void>(resolve => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}

const pool = (port: number, opts: {maxSockets?: number; idleTimeoutMs?: number} = {}) =>
  new Http1Pool({protocol: 'http:', hostname: '127.0.0.1', port, maxSockets: opts.maxSockets ?? 4, idleTimeoutMs: opts.idleTimeoutMs ?? 10_000, connectTimeoutMs: 5_000})

/** Writes `text` a few bytes at a time, as a slow network would deliver it. */
async function trickle(socket: net.Socket, text: string, step = 3): Promise<void> {
  for (let i = 0; i < text.length; i += step) {
    socket.write(text.slice(i, i + step), 'latin1')
    await new Promise(resolve => setTimeout(resolve, 1))
  }
}

describe('the fast path\'s HTTP/1.1 client', function () {
  it('reads bodies by Content-Length, chunked (with extensions and a trailer), and to the close; HEAD and 204 have none', async function () {
    const server = await rawServer((request, socket) => {
      const path = request.split(' ')[1]
      if (path === '/length') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Amz-Meta-A: 1\r\nx-amz-meta-a: 2\r\n\r\nhello')
      if (path === '/chunked') socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n')
      if (path === '/close') socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end')
      if (path === '/head') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n')
      if (path === '/204') socket.write('HTTP/1.1 204 No Content\r\n\r\n')
      if (path === '/continue') socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    })
    const p = pool(server.port)
    try {
      const a = await p.request('GET', '/length', {host: 'x'})
      assert.deepEqual([a.status, a.body.toString(), a.headers['x-amz-meta-a']], [200, 'hello', '1, 2'])
      assert.equal((await p.request('GET', '/chunked', {host: 'x'})).body.toString(), 'hello world')
      assert.equal((await p.request('GET', '/close', {host: 'x'})).body.toString(), 'until the end')
      const head = await p.request('HEAD', '/head', {host: 'x'})
      assert.deepEqual([head.body.length, head.headers['content-length']], [0, '1234'])
      assert.equal((await p.request('GET', '/204', {host: 'x'})).status, 204)
      assert.equal((await p.request('GET', '/continue', {host: 'x'})).body.toString(), 'ok')
      // The same socket served every answer but the one that closed it: one connection before it, one after.
      assert.equal(server.connections(), 2)
    } finally {
      p.close()
      await server.close()
    }
  })

  it('reads answers that come a few bytes at a time, and sends the request\'s head and body', async function () {
    let seen = ''
    const server = await rawServer((request, socket) => {
      seen = request
      void trickle(socket, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n')
    })
    const p = pool(server.port)
    try {
      const a = await p.request('PUT', '/b/k', {host: 'h', 'content-length': '4'}, Buffer.from('body'))
      assert.equal(a.body.toString(), 'abc0123456789abcdef')
      assert.equal(seen, 'PUT /b/k HTTP/1.1\r\nhost: h\r\ncontent-length: 4\r\n\r\nbody')
    } finally {
      p.close()
      await server.close()
    }
  })

  it('keeps at most maxSockets sockets, and reuses them', async function () {
    let open = 0
    let most = 0
    const server = await rawServer((_request, socket) => {
      open++
      most = Math.max(most, open)
      setTimeout(() => {
        open--
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
      }, 2)
    })
    const p = pool(server.port, {maxSockets: 3})
    try {
      await Promise.all(Array.from({length: 30}, () => p.request('GET', '/x', {host: 'x'})))
      assert.equal(server.connections(), 3)
      assert.equal(most, 3)
    } finally {
      p.close()
      await server.close()
    }
  })

  it('a kept-alive socket the server closed is replaced once, without a failure; a fresh socket that closes fails with ECONNRESET', async function () {
    const server = await rawServer((_request, socket, n) => {
      // The second request finds its socket closed (as a server's keep-alive timeout does, racing the client).
      if (n === 1) socket.destroy()
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    })
    const p = pool(server.port, {maxSockets: 1})
    try {
      assert.equal((await p.request('GET', '/1', {host: 'x'})).body.toString(), 'ok')
      assert.equal((await p.request('GET', '/2', {host: 'x'})).body.toString(), 'ok')
      assert.equal(server.connections(), 2)
    } finally {
      p.close()
      await server.close()
    }
    const closing = await rawServer((_request, socket) => socket.destroy())
    const q = pool(closing.port)
    try {
      await assert.rejects(q.request('GET', '/', {host: 'x'}), (e: {code?: string}) => e.code === 'ECONNRESET')
    } finally {
      q.close()
      await closing.close()
    }
  })

  it('a server that does not answer: ETIMEDOUT after the idle timeout; an abort ends the request', async function () {
    const server = await rawServer(() => undefined)
    const p = pool(server.port, {idleTimeoutMs: 200})
    try {
      await assert.rejects(p.request('GET', '/', {host: 'x'}), (e: {code?: string}) => e.code === 'ETIMEDOUT')
      const ac = new AbortController()
      const asked = p.request('GET', '/', {host: 'x'}, undefined, ac.signal)
      setTimeout(() => ac.abort(), 20)
      await assert.rejects(asked, (e: {name?: string}) => e.name === 'AbortError')
    } finally {
      p.close()
      await server.close()
    }
  })

  it('refuses a header value with CR or LF and a path with a space (nothing is sent)', async function () {
    const server = await rawServer((_request, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))
    const p = pool(server.port)
    try {
      await assert.rejects(p.request('GET', '/', {host: 'x', 'x-amz-meta-a': 'v\r\nx-evil: 1'}), (e: {code?: string}) => e.code === 'ERR_INVALID_CHAR')
      await assert.rejects(p.request('GET', '/a b', {host: 'x'}), (e: {code?: string}) => e.code === 'ERR_UNESCAPED_CHARACTERS')
      assert.equal(server.connections(), 0)
    } finally {
      p.close()
      await server.close()
    }
  })

  it('a malformed answer fails the request (EPROTO) and its socket is not reused', async function () {
    const server = await rawServer((request, socket) => {
      if (request.startsWith('GET /bad')) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    })
    const p = pool(server.port, {maxSockets: 1})
    try {
      await assert.rejects(p.request('GET', '/bad', {host: 'x'}), (e: {code?: string}) => e.code === 'EPROTO')
      assert.equal((await p.request('GET', '/good', {host: 'x'})).body.toString(), 'ok')
      assert.equal(server.connections(), 2)
    } finally {
      p.close()
      await server.close()
    }
  })
})
