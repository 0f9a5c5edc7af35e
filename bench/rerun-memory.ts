/**
 * Peak RSS of a no-change re-run (`s3c upload` and `s3c download` of a tree already in sync)
 * against fauxqs, at a few tree sizes: the baseline docs/DESIGN-state.md starts from. Not a test
 * and not part of `npm run bench:*`: `npx tsc -p tsconfig.json && node dist/bench/rerun-memory.js 20000 50000`
 * (BENCH_RERUN_NODE_FLAGS: Node flags for the s3c processes).
 * Peak RSS comes from GNU time (`time -f %M`, found on the PATH) around the CLI process alone.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {CreateBucketCommand, S3Client} from '@aws-sdk/client-s3'
import {findTool, gnuTimeTool} from '../test/harness/tools.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const sizes = process.argv.slice(2).map(Number).filter(n => n > 0)
if (sizes.length === 0) sizes.push(20_000, 50_000)
/** Node flags for every s3c process (e.g. BENCH_RERUN_NODE_FLAGS=--max-semi-space-size=4). */
const flags = (process.env.BENCH_RERUN_NODE_FLAGS ?? '').split(' ').filter(Boolean)

/** n files of 0–100 bytes, 100 to a folder. */
function makeTree(dir: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const folder = join(dir, `d${String(Math.floor(i / 100)).padStart(5, '0')}`)
    if (i % 100 === 0) mkdirSync(folder, {recursive: true})
    writeFileSync(join(folder, `f${String(i % 100).padStart(2, '0')}.txt`), 'x'.repeat(i % 101))
  }
}

function cli(env: NodeJS.ProcessEnv, args: string[], nodeFlags: string[] = []): {peakMiB: number; seconds: number; summary: string} {
  const t0 = Date.now()
  const r = spawnSync(findTool(gnuTimeTool), ['-f', 'PEAK_KB %M', process.execPath, ...nodeFlags, join(root, 'bin', 'run.js'), ...args, '--json', '-q'],
    {env, encoding: 'utf8', maxBuffer: 1 << 28})
  if (r.status !== 0) throw new Error(`s3c ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  const kb = Number(/PEAK_KB (\d+)/.exec(r.stderr)?.[1])
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as {filesDone: number; filesSkipped: number; filesFailed: number}
  return {peakMiB: Math.round(kb / 1024), seconds: (Date.now() - t0) / 1000, summary: `${s.filesDone} done, ${s.filesSkipped} skipped, ${s.filesFailed} failed`}
}

async function main(): Promise<void> {
  const {startFauxqs} = (await import(join(root, 'scripts', 'fauxqs.js'))) as {startFauxqs(): Promise<{endpoint: string; stop(): Promise<void>}>}
  const fauxqs = await startFauxqs()
  const env = {...process.env, AWS_ENDPOINT_URL: fauxqs.endpoint, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true'}
  const s3 = new S3Client({endpoint: fauxqs.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: {accessKeyId: 'bench', secretAccessKey: 'bench'}})
  const work = mkdtempSync(join(tmpdir(), 's3c-rerun-mem-'))
  try {
    for (const n of sizes) {
      const bucket = `rerun-${n}-${Date.now().toString(36)}`
      await s3.send(new CreateBucketCommand({Bucket: bucket}))
      const src = join(work, `src-${n}`)
      const dst = join(work, `dst-${n}`)
      makeTree(src, n)
      const first = cli(env, ['upload', src, `s3://${bucket}/m`], flags)
      const up = cli(env, ['upload', src, `s3://${bucket}/m`], flags)
      const down1 = cli(env, ['download', `s3://${bucket}/m`, dst], flags)
      const down = cli(env, ['download', `s3://${bucket}/m`, dst], flags)
      // The same re-runs with the old generation capped: what they need live, not what V8 let grow.
      const cap = [...flags, '--max-old-space-size=48']
      const upCapped = cli(env, ['upload', src, `s3://${bucket}/m`], cap)
      const downCapped = cli(env, ['download', `s3://${bucket}/m`, dst], cap)
      process.stdout.write(`${n} files${flags.length ? ` (node ${flags.join(' ')})` : ''}: first upload ${first.peakMiB} MiB (${first.seconds}s); no-change upload ${up.peakMiB} MiB, ${up.seconds}s (${up.summary}); ` +
        `first download ${down1.peakMiB} MiB; no-change download ${down.peakMiB} MiB, ${down.seconds}s (${down.summary}); ` +
        `with --max-old-space-size=48: upload ${upCapped.peakMiB} MiB, ${upCapped.seconds}s, download ${downCapped.peakMiB} MiB, ${downCapped.seconds}s\n`)
      rmSync(src, {recursive: true, force: true})
      rmSync(dst, {recursive: true, force: true})
    }
  } finally {
    s3.destroy()
    await fauxqs.stop()
    rmSync(work, {recursive: true, force: true})
  }
}

await main()
