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
import {fileURLToPath} from 'node:url'
import {writeBenchSection} from './report.js'

const root = join(fileURLToPath(import.meta.url), '..', '..', '..')
const FILES = Number(process.env.BENCH_FILES ?? 20_000)

function redisInfo(port: number, field: string): number {
  const out = spawnSync('redis-cli', ['-p', String(port), 'info', 'memory'], {encoding: 'utf8'}).stdout
  return Number(new RegExp(`${field}:(\\d+)`).exec(out)?.[1] ?? 0)
}

async function main(): Promise<void> {
  const {startFauxqs, freePort} = (await import(join(root, 'scripts', 'fauxqs.js'))) as {
    startFauxqs(): Promise<{endpoint: string; stop(): Promise<void>}>; freePort(): Promise<number>}
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-w-'))
  for (let d = 0; d < 200; d++) {
    mkdirSync(join(work, 'src', `d${d}`), {recursive: true})
    for (let f = 0; f < FILES / 200; f++) writeFileSync(join(work, 'src', `d${d}`, `f${f}.bin`), randomBytes(4096))
  }
  const port = await freePort()
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'noeviction'], {stdio: 'ignore'})
  await new Promise(r => setTimeout(r, 500))
  const s3 = await startFauxqs()
  const redisUrl = `redis://127.0.0.1:${port}`
  const env = {...process.env, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: s3.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', REDIS_URL: ''}
  await fetch(`${s3.endpoint}/bench`, {method: 'PUT'})
  const rows: string[] = []
  try {
    for (const workers of [0, 1, 2]) {
      const procs = Array.from({length: workers}, () =>
        spawn(process.execPath, [join(root, 'bin', 'run.js'), 'worker', '--concurrency', '32', '--redis', redisUrl], {env, stdio: 'ignore'}))
      await new Promise(r => setTimeout(r, 2000))
      spawnSync('redis-cli', ['-p', String(port), 'config', 'resetstat'])
      let peak = redisInfo(port, 'used_memory')
      const sampler = setInterval(() => { peak = Math.max(peak, redisInfo(port, 'used_memory')) }, 100)
      const start = process.hrtime.bigint()
      const args = [join(root, 'bin', 'run.js'), 'upload', join(work, 'src'), `s3://bench/w${workers}`, '--quiet', '--thread-count', '32',
        ...(workers ? ['--redis', redisUrl] : [])]
      const r = await new Promise<number>(resolve => spawn(process.execPath, args, {env, stdio: 'inherit'}).on('close', c => resolve(c ?? 1)))
      const secs = Number(process.hrtime.bigint() - start) / 1e9
      clearInterval(sampler)
      for (const p of procs) p.kill('SIGTERM')
      await Promise.all(procs.map(p => new Promise(res => p.on('close', res))))
      const label = workers === 0 ? '(a) in-process, 32 slots' : `(${workers === 1 ? 'b' : 'c'}) BullMQ, ${workers} worker process${workers > 1 ? 'es' : ''} × 32`
      rows.push(`| ${label} | ${r === 0 ? Math.round(FILES / secs) : 'failed'} | ${workers ? `${(peak / 2 ** 20).toFixed(1)} MiB` : '—'} |`)
      process.stderr.write(`${rows.at(-1)}\n`)
    }
  } finally {
    await s3.stop()
    redis.kill()
    rmSync(work, {recursive: true, force: true})
  }
  const body = [
    '## Workers: in-process vs BullMQ (`npm run bench:workers`)',
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores, ${Math.round(totalmem() / 1024 ** 3)} GiB, ` +
      `Node ${process.version}; ${FILES} files of 4 KiB uploaded to fauxqs on the same machine; Redis on the same machine.`,
    '',
    '| mode | files/s | Redis memory peak |',
    '|---|---|---|',
    ...rows,
  ].join('\n')
  writeBenchSection('workers', body)
  process.stdout.write(`${body}\n`)
}

await main()
