/**
 * `npm run bench:workers`: 20,000 × 4 KiB uploaded (a) in-process, (b) through BullMQ with one
 * `s3c worker`, (c) with two, against the same fauxqs and Redis in one run. Writes the
 * "Workers" section of docs/BENCHMARKS.md (files/s and Redis memory peak).
 */
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'
import {startRedis, startS3} from '../test/harness/servers.js'
import {waitFor} from '../test/harness/wait.js'
import {clientEnvs, createBucket, s3cBin, utcNow} from './clients.js'
import {writeBenchSection} from './report.js'
import {timed} from './timing.js'

const FILES = Number(process.env.BENCH_FILES ?? 20_000)

function redisCli(url: string, ...args: string[]): string {
  return spawnSync('redis-cli', ['-u', url, ...args], {encoding: 'utf8'}).stdout ?? ''
}

function redisInfo(url: string, field: string): number {
  return Number(new RegExp(`${field}:(\\d+)`).exec(redisCli(url, 'info', 'memory'))?.[1] ?? 0)
}

/** `s3c worker` with its stderr kept: it says `s3c worker: ready` once it takes jobs. */
function startWorker(env: NodeJS.ProcessEnv, redisUrl: string) {
  const child = spawn(s3cBin, ['worker', '--concurrency', '32', '--redis', redisUrl], {env, stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr.on('data', d => { stderr += d })
  return {child, ready: () => stderr.includes('s3c worker: ready')}
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-w-'))
  for (let d = 0; d < 200; d++) {
    mkdirSync(join(work, 'src', `d${d}`), {recursive: true})
    for (let f = 0; f < FILES / 200; f++) writeFileSync(join(work, 'src', `d${d}`, `f${f}.bin`), randomBytes(4096))
  }
  const [s3, redis] = await Promise.all([startS3(), startRedis()])
  const redisUrl = redis.url
  const env = clientEnvs(s3, join(work, 'clients')).s3c
  await createBucket(s3, 'bench')
  const rows: string[] = []
  try {
    for (const workers of [0, 1, 2]) {
      const started = Array.from({length: workers}, () => startWorker(env, redisUrl))
      await waitFor(() => started.every(w => w.ready()), 60_000)
      const procs = started.map(w => w.child)
      redisCli(redisUrl, 'config', 'resetstat')
      let peak = redisInfo(redisUrl, 'used_memory')
      const sampler = setInterval(() => { peak = Math.max(peak, redisInfo(redisUrl, 'used_memory')) }, 100)
      const args = [s3cBin, 'upload', join(work, 'src'), `s3://bench/w${workers}`, '--quiet', '--thread-count', '32',
        ...(workers ? ['--redis', redisUrl] : [])]
      const r = await timed(process.execPath, args, {env, check: false})
      process.stderr.write(r.stderr)
      clearInterval(sampler)
      for (const p of procs) p.kill('SIGTERM')
      await Promise.all(procs.map(p => new Promise(res => p.on('close', res))))
      const label = workers === 0 ? '(a) in-process, 32 slots' : `(${workers === 1 ? 'b' : 'c'}) BullMQ, ${workers} worker process${workers > 1 ? 'es' : ''} × 32`
      rows.push(`| ${label} | ${r.code === 0 ? Math.round(FILES / r.seconds) : 'failed'} | ${workers ? `${(peak / 2 ** 20).toFixed(1)} MiB` : '—'} |`)
      process.stderr.write(`${rows.at(-1)}\n`)
    }
  } finally {
    await Promise.all([s3.stop(), redis.stop()])
    rmSync(work, {recursive: true, force: true})
  }
  const body = [
    '## Workers: in-process vs BullMQ (`npm run bench:workers`)',
    '',
    `Run ${utcNow()} UTC on ${cpus().length} cores, ${Math.round(totalmem() / 1024 ** 3)} GiB, ` +
      `Node ${process.version}; ${FILES} files of 4 KiB uploaded to ${s3.local ? 'fauxqs' : s3.endpoint} on the same machine; Redis on the same machine.`,
    '',
    '| mode | files/s | Redis memory peak |',
    '|---|---|---|',
    ...rows,
  ].join('\n')
  writeBenchSection('workers', body)
  process.stdout.write(`${body}\n`)
}

await main()
