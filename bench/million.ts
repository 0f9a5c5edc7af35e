/**
 * `npm run bench:million`: a million small files end to end with two workers (issue 24). One tree
 * of BENCH_MILLION_FILES (1,000,000) files of 0–100 bytes in folders of 1,000; a Redis started
 * here; fauxqs (or the server in S3C_TEST_S3_ENDPOINT); two `s3c worker`s on this machine with
 * default flags. Phases, each one whole CLI process with `--redis` and default flags:
 *   1. upload of the tree into an empty prefix;
 *   2. the same upload again with nothing changed (the sync state: listings only);
 *   3. download of the prefix into an empty folder (every file checked for by count).
 * Recorded: wall time, the CLI's peak RSS (GNU time), each worker's peak RSS over the whole bench
 * (the kernel's VmHWM, read before it stops), Redis' peak memory (INFO used_memory_peak) and commands.
 * Writes the "million" section of docs/BENCHMARKS.md (BENCH_DOC=0: not).
 *
 * Env: BENCH_MILLION_FILES (1000000), BENCH_DOC=0.
 */
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {startRedis, startS3} from '../test/harness/servers.js'
import {waitFor} from '../test/harness/wait.js'
import {clientEnvs, createBucket, machine, s3cBin, utcNow} from './clients.js'
import {writeBenchSection} from './report.js'
import {timed} from './timing.js'
import {countFiles, makeTree} from './trees.js'

const FILES = Number(process.env.BENCH_MILLION_FILES ?? 1_000_000)
const WORKERS = 2
const t0 = Date.now()
const log = (s: string) => process.stderr.write(`[bench:million +${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}\n`)
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`

function redisCli(url: string, ...args: string[]): string {
  return spawnSync('redis-cli', ['-u', url, ...args], {encoding: 'utf8'}).stdout ?? ''
}
const redisField = (url: string, section: string, field: string): number =>
  Number(new RegExp(`${field}:([\\d.]+)`).exec(redisCli(url, 'info', section))?.[1] ?? 0)

interface Phase {
  name: string
  seconds: number
  cliPeak: number
  redisPeak: number
  commands: number
}

async function main(): Promise<void> {
  const loadStart = loadavg()[0].toFixed(1)
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-million-'))
  const tree = join(work, 'tree')
  log(`making ${FILES.toLocaleString('en-US')} files`)
  makeTree(tree, FILES, 1000, i => (i * 37) % 101)
  const s3 = await startS3()
  const redis = await startRedis()
  const env = {...clientEnvs(s3, join(work, 'clients')).s3c, S3C_REDIS_URL: redis.url, S3C_STATE_DIR: join(work, 'state')}
  await createBucket(s3, 'million')
  const workers = Array.from({length: WORKERS}, () => {
    const child = spawn(process.execPath, [s3cBin, 'worker', '--root', work], {env, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', d => { stderr += d })
    return {child, ready: () => stderr.includes('s3c worker: ready')}
  })
  const phases: Phase[] = []
  let workerPeaks: number[] = []
  try {
    await waitFor(() => workers.every(w => w.ready()), 60_000)
    const phase = async (name: string, args: string[], check?: () => void) => {
      redisCli(redis.url, 'config', 'resetstat')
      redisCli(redis.url, 'memory', 'purge')
      const before = redisField(redis.url, 'memory', 'used_memory')
      log(`${name}…`)
      const r = await timed(process.execPath, [s3cBin, ...args, '-q'], {env, peakMemory: true, check: false})
      if (r.code !== 0) throw new Error(`${name} failed (${r.code}): ${r.stderr.slice(0, 500)}`)
      check?.()
      const commands = [...redisCli(redis.url, 'info', 'commandstats').matchAll(/calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0)
      phases.push({name, seconds: r.seconds, cliPeak: r.peakRssBytes ?? 0, commands,
        redisPeak: redisField(redis.url, 'memory', 'used_memory_peak') - before})
      log(`${name}: ${r.seconds.toFixed(1)} s, CLI ${mib(r.peakRssBytes ?? 0)}`)
    }
    await phase('upload', ['upload', tree, 's3://million/m/'])
    await phase('no-change upload', ['upload', tree, 's3://million/m/'])
    const dl = join(work, 'dl')
    await phase('download', ['download', 's3://million/m/', dl], () => {
      const n = countFiles(dl)
      if (n !== FILES) throw new Error(`download wrote ${n} files of ${FILES}`)
    })
  } finally {
    // The kernel's high-water mark of each worker's resident set, read before it stops.
    workerPeaks = workers.map(w => 1024 * Number(/VmHWM:\s*(\d+)/.exec(readFileSync(`/proc/${w.child.pid}/status`, 'utf8'))?.[1] ?? 0))
    for (const w of workers) w.child.kill('SIGTERM')
    await Promise.all(workers.map(w => w.child.exitCode === null ? new Promise(res => w.child.on('close', res)) : undefined))
    await redis.stop()
    await Promise.race([s3.stop(), new Promise(resolve => setTimeout(resolve, 5000))])
  }
  rmSync(work, {recursive: true, force: true})
  const body = [
    '## A million files, two workers (`npm run bench:million`)',
    '',
    `Run ${utcNow()} UTC on ${machine()} (load ${loadStart} at the start); ${FILES.toLocaleString('en-US')} files of 0–100 bytes in folders of 1,000; ` +
      `${s3.local ? 'fauxqs' : s3.endpoint}, Redis and ${WORKERS} \`s3c worker\`s (default flags) on the same machine; every phase one CLI process with \`--redis\`.`,
    '',
    '| phase | wall time | files/s | CLI peak RSS | Redis memory peak (above the start) | Redis commands | per file |',
    '|---|---|---|---|---|---|---|',
    ...phases.map(p => `| ${p.name} | ${p.seconds.toFixed(1)} s | ${(FILES / p.seconds).toFixed(0)} | ${mib(p.cliPeak)} | ${mib(p.redisPeak)} | ${p.commands.toLocaleString('en-US')} | ${(p.commands / FILES).toFixed(2)} |`),
    '',
    `Workers' peak RSS over the whole bench: ${workerPeaks.map(mib).join(', ')}.`,
  ].join('\n')
  writeBenchSection('million', body)
  process.stdout.write(`${body}\n`)
}

await main()
