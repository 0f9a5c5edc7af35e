/**
 * `npm run bench:workers`: s3c's distributed runs (BullMQ + `s3c worker`), against fauxqs and a
 * Redis started here. Sections (BENCH_WORKERS_SECTIONS, comma-separated, default all):
 *   remote:   1,000 × 4 KiB through the test harness's proxy at +100 ms per answer, with 1, 2 and
 *             4 workers of `--concurrency 2` (issue 24: 4 workers ≥ 3.2× one, fixed costs
 *             included). Few requests per worker and much distance, so this machine's CPU does
 *             not bound the run and the scaling of the workers themselves shows.
 *   fixed:    a 30-file `--redis` upload with one worker, on loopback: the fixed cost of a
 *             distributed run (enqueue, first job picked up, completion noticed).
 *   redis:    a 10,000-file upload with 2 workers: Redis commands (INFO commandstats) and memory
 *             (used_memory) per file, and jobs/s.
 *   loopback: 20,000 × 4 KiB in-process, with one worker and with two (files/s, Redis peak).
 * Writes the "workers" section of docs/BENCHMARKS.md (BENCH_DOC=0: not).
 *
 * Env: BENCH_FILES (loopback, 20000), BENCH_WORKERS_REMOTE_FILES (1000), BENCH_WORKERS_LATENCY_MS
 * (100), BENCH_WORKERS_ROUNDS (remote rounds, 1), BENCH_WORKERS_FIXED_ROUNDS (5),
 * BENCH_WORKERS_REDIS_FILES (10000).
 */
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {startProxy, type Proxy} from '../test/harness/proxy.js'
import {startRedis, startS3, type S3Env} from '../test/harness/servers.js'
import {waitFor} from '../test/harness/wait.js'
import {clientEnvs, createBucket, machine, s3cBin, utcNow} from './clients.js'
import {writeBenchSection} from './report.js'
import {median, timed} from './timing.js'
import {makeTree} from './trees.js'

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt)
const SECTIONS = (process.env.BENCH_WORKERS_SECTIONS ?? 'remote,fixed,redis,loopback').split(',')
const FILES = num('BENCH_FILES', 20_000)
const REMOTE_FILES = num('BENCH_WORKERS_REMOTE_FILES', 1000)
const LATENCY_MS = num('BENCH_WORKERS_LATENCY_MS', 100)
const ROUNDS = num('BENCH_WORKERS_ROUNDS', 1)
const FIXED_ROUNDS = num('BENCH_WORKERS_FIXED_ROUNDS', 5)
const REDIS_FILES = num('BENCH_WORKERS_REDIS_FILES', 10_000)

const t0 = Date.now()
const log = (s: string) => process.stderr.write(`[bench:workers +${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}\n`)

function redisCli(url: string, ...args: string[]): string {
  return spawnSync('redis-cli', ['-u', url, ...args], {encoding: 'utf8'}).stdout ?? ''
}

function redisInfo(url: string, field: string): number {
  return Number(new RegExp(`${field}:(\\d+)`).exec(redisCli(url, 'info', 'memory'))?.[1] ?? 0)
}

/** Redis' own CPU time so far (user + system seconds, INFO cpu). */
function redisCpu(url: string): number {
  const info = redisCli(url, 'info', 'cpu')
  const field = (f: string) => Number(new RegExp(`${f}:([\\d.]+)`).exec(info)?.[1] ?? 0)
  return field('used_cpu_user') + field('used_cpu_sys')
}

/** INFO commandstats as calls per command. */
function commandStats(url: string): Map<string, number> {
  const calls = new Map<string, number>()
  for (const m of redisCli(url, 'info', 'commandstats').matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) calls.set(m[1], Number(m[2]))
  return calls
}

interface Env {
  s3: S3Env
  redisUrl: string
  work: string
}

/** `s3c worker`s with their stderr kept: each says `s3c worker: ready` once it takes jobs. */
async function withWorkers<T>(env: NodeJS.ProcessEnv, redisUrl: string, n: number, args: string[], body: () => Promise<T>): Promise<T> {
  const started = Array.from({length: n}, () => {
    const child = spawn(s3cBin, ['worker', ...args, '--root', tmpdir(), '--redis', redisUrl], {env, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', d => { stderr += d })
    return {child, ready: () => stderr.includes('s3c worker: ready')}
  })
  try {
    await waitFor(() => started.every(w => w.ready()), 60_000)
    return await body()
  } finally {
    for (const w of started) w.child.kill('SIGTERM')
    await Promise.all(started.map(w => w.child.exitCode === null ? new Promise(res => w.child.on('close', res)) : undefined))
  }
}

let prefixSeq = 0
async function upload(env: NodeJS.ProcessEnv, from: string, extra: string[]): Promise<number> {
  const r = await timed(process.execPath, [s3cBin, 'upload', from, `s3://bench/p${prefixSeq++}/`, '--quiet', ...extra], {env, check: false})
  if (r.code !== 0) throw new Error(`upload failed (${r.code}): ${r.stderr}`)
  return r.seconds
}

async function remote(e: Env): Promise<string[]> {
  const proxy: Proxy = await startProxy(e.s3.endpoint)
  const env = clientEnvs(e.s3, join(e.work, 'clients-remote'), proxy.endpoint).s3c
  const tree = join(e.work, 'remote')
  makeTree(tree, REMOTE_FILES, 100, () => 4096)
  const times = new Map<number, number[]>()
  try {
    proxy.setFaults({latencyMs: LATENCY_MS})
    for (let round = 0; round < ROUNDS; round++) {
      for (const workers of [1, 2, 4]) {
        const seconds = await withWorkers(env, e.redisUrl, workers, ['--concurrency', '2'], () => upload(env, tree, ['--redis', e.redisUrl]))
        times.set(workers, [...(times.get(workers) ?? []), seconds])
        log(`remote: ${workers} worker(s) × --concurrency 2, +${LATENCY_MS} ms: ${seconds.toFixed(2)} s`)
      }
    }
  } finally {
    await proxy.stop()
  }
  const one = median(times.get(1)!)
  return [
    `### Workers at distance: ${REMOTE_FILES.toLocaleString('en-US')} × 4 KiB through +${LATENCY_MS} ms, \`--concurrency 2\` per worker`,
    '',
    '| workers | seconds per round | median | speed vs one worker |',
    '|---|---|---|---|',
    ...[1, 2, 4].map(w => `| ${w} | ${times.get(w)!.map(s => s.toFixed(2)).join(' · ')} | ${median(times.get(w)!).toFixed(2)} | ${(one / median(times.get(w)!)).toFixed(2)}× |`),
    '',
    `Goal (issue 24): 4 workers ≥ 3.2× one, fixed costs included: ${one / median(times.get(4)!) >= 3.2 ? 'met' : 'not met'}. ` +
      `The bound is ${LATENCY_MS} ms per request with 2 in flight per worker: ${Math.round(2000 / LATENCY_MS)} files/s per worker at most.`,
  ]
}

async function fixed(e: Env): Promise<string[]> {
  const env = clientEnvs(e.s3, join(e.work, 'clients-fixed')).s3c
  const tree = join(e.work, 'fixed')
  makeTree(tree, 30, 30, () => 4096)
  const inProcess: number[] = []
  const oneWorker = await withWorkers(env, e.redisUrl, 1, ['--concurrency', '16'], async () => {
    const seconds: number[] = []
    for (let round = 0; round < FIXED_ROUNDS; round++) {
      seconds.push(await upload(env, tree, ['--redis', e.redisUrl]))
      inProcess.push(await upload(env, tree, []))
    }
    return seconds
  })
  log(`fixed: 30 files with 1 worker: ${oneWorker.map(s => s.toFixed(2)).join(' · ')} s; in-process ${inProcess.map(s => s.toFixed(2)).join(' · ')} s`)
  return [
    '### Fixed cost of a distributed run: 30 × 4 KiB, one worker, loopback',
    '',
    '| run | seconds per round | median |',
    '|---|---|---|',
    `| \`--redis\`, 1 worker | ${oneWorker.map(s => s.toFixed(2)).join(' · ')} | ${median(oneWorker).toFixed(2)} |`,
    `| in-process (for reference) | ${inProcess.map(s => s.toFixed(2)).join(' · ')} | ${median(inProcess).toFixed(2)} |`,
  ]
}

async function redisCost(e: Env): Promise<string[]> {
  const env = clientEnvs(e.s3, join(e.work, 'clients-redis')).s3c
  const tree = join(e.work, 'redis')
  makeTree(tree, REDIS_FILES, 200, () => 4096)
  return withWorkers(env, e.redisUrl, 2, ['--concurrency', '32'], async () => {
    redisCli(e.redisUrl, 'config', 'resetstat')
    const memBefore = redisInfo(e.redisUrl, 'used_memory')
    const cpuBefore = redisCpu(e.redisUrl)
    let peak = memBefore
    const sampler = setInterval(() => { peak = Math.max(peak, redisInfo(e.redisUrl, 'used_memory')) }, 100)
    const seconds = await upload(env, tree, ['--redis', e.redisUrl])
    clearInterval(sampler)
    const cpu = redisCpu(e.redisUrl) - cpuBefore
    const stats = commandStats(e.redisUrl)
    const memAfter = redisInfo(e.redisUrl, 'used_memory')
    // The commands this bench's own sampling sent are not the run's.
    stats.delete('info')
    stats.delete('config|resetstat')
    stats.delete('config')
    const total = [...stats.values()].reduce((a, b) => a + b, 0)
    const top = [...stats].sort((a, b) => b[1] - a[1]).slice(0, 8)
    const jobs = Number(redisCli(e.redisUrl, 'scard', `s3c:run:${lastRunId(e.redisUrl)}:jobs`)) || undefined
    log(`redis: ${REDIS_FILES} files in ${seconds.toFixed(2)} s; ${total} commands (${(total / REDIS_FILES).toFixed(2)}/file); memory ${memBefore} → peak ${peak} → ${memAfter}`)
    return [
      `### Redis per file: ${REDIS_FILES.toLocaleString('en-US')} × 4 KiB, 2 workers × \`--concurrency 32\`, loopback`,
      '',
      `- ${seconds.toFixed(2)} s (${Math.round(REDIS_FILES / seconds)} files/s${jobs ? `, ${jobs} jobs` : ''}).`,
      `- Redis CPU: ${cpu.toFixed(2)} s${jobs ? `, ${(1000 * cpu / jobs).toFixed(2)} ms per job: one Redis core would take ~${Math.round(jobs / cpu)} jobs/s ` +
        `(~${Math.round(REDIS_FILES / cpu).toLocaleString('en-US')} small files/s in batches like these)` : ''} (the 100 ms sampling of INFO included).`,
      `- Redis commands: ${total.toLocaleString('en-US')} in all, ${(total / REDIS_FILES).toFixed(2)} per file; the most called: ` +
        top.map(([c, n]) => `${c} ${n.toLocaleString('en-US')}`).join(', ') + '.',
      `- Redis used_memory: ${(memBefore / 2 ** 20).toFixed(1)} MiB before, ${(peak / 2 ** 20).toFixed(1)} MiB at the peak (sampled every 100 ms), ` +
        `${(memAfter / 2 ** 20).toFixed(1)} MiB after: ${((memAfter - memBefore) / REDIS_FILES).toFixed(1)} bytes per file left (BullMQ's event stream, capped at 10,000 events whatever the run's size, and the run's hash and job-id sets), ` +
        `${((peak - memBefore) / REDIS_FILES).toFixed(0)} bytes per file at the peak.`,
    ]
  })
}

/** The id of the newest run (s3c:runs is a sorted set by creation time). */
function lastRunId(url: string): string {
  return redisCli(url, 'zrange', 's3c:runs', '-1', '-1').trim()
}

async function loopback(e: Env): Promise<string[]> {
  const env = clientEnvs(e.s3, join(e.work, 'clients-loopback')).s3c
  const tree = join(e.work, 'loopback')
  makeTree(tree, FILES, 100, () => 4096)
  const rows: string[] = []
  for (const workers of [0, 1, 2]) {
    const run = async () => {
      redisCli(e.redisUrl, 'config', 'resetstat')
      let peak = redisInfo(e.redisUrl, 'used_memory')
      const sampler = setInterval(() => { peak = Math.max(peak, redisInfo(e.redisUrl, 'used_memory')) }, 100)
      const seconds = await upload(env, tree, ['--thread-count', '32', ...(workers ? ['--redis', e.redisUrl] : [])])
      clearInterval(sampler)
      return {seconds, peak}
    }
    const r = workers ? await withWorkers(env, e.redisUrl, workers, ['--concurrency', '32'], run) : await run()
    const label = workers === 0 ? '(a) in-process, 32 slots' : `(${workers === 1 ? 'b' : 'c'}) BullMQ, ${workers} worker process${workers > 1 ? 'es' : ''} × 32`
    rows.push(`| ${label} | ${Math.round(FILES / r.seconds)} | ${workers ? `${(r.peak / 2 ** 20).toFixed(1)} MiB` : '—'} |`)
    log(rows.at(-1)!)
  }
  return [
    `### In-process vs BullMQ on loopback: ${FILES.toLocaleString('en-US')} × 4 KiB`,
    '',
    '| mode | files/s | Redis memory peak |',
    '|---|---|---|',
    ...rows,
  ]
}

async function main(): Promise<void> {
  const loadStart = loadavg()[0].toFixed(1)
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-w-'))
  const [s3, redis] = await Promise.all([startS3(), startRedis()])
  const e: Env = {s3, redisUrl: redis.url, work}
  const parts: string[][] = []
  try {
    await createBucket(s3, 'bench')
    const sections: Record<string, (e: Env) => Promise<string[]>> = {remote, fixed, redis: redisCost, loopback}
    for (const name of SECTIONS) {
      if (!sections[name]) throw new Error(`BENCH_WORKERS_SECTIONS: no section "${name}" (remote, fixed, redis, loopback)`)
      parts.push(await sections[name](e))
    }
  } finally {
    await Promise.all([s3.stop(), redis.stop()])
    rmSync(work, {recursive: true, force: true})
  }
  const body = [
    '## Workers (`npm run bench:workers`)',
    '',
    `Run ${utcNow()} UTC on ${machine()} (load ${loadStart} at the start, ${loadavg()[0].toFixed(1)} at the end); fauxqs and Redis on the same machine.`,
    ...parts.flatMap(p => ['', ...p]),
  ].join('\n')
  writeBenchSection('workers', body)
  process.stdout.write(`${body}\n`)
}

await main()
