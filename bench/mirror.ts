/**
 * `npm run bench:mirror`: s3c vs rclone vs the AWS CLI on the same servers in the same run.
 * Small files (10,000 × 4 KiB) on fauxqs and on Ceph RGW; one 1 GiB file on RGW (fauxqs cannot
 * take rclone's multipart uploads). Writes the "Mirror" section of docs/BENCHMARKS.md.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync} from 'node:fs'
import {cpus, totalmem, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {writeBenchSection} from './report.js'

const root = join(fileURLToPath(import.meta.url), '..', '..', '..')
const C = 32
const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 10_000)
const BIG_BYTES = Number(process.env.BENCH_BIG_BYTES ?? 1024 ** 3)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)

interface Server {
  name: string
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
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

/** Environment and config files for the three clients talking to one server. */
function clientSetup(server: Server, work: string, big: boolean) {
  const rcloneConf = join(work, 'rclone.conf')
  writeFileSync(rcloneConf, `[s]\ntype = s3\nprovider = Other\naccess_key_id = ${server.accessKeyId}\nsecret_access_key = ${server.secretAccessKey}\n` +
    `endpoint = ${server.endpoint}\nregion = us-east-1\nforce_path_style = true\n`)
  const awsConf = join(work, 'aws.conf')
  writeFileSync(awsConf, `[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = ${C}\n` + (big ? '  multipart_chunksize = 16MB\n' : ''))
  const env = {...process.env, AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: server.endpoint, AWS_CONFIG_FILE: awsConf, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true'}
  delete (env as Record<string, string | undefined>).REDIS_URL
  const rcloneEnv = {...env}
  delete (rcloneEnv as Record<string, string | undefined>).AWS_CA_BUNDLE
  return {rcloneConf, env, rcloneEnv}
}

function command(tool: Tool, dir: Direction, local: string, bucket: string, prefix: string, setup: ReturnType<typeof clientSetup>, server: Server, big: boolean): [string, string[], NodeJS.ProcessEnv] {
  const url = `s3://${bucket}/${prefix}`
  const [from, to] = dir === 'up' ? [local, url] : [url, local]
  switch (tool) {
    case 's3c':
      return [process.execPath, [join(root, 'bin', 'run.js'), dir === 'up' ? 'upload' : 'download', from, to, '--thread-count', String(C), '--quiet',
        ...(big ? ['--part-size', '16MiB'] : [])], setup.env]
    case 'rclone': {
      const r = (p: string) => (p.startsWith('s3://') ? `s:${p.slice(5)}` : p)
      return ['rclone', ['--config', setup.rcloneConf, 'copy', r(from), r(to), '--transfers', String(C), '--checkers', String(C),
        ...(big ? ['--s3-chunk-size', '16M', '--s3-upload-concurrency', '8', '--multi-thread-streams', '8'] : [])], setup.rcloneEnv]
    }
    case 'awscli':
      return ['/usr/bin/aws', ['s3', 'cp', '--recursive', '--only-show-errors', '--endpoint-url', server.endpoint, from, to], setup.env]
  }
}

/** Runs one transfer; returns seconds, or NaN when the tool failed or moved the wrong number of files. */
function timed(cmd: [string, string[], NodeJS.ProcessEnv], check: () => boolean): number {
  const start = process.hrtime.bigint()
  const r = spawnSync(cmd[0], cmd[1], {env: cmd[2], stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26})
  const secs = Number(process.hrtime.bigint() - start) / 1e9
  if (r.status !== 0 || !check()) {
    process.stderr.write(`${cmd[0]} ${cmd[1].slice(0, 4).join(' ')} failed (${r.status}): ${String(r.stderr).slice(0, 300)}\n`)
    return Number.NaN
  }
  return secs
}

function createBucket(server: Server, bucket: string, setup: ReturnType<typeof clientSetup>): void {
  execFileSync('/usr/bin/aws', ['s3api', 'create-bucket', '--bucket', bucket, '--endpoint-url', server.endpoint], {env: setup.env, stdio: 'ignore'})
}

interface Row {
  scenario: string
  tool: Tool
  values: number[]
  unit: string
}

/** Up then down for each tool, `rounds` times interleaved; rates in files/s or MiB/s. */
function scenario(server: Server, name: string, src: string, work: string, rounds: number, big: boolean): Row[] {
  const setup = clientSetup(server, work, big)
  const bucket = `bench-${big ? 'big' : 'small'}-${Date.now().toString(36)}`
  createBucket(server, bucket, setup)
  const files = countFiles(src)
  const rows = new Map<string, Row>()
  const tools: Tool[] = ['s3c', 'rclone', 'awscli']
  for (let round = 0; round < rounds; round++) {
    for (const tool of tools) {
      const prefix = `${tool}-${round}`
      for (const dir of ['up', 'down'] as Direction[]) {
        const local = dir === 'up' ? src : join(work, `dl-${tool}-${round}`)
        const secs = timed(command(tool, dir, local, bucket, prefix, setup, server, big), () => dir === 'up' || countFiles(local) === files)
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

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
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
    return {server: {name: 'Ceph RGW', endpoint: process.env.S3C_BENCH_RGW_ENDPOINT, accessKeyId: 'rgwtest', secretAccessKey: 'rgwtestsecret'}, stop: () => undefined}
  const dir = join(work, 'rgw')
  const port = 17480 + Math.floor(Math.random() * 1000)
  const script = join(root, '..', 'shared', 'tools', 'ceph-rgw.sh')
  execFileSync('bash', [script, 'start', dir, String(port)], {stdio: ['ignore', 'ignore', 'inherit']})
  return {server: {name: 'Ceph RGW', endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'rgwtest', secretAccessKey: 'rgwtestsecret'},
    stop: () => execFileSync('bash', [script, 'stop', dir])}
}

function version(cmd: string, args: string[]): string {
  return String(spawnSync(cmd, args, {encoding: 'utf8'}).stdout ?? '').split('\n')[0].trim()
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [join(root, 'scripts', 'install-tools.js')], {stdio: 'inherit'})
  const {startFauxqs} = (await import(join(root, 'scripts', 'fauxqs.js'))) as {startFauxqs(): Promise<{endpoint: string; stop(): Promise<void>}>}
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-'))
  const small = join(work, 'small')
  makeSmallTree(small)
  const bigDir = join(work, 'big')
  mkdirSync(bigDir)
  makeBigFile(join(bigDir, 'one-gib.bin'))
  const fauxqs = await startFauxqs()
  const rgw = await startRgw(work)
  const rows: Row[] = []
  try {
    const fq: Server = {name: 'fauxqs', endpoint: fauxqs.endpoint, accessKeyId: 'bench', secretAccessKey: 'bench'}
    rows.push(...scenario(fq, `${SMALL_FILES} × 4 KiB, fauxqs`, small, work, ROUNDS, false))
    rows.push(...scenario(rgw.server, `${SMALL_FILES} × 4 KiB, Ceph RGW`, small, work, 1, false))
    rows.push(...scenario(rgw.server, `${(BIG_BYTES / 1024 ** 3).toFixed(0)} GiB file, Ceph RGW`, bigDir, work, 1, true))
  } finally {
    await fauxqs.stop()
    rgw.stop()
    rmSync(work, {recursive: true, force: true})
  }
  const body = [
    '## Mirror: upload and download of a tree (`npm run bench:mirror`)',
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ` +
      `${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}, ${version('rclone', ['version'])}, ${version('/usr/bin/aws', ['--version'])}. ` +
      `Client and server share the machine. ${C} requests in flight for every tool (s3c \`--thread-count ${C}\`, rclone \`--transfers ${C} --checkers ${C}\`, ` +
      `awscli \`max_concurrent_requests = ${C}\`); large file: 16 MiB parts. Every download is checked for the right file count.`,
    '',
    table(rows),
  ].join('\n')
  writeBenchSection('mirror', body)
  process.stdout.write(`${body}\n`)
}

await main()
