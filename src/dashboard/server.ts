import {createServer, type Server} from 'node:http'
import {isIP, type AddressInfo, type Socket} from 'node:net'
import {hostname, networkInterfaces} from 'node:os'
import {createBullBoard} from '@bull-board/api'
import {BullMQAdapter} from '@bull-board/api/bullMQAdapter'
import {ExpressAdapter} from '@bull-board/express'
import {Queue} from 'bullmq'
import express, {type ErrorRequestHandler, type RequestHandler} from 'express'
import {ExitCode, S3cError} from '../base/errors.js'
import {QUEUE_NAME, checkRedis, connectRedis, redactUrl} from '../run/redis.js'
import {recentRuns, workersConnected} from '../run/status.js'
import {basicAuth, type BasicAuth} from './auth.js'
import {METRICS_CONTENT_TYPE, QUEUE_STATES, renderMetrics} from './metrics.js'
import {renderRunsPage} from './page.js'
import {RunRates} from './rates.js'

export interface DashboardOptions {
  redisUrl: string
  /** 0: any free port (the URL tells which). */
  port: number
  host: string
  auth?: BasicAuth
  /** bull-board without its mutating actions, and 403 to any non-GET/HEAD request under /queues. */
  readOnly?: boolean
  /** How many recent runs the page, /api/runs and /metrics show. */
  runs?: number
  /** One line when the Redis connection is lost and when it is back (else silent). */
  onWarning?: (line: string) => void
  /** More names the dashboard answers to in the Host header (a reverse proxy's): `name` (any port) or `name:port`. */
  allowedHosts?: string[]
}

export interface Dashboard {
  /** http://HOST:PORT/ */
  url: string
  close(): Promise<void>
}

/** Where bull-board is mounted. */
export const QUEUES_PATH = '/queues'

/** Answers 403 to anything but GET and HEAD (bull-board's API mutates with PUT, POST, PATCH). */
const readOnlyGuard: RequestHandler = (req, res, next) => {
  if (req.method === 'GET' || req.method === 'HEAD') return next()
  res.status(403).type('text/plain').send('read-only dashboard: only GET and HEAD are allowed\n')
}

/** `Host` (or an origin's host) split into a lower-case name and port; IPv6 names keep their brackets. */
function splitHost(value: string): {name: string; port?: string} {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(value.trim().toLowerCase())
  return m ? {name: m[1], port: m[2] || undefined} : {name: value.trim().toLowerCase()}
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]']
const isLoopback = (host: string) => /^(127\.|::1$|\[::1\]$|localhost$)/i.test(host)
const asName = (address: string) => (isIP(address) === 6 ? `[${address}]` : address).toLowerCase()

/**
 * The names the dashboard answers to: those of the address it is bound to (loopback names for
 * 127.0.0.1; every interface address and the machine's name for 0.0.0.0 / ::) plus
 * --allowed-host. A page on another site whose name an attacker points at this address (DNS
 * rebinding) sends its own name in Host, and is refused.
 */
function allowedHostCheck(bound: string, extra: string[]): (host: string | undefined) => boolean {
  const names = new Set<string>()
  const exact = new Set<string>()
  if (isLoopback(bound)) LOOPBACK_NAMES.forEach(n => names.add(n))
  if (bound === '0.0.0.0' || bound === '::' || bound === '[::]') {
    LOOPBACK_NAMES.forEach(n => names.add(n))
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) names.add(asName(i.address))
    names.add(hostname().toLowerCase())
  } else {
    names.add(asName(bound.replace(/^\[|\]$/g, '')))
    if (!isLoopback(bound)) names.add(hostname().toLowerCase())
  }
  for (const e of extra) {
    const {name, port} = splitHost(e)
    if (port) exact.add(`${name}:${port}`)
    else names.add(name)
  }
  return host => {
    if (!host) return false
    const {name, port} = splitHost(host)
    return names.has(name) || exact.has(`${name}:${port ?? ''}`)
  }
}

/**
 * Every write must come from the dashboard's own pages: its Origin (or, without one, its
 * Referer) must be the host the request was sent to. Browsers send Origin on every write, so
 * bull-board works; a page on another site, or a request that says nothing, is refused.
 */
const sameOriginWrites: RequestHandler = (req, res, next) => {
  if (req.method === 'GET' || req.method === 'HEAD') return next()
  const from = req.headers.origin ?? req.headers.referer
  let host: string | undefined
  try { host = from ? new URL(from).host : undefined } catch { /* "null" or garbage: refused below */ }
  if (host && req.headers.host && host.toLowerCase() === req.headers.host.toLowerCase()) return next()
  res.status(403).type('text/plain').send(from ? 'cross-origin request refused\n' : 'write refused: no Origin header (send Origin: the dashboard\'s URL)\n')
}

/**
 * Serves bull-board for the s3c queue at /queues, the runs page at /, /api/runs (JSON) and
 * /metrics (Prometheus text). Refuses a Redis that is unreachable or may evict keys.
 */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const limit = opts.runs ?? 20
  const readOnly = !!opts.readOnly
  const redis = connectRedis(opts.redisUrl)
  // Later connection trouble shows as 503s and one line each way, not as ioredis' and BullMQ's error logs.
  let lastRedisError = ''
  const onRedisError = (e: Error) => {
    const why = (e as {code?: string}).code ?? e.message.split('\n')[0]
    if (!lastRedisError) opts.onWarning?.(`s3c dashboard: lost Redis at ${redactUrl(opts.redisUrl)} (${why}); reconnecting`)
    lastRedisError = why
  }
  try {
    await checkRedis(redis, opts.redisUrl)
  } catch (error) {
    redis.disconnect()
    throw error
  }
  redis.on('error', onRedisError)
  redis.on('ready', () => {
    if (lastRedisError) opts.onWarning?.('s3c dashboard: Redis is back')
    lastRedisError = ''
  })

  const queue = new Queue(QUEUE_NAME, {connection: redis})
  queue.on('error', () => undefined) // the same connection errors, already reported above
  const board = new ExpressAdapter()
  board.setBasePath(QUEUES_PATH)
  createBullBoard({
    queues: [new BullMQAdapter(queue, {readOnlyMode: readOnly, allowRetries: !readOnly, description: 's3c jobs (one BullMQ queue; the job name is the kind)'})],
    serverAdapter: board,
    options: {uiConfig: {boardTitle: readOnly ? 's3c dashboard (read-only)' : 's3c dashboard', miscLinks: [{text: 'Runs', url: '/'}]}},
  })

  const jobCounts = async () => (await queue.getJobCounts(...QUEUE_STATES)) as Record<string, number>
  const workers = () => workersConnected(queue)
  const rates = new RunRates()
  /** The recent runs, each read also a sample of the running ones' counters (the current rate). */
  const readRuns = async () => {
    const runs = await recentRuns(redis, limit)
    rates.sample(runs, Date.now())
    return runs
  }

  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)
  app.use((_req, res, next) => {
    res.set({'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer'})
    next()
  })
  const hostAllowed = allowedHostCheck(opts.host, opts.allowedHosts ?? [])
  app.use((req, res, next) => {
    if (hostAllowed(req.headers.host)) return next()
    res.status(403).type('text/plain').send('host not allowed: open the dashboard by the address it listens on, or add this name with --allowed-host\n')
  })
  if (opts.auth) app.use(basicAuth(opts.auth))
  app.use(sameOriginWrites)
  // Commands would wait in ioredis' queue until Redis is back (maxRetriesPerRequest: null): answer now.
  app.use((_req, res, next) => {
    if (redis.status === 'ready') return next()
    res.status(503).set('Retry-After', '2').type('text/plain').send(`s3c dashboard: Redis is unavailable (${lastRedisError || redis.status})\n`)
  })
  if (readOnly) app.use(QUEUES_PATH, readOnlyGuard)
  app.use(QUEUES_PATH, board.getRouter())

  app.get('/', async (_req, res) => {
    const [runs, counts, n] = await Promise.all([readRuns(), jobCounts(), workers()])
    res.set('Cache-Control', 'no-store').type('html').send(renderRunsPage(runs, counts, {readOnly, workers: n, views: rates.views(runs, Date.now())}))
  })
  app.get('/api/runs', async (_req, res) => {
    const runs = await readRuns()
    const views = rates.views(runs, Date.now())
    res.set('Cache-Control', 'no-store').json(runs.map(({failures, ...r}) => ({...r, failures: failures.slice(0, 20), failuresTotal: failures.length, progress: views.get(r.runId)})))
  })
  app.get('/metrics', async (_req, res) => {
    const [runs, counts, paused, n] = await Promise.all([readRuns(), jobCounts(), queue.isPaused(), workers()])
    // Not res.send(): express would rewrite the type as "text/plain; charset=utf-8; version=0.0.4".
    res.status(200).setHeader('Cache-Control', 'no-store')
    res.setHeader('Content-Type', METRICS_CONTENT_TYPE)
    res.end(renderMetrics(counts, paused, runs, n))
  })
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const message = String((error as Error)?.message ?? error).split('\n')[0]
    if (!res.headersSent) res.status(503).type('text/plain').send(`s3c dashboard: ${lastRedisError ? `Redis: ${lastRedisError}` : message}\n`)
  }
  app.use(onError)

  const server: Server = createServer(app)
  const sockets = new Set<Socket>()
  server.on('connection', s => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve() })
    })
  } catch (error) {
    await queue.close().catch(() => undefined)
    redis.disconnect()
    const code = (error as {code?: string}).code
    throw new S3cError(code === 'EADDRINUSE' ? `port ${opts.port} on ${opts.host} is in use: pick another with --port`
      : `cannot listen on ${opts.host}:${opts.port} (${code ?? (error as Error).message}): check --host / --port`, ExitCode.usage)
  }
  const {port} = server.address() as AddressInfo
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host

  let closing: Promise<void> | undefined
  return {
    url: `http://${host}:${port}/`,
    close: () => closing ??= (async () => {
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
      await queue.close().catch(() => undefined)
      redis.disconnect()
    })(),
  }
}
