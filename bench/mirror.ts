/**
 * `npm run bench:mirror`: s3c vs rclone vs the AWS CLI on the same servers in the same run.
 * Small files (10,000 × 4 KiB) on fauxqs and on Ceph RGW; one 1 GiB file on RGW (fauxqs cannot
 * take rclone's multipart uploads). Writes the "Mirror" section of docs/BENCHMARKS.md.
 */
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {projectRoot as root, startS3, type S3Env} from '../test/harness/servers.js'
import {awsCli, RCLONE, clientEnvs, createBucket, machine, rcloneUrl, s3cBin, toolVersion, utcNow, type ClientEnvs} from './clients.js'
import {writeBenchSection} from './report.js'
import {median, timed} from './timing.js'

const C = 32
const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 10_000)
const BIG_BYTES = Number(process.env.BENCH_BIG_BYTES ?? 1024 ** 3)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)

interface Server {
  name: string
  s3: S3Env
}

type Tool = 's3c' | 'rclone' | 'awscli'
type Direction = 'up' | 'down'

function countFiles(dir: string): number {
  return readdirSync(dir, {recursive: true, withFileTypes: true}).filter(e => e.isFile()).length
}

function makeSmallTree(dir: string): void {
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(dir, `d${d}`), {recursive: true})
    for (let f = 0; f < SMALL_FILES / 100; f++) writeFileSync(join(dir, `d${d}`, `f${f}.bin`), randomBytes(4096))
  }
}

function makeBigFile(path: string): void {
  const fd = openSync(path, 'w')
  const chunk = randomBytes(16 << 20)
  for (let off = 0; off < BIG_BYTES; off += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, BIG_BYTES - off))
  closeSync(fd)
}

function command(tool: Tool, dir: Direction, local: string, bucket: string, prefix: string, envs: ClientEnvs, big: boolean): [string, string[], NodeJS.ProcessEnv] {
  const url = `s3://${bucket}/${prefix}`
  const [from, to] = dir === 'up' ? [local, url] : [url, local]
  switch (tool) {
    case 's3c':
      return [s3cBin, [dir === 'up' ? 'upload' : 'download', from, to, '--thread-count', String(C), '--quiet',
        ...(big ? ['--part-size', '16MiB'] : [])], envs.s3c]
    case 'rclone':
      return [RCLONE, ['copy', rcloneUrl(from), rcloneUrl(to), '--transfers', String(C), '--checkers', String(C),
        ...(big ? ['--s3-chunk-size', '16M', '--s3-upload-concurrency', '8', '--multi-thread-streams', '8'] : [])], envs.rclone]
    case 'awscli':
      return [awsCli(), ['s3', 'cp', '--recursive', '--only-show-errors', '--endpoint-url', envs.endpoint, from, to], envs.aws]
  }
}

/** Runs one transfer; returns seconds, or NaN when the tool failed or moved the wrong number of files. */
async function transfer(cmd: [string, string[], NodeJS.ProcessEnv], check: () => boolean): Promise<number> {
  const r = await timed(cmd[0], cmd[1], {env: cmd[2], stdout: 'ignore', check: false})
  if (r.code !== 0 || !check()) {
    process.stderr.write(`${cmd[0]} ${cmd[1].slice(0, 4).join(' ')} failed (${r.code}): ${r.stderr.slice(0, 300)}\n`)
    return Number.NaN
  }
  return r.seconds
}

interface Row {
  scenario: string
  tool: Tool
  values: number[]
  unit: string
}

/** Up then down for each tool, `rounds` times interleaved; rates in files/s or MiB/s. */
async function scenario(server: Server, name: string, src: string, work: string, rounds: number, big: boolean): Promise<Row[]> {
  const envs = clientEnvs(server.s3, work, server.s3.endpoint, {awsConcurrency: C, awsChunkSize: big ? '16MB' : undefined})
  const bucket = `bench-${big ? 'big' : 'small'}-${Date.now().toString(36)}`
  await createBucket(server.s3, bucket)
  const files = countFiles(src)
  const rows = new Map<string, Row>()
  const tools: Tool[] = ['s3c', 'rclone', 'awscli']
  for (let round = 0; round < rounds; round++) {
    for (const tool of tools) {
      const prefix = `${tool}-${round}`
      for (const dir of ['up', 'down'] as Direction[]) {
        const local = dir === 'up' ? src : join(work, `dl-${tool}-${round}`)
        const secs = await transfer(command(tool, dir, local, bucket, prefix, envs, big), () => dir === 'up' || countFiles(local) === files)
        if (dir === 'down') rmSync(local, {recursive: true, force: true})
        const key = `${name} ${dir}|${tool}`
        const row = rows.get(key) ?? {scenario: `${name}, ${dir === 'up' ? 'upload' : 'download'}`, tool, values: [], unit: big ? 'MiB/s' : 'files/s'}
        row.values.push(big ? BIG_BYTES / (1 << 20) / secs : files / secs)
        rows.set(key, row)
        process.stderr.write(`${row.scenario} ${tool}: ${row.values.at(-1)!.toFixed(1)} ${row.unit}\n`)
      }
    }
  }
  return [...rows.values()]
}

function table(rows: Row[]): string {
  const out = ['| scenario | tool | rounds | median | s3c ÷ tool |', '|---|---|---|---|---|']
  for (const r of rows) {
    const s3c = rows.find(x => x.scenario === r.scenario && x.tool === 's3c')!
    const ratio = r.tool === 's3c' ? '' : `${(median(s3c.values) / median(r.values)).toFixed(2)}×`
    out.push(`| ${r.scenario} | ${r.tool} | ${r.values.map(v => v.toFixed(0)).join(' · ')} | **${median(r.values).toFixed(0)} ${r.unit}** | ${ratio} |`)
  }
  return out.join('\n')
}

async function startRgw(work: string): Promise<{server: Server; stop(): void}> {
  if (process.env.S3C_BENCH_RGW_ENDPOINT)
    return {server: rgwServer(process.env.S3C_BENCH_RGW_ENDPOINT), stop: () => undefined}
  const dir = join(work, 'rgw')
  const port = 17480 + Math.floor(Math.random() * 1000)
  // The machines' shared tools folder sits beside the main checkout (/work/main → /work/shared) or two levels up from a worktree.
  const script = [join(root, '..', 'shared', 'tools', 'ceph-rgw.sh'), join(root, '..', '..', 'shared', 'tools', 'ceph-rgw.sh')].find(p => existsSync(p))
  if (!script) throw new Error('ceph-rgw.sh not found next to the checkout: set S3C_BENCH_RGW_ENDPOINT to a running RGW, or BENCH_RGW=0 to skip it')
  execFileSync('bash', [script, 'start', dir, String(port)], {stdio: ['ignore', 'ignore', 'inherit']})
  return {server: rgwServer(`http://127.0.0.1:${port}`), stop: () => execFileSync('bash', [script, 'stop', dir])}
}

/** ceph-rgw.sh's server (its keys are fixed by the script). */
function rgwServer(endpoint: string): Server {
  return {name: 'Ceph RGW', s3: {endpoint, region: 'us-east-1', accessKeyId: 'rgwtest', secretAccessKey: 'rgwtestsecret', local: false, stop: async () => undefined}}
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [join(root, 'scripts', 'install-tools.js')], {stdio: 'inherit'})
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-'))
  const small = join(work, 'small')
  makeSmallTree(small)
  const bigDir = join(work, 'big')
  mkdirSync(bigDir)
  makeBigFile(join(bigDir, 'one-gib.bin'))
  const fauxqs = await startS3()
  // BENCH_RGW=0: fauxqs only (a quick smoke run; Ceph takes ~15 s and a few GiB to start).
  const rgw = process.env.BENCH_RGW === '0' ? undefined : await startRgw(work)
  const rows: Row[] = []
  try {
    // fauxqs, or the server in S3C_TEST_S3_ENDPOINT (test/harness/servers.ts).
    const fq: Server = {name: fauxqs.local ? 'fauxqs' : new URL(fauxqs.endpoint).host, s3: fauxqs}
    rows.push(...await scenario(fq, `${SMALL_FILES} × 4 KiB, ${fq.name}`, small, work, ROUNDS, false))
    if (rgw) {
      rows.push(...await scenario(rgw.server, `${SMALL_FILES} × 4 KiB, Ceph RGW`, small, work, 1, false))
      rows.push(...await scenario(rgw.server, `${(BIG_BYTES / 1024 ** 3).toFixed(0)} GiB file, Ceph RGW`, bigDir, work, 1, true))
    }
  } finally {
    await fauxqs.stop()
    rgw?.stop()
    rmSync(work, {recursive: true, force: true})
  }
  const body = [
    '## Mirror: upload and download of a tree (`npm run bench:mirror`)',
    '',
    `Run ${utcNow()} UTC on ${machine()}, ${toolVersion(RCLONE, ['version'])}, ${toolVersion(awsCli(), ['--version'])}. ` +
      `Client and server share the machine. ${C} requests in flight for every tool (s3c \`--thread-count ${C}\`, rclone \`--transfers ${C} --checkers ${C}\`, ` +
      `awscli \`max_concurrent_requests = ${C}\`); large file: 16 MiB parts. Every download is checked for the right file count.`,
    '',
    table(rows),
  ].join('\n')
  writeBenchSection('mirror', body)
  process.stdout.write(`${body}\n`)
}

await main()
