/**
 * `npm run bench:bundle`: the s3-tar seed's scenario on s3c bundles, on fauxqs.
 * A folder with `small` (100 B) and `big` (1 GiB): download-all vs download-single (the seed saw
 * 67 s vs 0.25 s), against fetching the whole tar with the AWS CLI or rclone and untarring one
 * file; download-single on a 1 MiB vs a 1 GiB bundle; GETs per cold and warm lookup; index bytes
 * per member for 100,000 members vs cotar's index of the same tar. Writes the "bundle" section
 * of docs/BENCHMARKS.md.
 */
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {projectRoot as root, startS3} from '../test/harness/servers.js'
import {awsCli, RCLONE, clientEnvs, createBucket, machine, utcNow} from './clients.js'
import {writeBenchSection} from './report.js'
import {formatSeconds as fmt, median, timed} from './timing.js'

const BIG_BYTES = Number(process.env.BENCH_BIG_BYTES ?? 1024 ** 3)
const MEMBERS = Number(process.env.BENCH_INDEX_MEMBERS ?? 100_000)
const REPEAT = 5
const bin = join(root, 'bin', 'run.js')

function makeFile(path: string, size: number): void {
  const fd = openSync(path, 'w')
  const chunk = randomBytes(Math.min(size, 16 << 20))
  for (let off = 0; off < size; off += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, size - off))
  closeSync(fd)
}

async function cotarIndexSize(tarPath: string): Promise<number> {
  execFileSync(process.execPath, [join(root, 'scripts', 'install-tools.js'), 'cotar'], {stdio: 'inherit'})
  const {CotarIndexBuilder} = (await import(join(root, 'tools', 'cotar', 'node_modules', '@cotar', 'builder', 'build', 'src', 'index.js'))) as
    {CotarIndexBuilder: {create(fd: unknown): Promise<{count: number; buffer: Buffer}>}}
  const fd = await open(tarPath, 'r')
  try {
    return (await CotarIndexBuilder.create(fd)).buffer.length
  } finally {
    await fd.close()
  }
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [join(root, 'scripts', 'install-tools.js')], {stdio: 'inherit'})
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-bundle-'))
  const fauxqs = await startS3()
  const bucket = 'bench'
  const envs = clientEnvs(fauxqs, join(work, 'clients'))
  const env: NodeJS.ProcessEnv = {...envs.s3c, S3C_BUCKET: bucket}
  const rows: string[] = []
  const lines: string[] = []
  try {
    await createBucket(fauxqs, bucket)
    // The seed's folder: small + big; and the same with a 1 MiB big file.
    const seed = join(work, 'seed')
    mkdirSync(seed)
    writeFileSync(join(seed, 'small'), randomBytes(100))
    makeFile(join(seed, 'big'), BIG_BYTES)
    const mib = join(work, 'mib')
    mkdirSync(mib)
    writeFileSync(join(mib, 'small'), randomBytes(100))
    makeFile(join(mib, 'big'), 1 << 20)
    const up = await timed(process.execPath, [bin, 'bundle', seed, 'bundle', '-q'], {env})
    await timed(process.execPath, [bin, 'bundle', mib, 'mib', '-q'], {env})
    rows.push(`| s3c bundle (tar parts built as jobs, 8 MiB parts) | upload ${(BIG_BYTES / 1024 ** 3).toFixed(2)} GiB + 100 B | ${fmt(up.seconds)} | |`)

    const out = join(work, 'out')
    const fresh = (name: string) => { const d = join(out, name); rmSync(d, {recursive: true, force: true}); mkdirSync(d, {recursive: true}); return d }
    const all = await timed(process.execPath, [bin, 'download-all', 'bundle', fresh('all'), '-q'], {env})
    rows.push(`| s3c download-all | both files | ${fmt(all.seconds)} | |`)
    const aws = await timed('bash', ['-c', `${awsCli()} --endpoint-url ${fauxqs.endpoint} s3 cp s3://${bucket}/bundle/bundle.tar bundle.tar --only-show-errors && tar -xf bundle.tar small`],
      {env: envs.aws, cwd: fresh('aws')})
    rows.push(`| awscli: whole tar, then \`tar -x small\` (the seed's download_all path) | small | ${fmt(aws.seconds)} | 1 GET (+ ranged parts) of the whole tar |`)
    const rcl = await timed('bash', ['-c', `${RCLONE} copyto s:${bucket}/bundle/bundle.tar bundle.tar && tar -xf bundle.tar small`], {env: envs.rclone, cwd: fresh('rclone')})
    rows.push(`| rclone: whole tar, then \`tar -x small\` | small | ${fmt(rcl.seconds)} | whole tar |`)

    const single = async (bundle: string, cold: boolean) => {
      const times: number[] = []
      let gets = ''
      for (let i = 0; i < REPEAT; i++) {
        const cache = join(work, `cache-${bundle}-${cold ? i : 'warm'}`)
        const r = await timed(process.execPath, [bin, 'download-single', bundle, 'small', '-v', '--out', join(fresh(`s-${bundle}`), 'small')], {env: {...env, S3C_CACHE_DIR: cache}})
        times.push(r.seconds)
        gets = /(\d+) GET/.exec(r.stderr)?.[1] ?? '?'
      }
      return {t: median(times), gets}
    }
    // Warm: the cache filled by a first call.
    await single('bundle', false)
    const coldBig = await single('bundle', true)
    const warmBig = await single('bundle', false)
    const coldMib = await single('mib', true)
    const warmMib = await single('mib', false)
    rows.push(`| s3c download-single bundle small, cold (index not cached) | small | ${fmt(coldBig.t)} | ${coldBig.gets} GETs |`)
    rows.push(`| s3c download-single bundle small, warm (index cached) | small | ${fmt(warmBig.t)} | ${warmBig.gets} GET |`)
    rows.push(`| s3c download-single, 1 MiB bundle, cold / warm | small | ${fmt(coldMib.t)} / ${fmt(warmMib.t)} | ${coldMib.gets} / ${warmMib.gets} GETs |`)
    const node = await timed(process.execPath, [bin, '--version'], {env})
    lines.push(`download-single on the ${(BIG_BYTES / 1024 ** 3).toFixed(2)} GiB bundle takes ${(coldBig.t / coldMib.t).toFixed(2)}× the time on the 1 MiB bundle (target ≤ 2×). ` +
      `Of each s3c call, ${fmt(node.seconds)} is starting Node and oclif (\`s3c --version\`).`)

    // Index size: 100,000 members, one tar made by GNU tar, indexed by s3c and by cotar.
    const many = join(work, 'many')
    for (let d = 0; d < MEMBERS / 1000; d++) {
      mkdirSync(join(many, `dir${d}`), {recursive: true})
      for (let f = 0; f < 1000; f++) writeFileSync(join(many, `dir${d}`, `file-${f}.txt`), `${d}/${f}\n`)
    }
    const manyTar = join(work, 'many.tar')
    // ustar: cotar's builder stops at PAX headers ("Unknown header … type:120").
    execFileSync('tar', ['--format=ustar', '-cf', manyTar, '-C', many, '.'])
    const idx = JSON.parse(execFileSync(process.execPath, [bin, 'index', manyTar, '--json'], {env, encoding: 'utf8'})) as {members: number}
    const s3ciBytes = statSync(`${manyTar}.s3ci`).size
    const head = readFileSync(`${manyTar}.s3ci`).subarray(0, 64)
    const listOffset = Number(head.readBigUInt64BE(40))
    const cotarBytes = await cotarIndexSize(manyTar)
    rows.push(`| index of a ${idx.members}-member tar (GNU tar, ustar) | s3c .s3ci: lookup part | ${(listOffset / idx.members).toFixed(1)} B/member | 16 B lookup + 4 B CRC-32 per member, + 128 B header |`)
    rows.push(`| | s3c .s3ci: whole (with the gzip'd member list for list-files) | ${(s3ciBytes / idx.members).toFixed(1)} B/member | ${s3ciBytes} B |`)
    rows.push(`| | cotar index (@cotar/builder 6.0.1) | ${(cotarBytes / idx.members).toFixed(1)} B/member | ${cotarBytes} B; no names, no checksums |`)
  } finally {
    await fauxqs.stop()
    rmSync(work, {recursive: true, force: true})
  }
  const body = [
    '## Bundles: the s3-tar seed\'s scenario (`npm run bench:bundle`)',
    '',
    `Run ${utcNow()} UTC on ${machine()}, ${fauxqs.local ? 'fauxqs on the same machine' : `the S3 server at ${fauxqs.endpoint}`}. Times are whole commands ` +
      `(process start included), median of ${REPEAT} for download-single; GETs as counted by \`download-single -v\`.`,
    '',
    '| what | fetches | time | requests / size |',
    '|---|---|---|---|',
    ...rows,
    '',
    ...lines,
  ].join('\n')
  writeBenchSection('bundle', body)
  process.stdout.write(`${body}\n`)
}

await main()
