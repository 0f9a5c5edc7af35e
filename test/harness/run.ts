import type {ChildProcess} from 'node:child_process'
import {spawnCli, type CliOptions, type CliResult} from './cli.js'
import {harness} from './hooks.js'
import {startProxy, type Proxy, type ProxyOptions} from './proxy.js'
import {waitFor} from './wait.js'

/**
 * Runs the CLI and kills it if it has not exited within `ms`: the assertion is that it exits at
 * all (a hang fails the test with what it printed, instead of stalling the suite).
 */
export function runCliWithin(args: string[], opts: CliOptions = {}, ms = 60_000): Promise<CliResult & {timedOut: boolean}> {
  return within(spawnCli(args, opts), ms)
}

/** Waits for a spawned CLI, killing it after `ms` (see runCliWithin). */
export async function within(p: {child: ChildProcess; done: Promise<CliResult>}, ms = 60_000): Promise<CliResult & {timedOut: boolean}> {
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; p.child.kill('SIGKILL') }, ms)
  try {
    return {...(await p.done), timedOut}
  } finally {
    clearTimeout(timer)
  }
}

/** `s3c worker` against the harness' Redis, its S3 requests to `endpoint`. */
export function startWorker(endpoint: string, extra: string[] = []) {
  return spawnCli(['worker', '--concurrency', '16', '--stalled-seconds', '2', ...extra], {env: {AWS_ENDPOINT_URL: endpoint, S3C_REDIS_URL: harness().redis.url}})
}

export interface WorkerOptions {
  /** The worker's flags (default: `--concurrency 16 --stalled-seconds 2`, as startWorker). */
  args?: string[]
  /** More environment for the worker (its Redis and S3 endpoint are set). */
  env?: Record<string, string>
  /** A harness proxy in front of the S3 server with these options, shared by the workers: their requests (and the test's, through `proxy.endpoint`) go through it. */
  proxy?: ProxyOptions
  /** Instead: one proxy per worker (its options by the worker's index), so each request says whose it is. */
  proxyEach?: (worker: number) => ProxyOptions
  /** Where the workers' requests go without a proxy (default: the harness's S3 server). */
  endpoint?: string
  /** Waits until every worker says it is ready before the body runs. */
  ready?: boolean
}

/** A running `s3c worker`, and the proxy its requests go through (if one was asked for). */
export interface RunningWorker {
  child: ChildProcess
  done: Promise<CliResult>
  /** What it has printed on stderr so far. */
  stderr(): string
  ready(): boolean
  proxy?: Proxy
  /** Its S3 endpoint and Redis, as environment for the test's commands (to go through its proxy). */
  env: {AWS_ENDPOINT_URL: string; S3C_REDIS_URL: string}
}

type WithProxy<O extends WorkerOptions> = O extends {proxy: ProxyOptions} | {proxyEach: (worker: number) => ProxyOptions} ? {proxy: Proxy} : unknown

/**
 * Starts `n` workers (and the proxies asked for), runs `fn`, and always stops what it started,
 * even when `fn` throws: each worker with SIGTERM (one the test killed already is only awaited),
 * then the proxies. After it returns, every worker's `done` holds what it printed and its exit.
 */
export async function withWorkers<O extends WorkerOptions, T>(n: number, opts: O, fn: (workers: (RunningWorker & WithProxy<O>)[]) => Promise<T>): Promise<T> {
  const workers: RunningWorker[] = []
  const proxies: Proxy[] = []
  const started = async (options: ProxyOptions) => {
    const proxy = await startProxy(harness().s3.endpoint, options)
    proxies.push(proxy)
    return proxy
  }
  try {
    const shared = opts.proxy ? await started(opts.proxy) : undefined
    for (let i = 0; i < n; i++) {
      const proxy = opts.proxyEach ? await started(opts.proxyEach(i)) : shared
      const endpoint = proxy?.endpoint ?? opts.endpoint ?? harness().s3.endpoint
      const env = {AWS_ENDPOINT_URL: endpoint, S3C_REDIS_URL: harness().redis.url}
      const w = spawnCli(['worker', ...(opts.args ?? ['--concurrency', '16', '--stalled-seconds', '2'])], {env: {...env, ...opts.env}})
      let stderr = ''
      w.child.stderr!.on('data', d => { stderr += d })
      workers.push({...w, proxy, env, stderr: () => stderr, ready: () => stderr.includes('s3c worker: ready')})
    }
    if (opts.ready) await waitFor(() => workers.every(w => w.ready()))
    return await fn(workers as (RunningWorker & WithProxy<O>)[])
  } finally {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM')
    await Promise.all(workers.map(w => w.done))
    await Promise.all(proxies.map(p => p.stop()))
  }
}

/** withWorkers with one worker. */
export function withWorker<O extends WorkerOptions, T>(opts: O, fn: (worker: RunningWorker & WithProxy<O>) => Promise<T>): Promise<T> {
  return withWorkers(1, opts, workers => fn(workers[0]))
}

/** The run id a command printed on stderr ("run ID" or "resuming run ID"). */
export function runIdOf(stderr: string): string {
  const m = /(?:^|\n)(?:resuming )?run (\d{8}-[0-9a-f]{8})/.exec(stderr)
  if (!m) throw new Error(`no run id in: ${stderr}`)
  return m[1]
}
