/**
 * `npm run bench:remote`: s3c at distance (issue 24). The test harness's proxy in front of fauxqs
 * (or the server in S3C_TEST_S3_ENDPOINT) adds +30 ms to every answer, as a remote region does;
 * the same proxy at 0 ms is the baseline, so the proxy's own cost is in both. In one run, rounds
 * interleaved:
 *   1. 3,000 × 4 KiB upload and download: s3c with default flags at 0 ms and at +30 ms, s3c
 *      `--thread-count 32` (the old fixed default), rclone `--transfers 32 --checkers 32` and
 *      rclone's defaults, and the AWS CLI (max_concurrent_requests 32, one round);
 *   2. the no-change re-run of that upload at +30 ms, s3c against rclone.
 * Listing 100,000 keys through +30 ms is bench:scale's section 5; workers at +100 ms are below.
 * Writes the "remote" section of docs/BENCHMARKS.md with the issue's goals (goal vs measured).
 *
 * Section "large" (BENCH_REMOTE_SECTIONS=large): one file of BENCH_REMOTE_LARGE_MIB (1024) up and
 * down through +30 ms, s3c with default flags against rclone (its defaults, and 16 MiB chunks with 8
 * streams each way as bench:mirror runs it). fauxqs takes no such file: run it with
 * S3C_TEST_S3_ENDPOINT at Ceph RGW (keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). Writes
 * the "remote-large" section.
 *
 * Rounds: the goal's own numbers (s3c with default flags at 0 ms and at +30 ms, rclone --transfers 32)
 * take BENCH_REMOTE_ROUNDS (5): on this 2-core machine one round of a 2 s run swings ±30 % with the
 * load, and a median of two is a mean of two. The reference rows (s3c --thread-count 32, rclone's
 * defaults: ~80 s a round at +30 ms, the AWS CLI) run fewer.
 *
 * Env: BENCH_REMOTE_SECTIONS ("small"; "small,large"), BENCH_REMOTE_FILES (3000), BENCH_REMOTE_ROUNDS (5),
 * BENCH_REMOTE_LATENCY_MS (30), BENCH_REMOTE_LARGE_MIB (1024), BENCH_REMOTE_LARGE_ROUNDS (5), BENCH_REMOTE_LARGE_TIMEOUT_S (300),
 * BENCH_RGW_CONF (DIR/ceph.conf of ceph-rgw.sh's RGW: without it, rounds × 3 GiB must fit the server), BENCH_DOC=0.
 */
import {execFileSync} from 'node:child_process'
import {closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {startProxy} from '../test/harness/proxy.js'
import {projectRoot as root, startS3} from '../test/harness/servers.js'
import {awsCli, RCLONE, clientEnvs, createBucket, machine, rcloneUrl, s3cBin, toolVersion, utcNow, type ClientEnvs} from './clients.js'
import {writeBenchSection} from './report.js'
import {countFiles, makeTree} from './trees.js'
import {median, timed} from './timing.js'

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt)
const FILES = num('BENCH_REMOTE_FILES', 3000)
const ROUNDS = num('BENCH_REMOTE_ROUNDS', 5)
const LATENCY_MS = num('BENCH_REMOTE_LATENCY_MS', 30)
const BUCKET = 'remote'
const SECTIONS = (process.env.BENCH_REMOTE_SECTIONS ?? 'small').split(',')
const LARGE_MIB = num('BENCH_REMOTE_LARGE_MIB', 1024)
const LARGE_ROUNDS = num('BENCH_REMOTE_LARGE_ROUNDS', 5)
/** A large-file run killed after this long is counted as timed out, not as a rate. */
const LARGE_TIMEOUT_S = num('BENCH_REMOTE_LARGE_TIMEOUT_S', 300)
/** The ceph.conf of a local RGW (ceph-rgw.sh's DIR/ceph.conf): the large section empties its garbage after each upload. */
const RGW_CONF = process.env.BENCH_RGW_CONF

const t0 = Date.now()
const log = (s: string) => process.stderr.write(`[bench:remote +${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}\n`)

interface Client {
  name: string
  /** The command moving `from` to `to` (an s3:// URL on one side). */
  cmd(from: string, to: string, envs: ClientEnvs): [string, string[], NodeJS.ProcessEnv]
  /** Rounds it runs at most (reference rows, slow ones once); the goal's rows run ROUNDS. */
  rounds?: number
}

const s3c = (extra: string[]): Client['cmd'] => (from, to, envs) =>
  [s3cBin, [from.startsWith('s3://') ? 'download' : 'upload', from, to, '-q', '--json', ...extra], envs.s3c]
const CLIENTS: Client[] = [
  {name: 's3c (default flags)', cmd: s3c([])},
  {name: 's3c --thread-count 32', rounds: 2, cmd: s3c(['--thread-count', '32'])},
  {name: 'rclone --transfers 32 --checkers 32', cmd: (from, to, envs) => [RCLONE, ['copy', rcloneUrl(from), rcloneUrl(to), '--transfers', '32', '--checkers', '32'], envs.rclone]},
  {name: 'rclone (defaults: 4 transfers, 8 checkers)', rounds: 1, cmd: (from, to, envs) => [RCLONE, ['copy', rcloneUrl(from), rcloneUrl(to)], envs.rclone]},
  {name: 'awscli (32 concurrent requests)', rounds: 1,
    cmd: (from, to, envs) => [awsCli(), ['s3', 'cp', '--recursive', '--only-show-errors', '--endpoint-url', envs.endpoint, from, to], envs.aws]},
]

interface Row {
  client: string
  latencyMs: number
  direction: 'upload' | 'download' | 'no-change upload'
  rates: number[]
  /** s3c without --thread-count: the limit it reached (its --json summary). */
  peaks: number[]
}

async function main(): Promise<void> {
  if (SECTIONS.includes('small')) await small()
  if (SECTIONS.includes('large')) await large()
}

/** One large file up and down at +LATENCY_MS: MiB/s per round, s3c's defaults against rclone's. */
async function large(): Promise<void> {
  const loadStart = loadavg()[0].toFixed(1)
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-remote-large-'))
  const server = await startS3()
  const proxy = await startProxy(server.endpoint)
  const envs = clientEnvs(server, join(work, 'clients'), proxy.endpoint)
  const src = join(work, 'src')
  mkdirSync(src)
  const file = join(src, 'large.bin')
  const fd = openSync(file, 'w')
  const chunk = randomBytes(16 << 20)
  for (let off = 0; off < LARGE_MIB << 20; off += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, (LARGE_MIB << 20) - off))
  closeSync(fd)
  const tuned = ['--s3-chunk-size', '16M', '--s3-upload-concurrency', '8', '--multi-thread-streams', '8']
  const clients: {name: string; cmd: (from: string, to: string) => [string, string[], NodeJS.ProcessEnv]}[] = [
    {name: 's3c (default flags)', cmd: (from, to) => [s3cBin, [from.startsWith('s3://') ? 'download' : 'upload', from, to, '-q'], envs.s3c]},
    {name: 'rclone (defaults)', cmd: (from, to) => [RCLONE, ['copy', rcloneUrl(from), rcloneUrl(to)], envs.rclone]},
    {name: 'rclone, 16 MiB chunks, 8 streams each way', cmd: (from, to) => [RCLONE, ['copy', rcloneUrl(from), rcloneUrl(to), ...tuned], envs.rclone]},
  ]
  const rates = new Map<string, number[]>()
  const timeouts = new Map<string, number>()
  const run = async (name: string, c: [string, string[], NodeJS.ProcessEnv]) => {
    const t = await timed(c[0], c[1], {env: c[2], timeoutSeconds: LARGE_TIMEOUT_S})
    if (t.timedOut) {
      // Not a rate: a hung run says nothing about the link (rclone's multipart upload through the
      // proxy to RGW has hung in some rounds); counted and shown apart.
      timeouts.set(name, (timeouts.get(name) ?? 0) + 1)
      log(`${name}: killed after ${LARGE_TIMEOUT_S} s; its stderr ends: ${t.stderr.slice(-400).replace(/\s+/g, ' ')}`)
      return false
    }
    rates.set(name, [...rates.get(name) ?? [], LARGE_MIB / t.seconds])
    log(`${name}: ${(LARGE_MIB / t.seconds).toFixed(0)} MiB/s`)
    return true
  }
  /** A pause between runs: the server (and this machine's page cache) finish what the last run left. */
  const settle = () => new Promise(resolve => setTimeout(resolve, 3000))
  const rmPrefix = async (prefix: string) => {
    await timed(s3cBin, ['rm', '-q', prefix], {env: envs.s3c, check: false})
    // RGW frees a deleted object's data only in its garbage collection (hours later by default): the
    // harness's RGW holds 8 GiB in RAM, and once full it blocks every write, so hung uploads were the cluster's, not a client's.
    if (RGW_CONF) await timed('radosgw-admin', ['--conf', RGW_CONF, 'gc', 'process', '--include-all'], {check: false, timeoutSeconds: 120})
  }
  try {
    await createBucket(server, BUCKET)
    proxy.setFaults({latencyMs: LATENCY_MS})
    // Every client downloads the same object, put there once (untimed) before the rounds: a download
    // round then does not depend on that client's upload having finished.
    const shared = `s3://${BUCKET}/large-src/`
    if (!RGW_CONF && !server.local) log('BENCH_RGW_CONF is not set: uploaded data is deleted but an RGW frees it only in its garbage collection')
    await timed(...spread(clients[0].cmd(src, shared)))
    let seq = 0
    for (let round = 0; round < LARGE_ROUNDS; round++) {
      // Each round starts with another client (no client always runs right after the server's
      // garbage collection), and the downloads run after all uploads, with a pause between runs.
      const order = clients.map((_, i) => clients[(i + round) % clients.length])
      for (const c of order) {
        const prefix = `s3://${BUCKET}/large${seq++}/`
        await run(`${c.name}|upload`, c.cmd(src, prefix))
        await rmPrefix(prefix)
        await settle()
      }
      for (const c of order) {
        const dl = join(work, `dl${seq++}`)
        if (await run(`${c.name}|download`, c.cmd(shared, dl))) {
          const got = statSync(join(dl, 'large.bin'), {throwIfNoEntry: false})?.size
          if (got !== LARGE_MIB << 20) throw new Error(`${c.name} downloaded ${got} bytes of ${LARGE_MIB << 20}`)
        }
        rmSync(dl, {recursive: true, force: true})
        await settle()
      }
    }
  } finally {
    await proxy.stop()
    await Promise.race([server.stop(), new Promise(resolve => setTimeout(resolve, 5000))])
    rmSync(work, {recursive: true, force: true})
  }
  const med = (k: string) => median(rates.get(k) ?? [Number.NaN])
  const goal = (dir: string) => {
    const s = med(`s3c (default flags)|${dir}`)
    const best = Math.max(med(`rclone (defaults)|${dir}`), med(`rclone, 16 MiB chunks, 8 streams each way|${dir}`))
    return `| ${dir} | ≥ rclone (its better setting) | ${(s / best).toFixed(2)}× (${s.toFixed(0)} vs ${best.toFixed(0)} MiB/s) | ${s >= best * 0.95 ? 'met' : 'not met'} |`
  }
  const body = [
    '## A large file at distance (`BENCH_REMOTE_SECTIONS=large npm run bench:remote`)',
    '',
    `Run ${utcNow()} UTC on ${machine()} (load ${loadStart} at the start); one ${LARGE_MIB} MiB file through the harness's proxy at +${LATENCY_MS} ms ` +
      `per answer, in front of ${server.local ? 'fauxqs' : server.endpoint}; ${LARGE_ROUNDS} rounds, each with the uploads then the downloads, the clients' order rotated per round and 3 s between runs; whole processes; every client downloads the same object (uploaded once by s3c, untimed), every download checked for its size. ` +
      `${toolVersion(RCLONE, ['version'])}.`,
    '',
    '| direction | goal | measured | |',
    '|---|---|---|---|',
    goal('upload'),
    goal('download'),
    '',
    '| client | direction | MiB/s per round | median |',
    '|---|---|---|---|',
    ...[...new Set([...rates.keys(), ...timeouts.keys()])].map(k => {
      const v = rates.get(k) ?? []
      const hung = timeouts.get(k) ? ` (+ ${timeouts.get(k)} killed after ${LARGE_TIMEOUT_S} s)` : ''
      return `| ${k.split('|')[0]} | ${k.split('|')[1]} | ${v.map(x => x.toFixed(0)).join(' · ')}${hung} | ${v.length ? median(v).toFixed(0) : '–'} |`
    }),
    '',
    '"met" allows 5 % for noise. Client, server and proxy share the 2 cores: the proxy copies every byte.',
  ].join('\n')
  writeBenchSection('remote-large', body)
  process.stdout.write(`${body}\n`)
}

/** Many small files at 0 ms and at +LATENCY_MS (the issue's goals). */
async function small(): Promise<void> {
  const loadStart = loadavg()[0].toFixed(1)
  execFileSync(process.execPath, [join(root, 'scripts', 'install-tools.js')], {stdio: 'inherit'})
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-remote-'))
  const server = await startS3()
  const proxy = await startProxy(server.endpoint)
  const envs = clientEnvs(server, join(work, 'clients'), proxy.endpoint, {awsConcurrency: 32})
  const rows = new Map<string, Row>()
  const add = (client: string, latencyMs: number, direction: Row['direction'], seconds: number, stdout: string) => {
    const key = `${client}|${latencyMs}|${direction}`
    const row = rows.get(key) ?? {client, latencyMs, direction, rates: [], peaks: []}
    row.rates.push(FILES / seconds)
    const peak = /"concurrency":\{"peak":(\d+)/.exec(stdout)?.[1]
    if (peak) row.peaks.push(Number(peak))
    rows.set(key, row)
    log(`${direction} ${client} +${latencyMs} ms: ${(FILES / seconds).toFixed(0)} files/s${peak ? ` (peak ${peak} in flight)` : ''}`)
  }
  try {
    await createBucket(server, BUCKET)
    const tree = join(work, 'tree')
    makeTree(tree, FILES, Math.ceil(FILES / 30), () => 4096)
    let seq = 0
    for (let round = 0; round < ROUNDS; round++) {
      for (const latencyMs of [0, LATENCY_MS]) {
        proxy.setFaults({latencyMs})
        // At 0 ms only s3c's own baseline (the goal is s3c's speed kept at distance) and rclone's for reference.
        const clients = latencyMs === 0 ? CLIENTS.slice(0, 3) : CLIENTS
        for (const c of clients.filter(c => round < (c.rounds ?? ROUNDS))) {
          const prefix = `s3://${BUCKET}/r${seq++}/`
          const up = await timed(...spread(c.cmd(tree, prefix, envs)))
          add(c.name, latencyMs, 'upload', up.seconds, up.stdout)
          const dl = join(work, `dl${seq}`)
          const down = await timed(...spread(c.cmd(prefix, dl, envs)))
          if (countFiles(dl) !== FILES) throw new Error(`${c.name} downloaded ${countFiles(dl)} files of ${FILES}`)
          add(c.name, latencyMs, 'download', down.seconds, down.stdout)
          rmSync(dl, {recursive: true, force: true})
          if (latencyMs > 0 && (c.name === 's3c (default flags)' || c.name.startsWith('rclone --'))) {
            const again = await timed(...spread(c.cmd(tree, prefix, envs)))
            add(c.name, latencyMs, 'no-change upload', again.seconds, again.stdout)
          }
        }
      }
    }
  } finally {
    await proxy.stop()
    await Promise.race([server.stop(), new Promise(resolve => setTimeout(resolve, 5000))])
    rmSync(work, {recursive: true, force: true})
  }

  const rate = (client: string, latencyMs: number, direction: Row['direction']) => median(rows.get(`${client}|${latencyMs}|${direction}`)?.rates ?? [Number.NaN])
  const x = (v: number) => `${v.toFixed(2)}×`
  const goals = (['upload', 'download'] as const).flatMap(direction => {
    const far = rate('s3c (default flags)', LATENCY_MS, direction)
    const near = rate('s3c (default flags)', 0, direction)
    const rclone = rate('rclone --transfers 32 --checkers 32', LATENCY_MS, direction)
    return [
      `| ${direction}: s3c's own speed kept through +${LATENCY_MS} ms | ≥ 85% | ${(100 * far / near).toFixed(0)}% (${far.toFixed(0)} vs ${near.toFixed(0)} files/s) | ${far >= 0.85 * near ? 'met' : 'not met'} |`,
      `| ${direction} at +${LATENCY_MS} ms vs rclone --transfers 32 | ≥ 1.5× | ${x(far / rclone)} (${far.toFixed(0)} vs ${rclone.toFixed(0)} files/s) | ${far >= 1.5 * rclone ? 'met' : 'not met'} |`,
    ]
  })
  const table = [...rows.values()].map(r => `| ${r.client} | ${r.latencyMs ? `+${r.latencyMs} ms` : '0 ms'} | ${r.direction} | ${r.rates.map(v => v.toFixed(0)).join(' · ')} | ${median(r.rates).toFixed(0)} | ${r.peaks.length ? r.peaks.join(' · ') : ''} |`)
  const body = [
    '## At distance (`npm run bench:remote`)',
    '',
    `Run ${utcNow()} UTC on ${machine()} (load ${loadStart} at the start); ${FILES.toLocaleString('en-US')} × 4 KiB through the test harness's proxy ` +
      `(in the bench's process) at 0 ms and +${LATENCY_MS} ms per answer, in front of ${server.local ? 'fauxqs' : server.endpoint}; ${ROUNDS} rounds interleaved ` +
      `(s3c --thread-count 32 two, rclone's defaults and the AWS CLI one), ` +
      `whole processes. ${toolVersion(RCLONE, ['version'])}; ${toolVersion(awsCli(), ['--version'])}.`,
    '',
    '| goal | wanted | measured | |',
    '|---|---|---|---|',
    ...goals,
    '',
    '| client | delay | what | files/s per round | median | s3c\'s peak in flight |',
    '|---|---|---|---|---|---|',
    ...table,
    '',
    'What bounds each number: at 0 ms every client shares the 2 cores with fauxqs and the proxy (CPU); at',
    `+${LATENCY_MS} ms a fixed 32 in flight caps a run at 32 / ${LATENCY_MS} ms ≈ ${Math.round(32000 / LATENCY_MS)} requests/s, which is what s3c's`,
    'measured limit (src/run/adaptive.ts) lifts; rclone\'s defaults (4 transfers) cap it at ~130/s.',
  ].join('\n')
  writeBenchSection('remote', body)
  process.stdout.write(`${body}\n`)
}

/** timed()'s arguments from a [cmd, args, env] triple. */
function spread(c: [string, string[], NodeJS.ProcessEnv]): [string, string[], {env: NodeJS.ProcessEnv; stdout: 'capture'}] {
  return [c[0], c[1], {env: c[2], stdout: 'capture'}]
}

await main()
