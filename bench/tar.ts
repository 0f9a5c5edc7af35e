/**
 * `npm run bench:tar`: `s3c tar create` (a tar of objects already in S3, built in S3) on fauxqs.
 * 2,000 objects under one prefix: 90% of 4–64 KiB, 10% of 6–12 MiB, sizes from a fixed seed.
 * For `--mode auto | copy | memory`: wall time, the HTTP requests actually sent (counted by kind
 * by a small proxy in front of fauxqs), bytes downloaded; each archive is downloaded once and
 * checked with GNU tar (member count, every member byte-exact). Next to them, the requests
 * s3tar (awslabs/amazon-s3-tar-tool) would make for the same objects, computed from the method
 * its README describes (no s3tar binary here). Writes the "tar" section of docs/BENCHMARKS.md.
 */
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {mulberry32, startProxy, type RecordedRequest} from '../test/harness/proxy.js'
import {projectRoot as root, startS3} from '../test/harness/servers.js'
import {awsCli, clientEnvs, createBucket, machine, s3cBin as bin, utcNow} from './clients.js'
import {writeBenchSection} from './report.js'
import {KINDS, classify, zero, type Counts, type Kind} from './requests.js'
import {median, timed} from './timing.js'

const OBJECTS = Number(process.env.BENCH_TAR_OBJECTS ?? 2000)
const SEED = Number(process.env.BENCH_TAR_SEED ?? 20240601)
const KiB = 1024
const MiB = 1024 * KiB
const SMALL = [4 * KiB, 64 * KiB]
const BIG = [Number(process.env.BENCH_TAR_BIG_MIN_MIB ?? 6) * MiB, Number(process.env.BENCH_TAR_BIG_MAX_MIB ?? 12) * MiB]
const MODES = ['auto', 'copy', 'memory'] as const
type Mode = typeof MODES[number]
/** Timed runs: 3 (median) when one run is quick enough for 3 to stay under this, else 1. */
const REPEAT_BUDGET_S = 60

// ---------------------------------------------------------------- data

/** Object sizes in key order: exactly 10% big, placed at seeded random positions. */
function objectSizes(): number[] {
  const rnd = mulberry32(SEED)
  const order = Array.from({length: OBJECTS}, (_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]]
  }
  const big = new Set(order.slice(0, Math.round(OBJECTS / 10)))
  return order.map((_, i) => {
    const [lo, hi] = big.has(i) ? BIG : SMALL
    return lo + Math.floor(rnd() * (hi - lo + 1))
  })
}

const objectName = (i: number) => `obj-${String(i).padStart(5, '0')}.bin`

// ---------------------------------------------------------------- counting (test/harness/proxy.ts, kinds from ./requests.ts)

function tally(seen: RecordedRequest[]): {counts: Counts; total: number; bytesDownloaded: number; bytesUploaded: number; errors: number} {
  const counts = zero()
  let bytesDownloaded = 0
  let bytesUploaded = 0
  let errors = 0
  for (const r of seen) {
    const k = classify(r)
    counts[k]++
    if (k === 'GetObject') bytesDownloaded += r.responseBytes
    if (k === 'UploadPart' || k === 'PutObject') bytesUploaded += r.requestBytes
    if (r.status === undefined || r.status >= 400) errors++
  }
  return {counts, total: seen.length, bytesDownloaded, bytesUploaded, errors}
}

// ---------------------------------------------------------------- s3tar, computed from its README

interface Computed {
  counts: Counts
  total: number
  bytesDownloaded: number
  /** Bytes S3 copies inside itself (UploadPartCopy source bytes). */
  copiedBytes: number
  bytesUploaded: number
  groups: number
  note: string
}

const block = (n: number) => Math.ceil(n / 512) * 512
/** A PAX header for a short name: the ustar block alone (names here fit in 100 bytes; s3tar's PAX records add ≥ 1 KiB on real data). */
const HEADER = 512

/**
 * s3tar's default mode for a set with objects under 5 MB (README, "How the tool works"):
 *   Group = remove5MB([(((((5MB File) + header1) + file1) + header2) + file2)…]), groups of ~10 MB,
 *   NewObject = Concat(Group1, Group2, …)
 * Every "+" is one multipart upload of two parts (S3 lets only the last part be under 5 MiB, so a
 * header and the object after it cannot share one append): CreateMultipartUpload, UploadPartCopy
 * of the object so far (≥ 5 MiB thanks to the padding), UploadPart of the header bytes or
 * UploadPartCopy of the object, CompleteMultipartUpload = 4 requests. remove5MB is one more
 * upload with one ranged UploadPartCopy (3 requests: without the padding the group may be under
 * 5 MiB, so it cannot be a non-last part of the append before). The final Concat is one upload
 * with one UploadPartCopy per group (every group but the last ≥ 5 MiB). Members: the TOC (bytes,
 * so an UploadPart), then the objects; the end-of-archive blocks are one more bytes append.
 * Once: a PutObject of the 5 MB zero file; ListObjectsV2 of the source (1,000 keys a page).
 * Not counted: deleting the intermediate objects (the README does not describe it).
 */
function s3tarDefault(sizes: number[], groupBytes: number): Computed {
  const c = zero()
  let copied = 0
  let uploaded = 5 * MiB // the zero file
  const tocSize = sizes.reduce((s, n, i) => s + `${objectName(i)},0000000000,${n},0123456789abcdef0123456789abcdef\n`.length, 0)
  // Pieces in archive order: header, data, header, data, …, end blocks.
  type Piece = {bytes: number; fromObject: boolean}
  const members = [{size: tocSize, object: false}, ...sizes.map(s => ({size: s, object: true}))]
  const groups: Piece[][] = [[]]
  let inGroup = 0
  for (const m of members) {
    if (inGroup >= groupBytes) { groups.push([]); inGroup = 0 }
    const g = groups[groups.length - 1]
    g.push({bytes: HEADER, fromObject: false})
    // The object, then its padding to 512 (the padding travels with the next header in s3tar; same count).
    g.push({bytes: block(m.size), fromObject: m.object})
    inGroup += HEADER + block(m.size)
  }
  groups[groups.length - 1].push({bytes: 1024, fromObject: false})
  c.PutObject++ // the 5 MB zero file
  c.ListObjectsV2 += Math.ceil(sizes.length / 1000)
  const groupSizes: number[] = []
  for (const g of groups) {
    let acc = 5 * MiB
    for (const p of g) {
      c.CreateMultipartUpload++
      c.UploadPartCopy++ // the object so far
      copied += acc
      if (p.fromObject) { c.UploadPartCopy++; copied += p.bytes } else { c.UploadPart++; uploaded += p.bytes }
      c.CompleteMultipartUpload++
      acc += p.bytes
    }
    // remove5MB
    c.CreateMultipartUpload++
    c.UploadPartCopy++
    c.CompleteMultipartUpload++
    copied += acc - 5 * MiB
    groupSizes.push(acc - 5 * MiB)
  }
  const recursive = groupSizes.slice(0, -1).some(s => s < 5 * MiB)
  if (recursive) {
    // Pairwise: ((5MB + G1) + G2) + … then remove5MB.
    let acc = 5 * MiB
    for (const s of groupSizes) {
      c.CreateMultipartUpload++; c.UploadPartCopy += 2; c.CompleteMultipartUpload++
      copied += acc + s
      acc += s
    }
    c.CreateMultipartUpload++; c.UploadPartCopy++; c.CompleteMultipartUpload++
    copied += acc - 5 * MiB
  } else {
    c.CreateMultipartUpload++
    c.UploadPartCopy += groupSizes.length
    c.CompleteMultipartUpload++
    copied += groupSizes.reduce((a, b) => a + b, 0)
  }
  const total = Object.values(c).reduce((a, b) => a + b, 0)
  return {counts: c, total, bytesDownloaded: 0, copiedBytes: copied, bytesUploaded: uploaded, groups: groups.length,
    note: `${groups.length} groups of ≥ ${groupBytes / MiB} MiB${recursive ? ', merged pairwise' : ''}`}
}

/**
 * s3tar --concat-in-memory (README, "In-Memory Tarball Generation"): (files × GET) + (parts × PUT).
 * One GetObject per object, one UploadPart per part, CreateMultipartUpload + Complete. The README
 * gives no part size: objects are grouped in order until a group passes 5 MiB (S3's smallest
 * part). No TOC.
 */
function s3tarInMemory(sizes: number[], partBytes: number): Computed {
  const c = zero()
  c.ListObjectsV2 += Math.ceil(sizes.length / 1000)
  c.GetObject = sizes.length
  let parts = 0
  let acc = 0
  for (const s of sizes) {
    acc += HEADER + block(s)
    if (acc > partBytes) { parts++; acc = 0 }
  }
  if (acc > 0) parts++
  c.CreateMultipartUpload = 1
  c.UploadPart = parts
  c.CompleteMultipartUpload = 1
  const total = Object.values(c).reduce((a, b) => a + b, 0)
  return {counts: c, total, bytesDownloaded: sizes.reduce((a, b) => a + b, 0), copiedBytes: 0,
    bytesUploaded: sizes.reduce((a, b) => a + HEADER + block(b), 1024), groups: parts, note: `${parts} parts of > ${partBytes / MiB} MiB`}
}

// ---------------------------------------------------------------- running

/** Async (the counting proxy lives in this process and must keep serving while the child runs). */
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string) => timed(cmd, args, {env, cwd})

const fmtS = (s: number) => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(1)} s`)
const fmtB = (n: number) => (n === 0 ? '0' : n >= 1000 * MiB ? `${(n / 1024 ** 3).toFixed(2)} GiB` : n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${(n / KiB).toFixed(1)} KiB`)
const perObj = (n: number) => (n / OBJECTS).toFixed(n / OBJECTS >= 10 ? 1 : 2)

/** "1,801 (0.90)": total and per object; blank when zero. */
const cell = (n: number) => (n === 0 ? '0' : `${n.toLocaleString('en-US')} (${n / OBJECTS < 0.005 ? '<0.01' : perObj(n)})`)

interface ModeResult {
  mode: Mode
  seconds: number
  runs: number[]
  proxied: number
  measured: ReturnType<typeof tally>
  plan: string
  verify: string
  index: boolean
  leftovers: string[]
}

async function main(): Promise<void> {
  const t0 = Date.now()
  const loadStart = loadavg()[0].toFixed(1)
  execFileSync(process.execPath, [join(root, 'scripts', 'install-tools.js')], {stdio: 'inherit'})
  const work = mkdtempSync(join(tmpdir(), 's3c-bench-tar-'))
  const fauxqs = await startS3()
  const proxy = await startProxy(fauxqs.endpoint)
  const bucket = 'bench'
  const direct = {...clientEnvs(fauxqs, join(work, 'clients')).s3c, S3C_BUCKET: bucket}
  const viaProxy = {...clientEnvs(fauxqs, join(work, 'clients'), proxy.endpoint).s3c, S3C_BUCKET: bucket}
  const aws = (args: string[], cwd?: string) => run(awsCli(), ['--endpoint-url', fauxqs.endpoint, ...args], direct, cwd)
  const log = (s: string) => process.stderr.write(`[bench:tar +${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}\n`)
  const sizes = objectSizes()
  const totalBytes = sizes.reduce((a, b) => a + b, 0)
  const bigCount = sizes.filter(s => s >= 5 * MiB).length
  const results: ModeResult[] = []
  let uploadSeconds = 0
  try {
    await createBucket(fauxqs, bucket)
    const src = join(work, 'src')
    mkdirSync(src)
    sizes.forEach((s, i) => writeFileSync(join(src, objectName(i)), randomBytes(s)))
    log(`${OBJECTS} objects, ${bigCount} of 6–12 MiB, ${fmtB(totalBytes)} in all; uploading`)
    uploadSeconds = (await run(process.execPath, [bin, 'upload', src, `s3://${bucket}/src/`, '-q'], direct)).seconds
    log(`uploaded in ${fmtS(uploadSeconds)}`)

    for (const mode of MODES) {
      const key = `out-${mode}.tar`
      const args = [bin, 'tar', 'create', '-f', `s3://${bucket}/${key}`, `s3://${bucket}/src/`, '--mode', mode]
      // fauxqs keeps every object in memory: drop the archive before each run (an overwrite holds old and new at once) and after its check.
      const drop = () => aws(['s3', 'rm', `s3://${bucket}/${key}`, '--only-show-errors']).then(() => aws(['s3', 'rm', `s3://${bucket}/${key}.s3ci`, '--only-show-errors']))
      // Not -q: it would hide the counts too (-q prints only errors).
      const plan = (await run(process.execPath, [...args, '--dry-run'], direct)).stdout.trim()
      // One run through the counting proxy: the requests as sent.
      await drop()
      proxy.reset()
      const counted = await run(process.execPath, [...args, '--stats'], viaProxy)
      const measured = tally(proxy.requests)
      log(`${mode}: ${fmtS(counted.seconds)} through the proxy, ${measured.total} requests`)
      // Timed runs straight to fauxqs.
      const runs: number[] = []
      const timedRun = async () => { await drop(); return (await run(process.execPath, [...args, '-q'], direct)).seconds }
      runs.push(await timedRun())
      if (runs[0] * 3 <= REPEAT_BUDGET_S) for (let i = 0; i < 2; i++) runs.push(await timedRun())
      log(`${mode}: ${runs.map(fmtS).join(', ')}`)

      // Verify the archive once: every member byte-exact, the TOC first.
      const dl = join(work, `dl-${mode}`)
      mkdirSync(join(dl, 'x'), {recursive: true})
      await aws(['s3', 'cp', `s3://${bucket}/${key}`, join(dl, key), '--only-show-errors'])
      const names = (await run('tar', ['-tf', join(dl, key)], direct)).stdout.split('\n').filter(Boolean)
      await run('tar', ['-xf', join(dl, key), '-C', join(dl, 'x')], direct)
      const files = names.filter(n => n !== 'toc.csv')
      const diff = await run('diff', ['-rq', '--exclude=toc.csv', src, join(dl, 'x')], direct).then(() => 'identical', e => `DIFFERS: ${String(e).slice(0, 400)}`)
      const tocLines = readFileSync(join(dl, 'x', 'toc.csv'), 'utf8').split('\n').filter(Boolean).length
      const inOrder = files.every((n, i) => n === objectName(i))
      const verify = `${names.length} members (${files.length} objects${names[0] === 'toc.csv' ? ' + toc.csv first' : ''}, toc.csv ${tocLines} lines); ` +
        `${inOrder ? 'key order' : 'NOT in key order'}; \`diff -r\` against the sources: ${diff}`
      const ok = files.length === OBJECTS && names[0] === 'toc.csv' && tocLines === OBJECTS && inOrder && diff === 'identical'
      log(`${mode}: ${ok ? 'verified' : 'VERIFY FAILED'}: ${verify}`)
      rmSync(dl, {recursive: true, force: true})
      const index = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', `${key}.s3ci`]).then(() => true, () => false)
      const listed = JSON.parse((await aws(['s3api', 'list-objects-v2', '--bucket', bucket, '--output', 'json'])).stdout || '{}') as {Contents?: {Key: string}[]}
      const leftovers = (listed.Contents ?? []).map(o => o.Key).filter(k => !k.startsWith('src/') && k !== key && k !== `${key}.s3ci`)
      const mpus = JSON.parse((await aws(['s3api', 'list-multipart-uploads', '--bucket', bucket, '--output', 'json']).catch(() => ({stdout: '{}'}))).stdout || '{}') as {Uploads?: {Key: string}[]}
      leftovers.push(...(mpus.Uploads ?? []).map(u => `open upload ${u.Key}`))
      await drop()
      if (!ok) throw new Error(`archive of --mode ${mode} is wrong: ${verify}`)
      results.push({mode, seconds: median(runs), runs, proxied: counted.seconds, measured, plan: (counted.stdout.split('\n').find(l => l.startsWith('s3://')) ?? plan.split('\n').find(l => l.startsWith('s3://')) ?? '?').trim(), verify, index, leftovers})
    }
  } finally {
    await proxy.stop()
    // stop() waits for an 'exit' that never comes if fauxqs already died (e.g. OOM-killed): do not wait forever.
    await Promise.race([fauxqs.stop(), new Promise(resolve => setTimeout(resolve, 5000))])
    rmSync(work, {recursive: true, force: true})
  }

  const def = s3tarDefault(sizes, 10 * MiB)
  const def5 = s3tarDefault(sizes, 5 * MiB)
  const mem = s3tarInMemory(sizes, 5 * MiB)
  const cols: Kind[] = ['ListObjectsV2', 'HeadObject', 'GetObject', 'PutObject', 'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'DeleteObject', 'DeleteObjects']
  const extra = (c: Counts) => KINDS.filter(k => !cols.includes(k) && c[k] > 0).map(k => `${c[k]} ${k}`).join(', ')
  const row = (what: string, time: string, c: Counts, total: number, down: number, upBytes: number, index: string) =>
    `| ${what} | ${time} | ${cols.map(k => cell(c[k])).join(' | ')} | ${cell(total)}${extra(c) ? ` (incl. ${extra(c)})` : ''} | ${fmtB(down)} | ${fmtB(upBytes)} | ${index} |`
  const rows = [
    ...results.map(r => row(`s3c \`--mode ${r.mode}\``, `${fmtS(r.seconds)}${r.runs.length > 1 ? ` (${r.runs.map(fmtS).join(' / ')})` : ''}`,
      r.measured.counts, r.measured.total, r.measured.bytesDownloaded, r.measured.bytesUploaded, r.index ? 'yes: `.s3ci` + toc.csv' : 'toc.csv only (no `.s3ci`!)')),
    row('s3tar default (computed)', '–', def.counts, def.total, 0, def.bytesUploaded, 'toc.csv'),
    row('s3tar `--concat-in-memory` (computed)', '–', mem.counts, mem.total, mem.bytesDownloaded, mem.bytesUploaded, 'no (README: no TOC in this mode)'),
  ]
  const anomalies: string[] = []
  const notes: string[] = []
  const copyRun = results.find(r => r.mode === 'copy')
  if (copyRun) notes.push(`\`--mode copy\` makes ${(copyRun.measured.counts.CreateMultipartUpload - 1).toLocaleString('en-US')} temporary objects ` +
    `(a small object can only end a multipart upload) and deletes them with ${copyRun.measured.counts.DeleteObjects} DeleteObjects requests of up to 1,000 keys: ` +
    `${copyRun.measured.total.toLocaleString('en-US')} requests in all against s3tar's computed ${def.total.toLocaleString('en-US')} ` +
    `(whatever s3tar spends deleting its intermediate objects is not counted there).`)
  const autoRun = results.find(r => r.mode === 'auto')
  if (autoRun) notes.push(`\`--mode auto\`: ${autoRun.measured.counts.CreateMultipartUpload - 1} temporary objects for ${bigCount} big objects ` +
    '(a big object followed by under 5 MiB of built bytes — headers, small objects — cannot be a part of its own): each is [5 MiB of padding ' +
    'copied from one zero object per archive][the big object][the bytes after it], so only real bytes are uploaded (the first version uploaded ' +
    '5 MiB of zeros per temporary object, 1.04 GiB in all here); each big object is still copied twice inside S3, into the temporary object and ' +
    'then into the archive.')
  const planChecks: string[] = []
  for (const r of results) {
    const diffs = (['CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'GetObject', 'PutObject', 'DeleteObjects'] as Kind[])
      .map(k => ({k, plan: Number(new RegExp(`(\\d+) ${k}\\b`).exec(r.plan)?.[1] ?? NaN), got: r.measured.counts[k]}))
      .filter(d => d.plan !== d.got)
    planChecks.push(diffs.length === 0 ? `\`${r.mode}\`: the same as counted` : `\`${r.mode}\`: differs from the count: ${diffs.map(d => `${d.k} planned ${d.plan}, sent ${d.got}`).join('; ')}`)
    if (diffs.length > 0) anomalies.push(`\`--mode ${r.mode}\`: \`--stats\` does not match the requests sent: ${diffs.map(d => `${d.k} ${d.plan} vs ${d.got}`).join(', ')}.`)
    if (r.measured.errors > 0) anomalies.push(`\`--mode ${r.mode}\`: ${r.measured.errors} requests answered with an error status (retried).`)
    if (r.leftovers.length > 0) anomalies.push(`\`--mode ${r.mode}\`: left behind: ${r.leftovers.slice(0, 5).join(', ')}${r.leftovers.length > 5 ? ` … (${r.leftovers.length})` : ''}.`)
  }
  const body = [
    '## tar create: 2,000 objects already in S3 (`npm run bench:tar`)',
    '',
    `Run ${utcNow()} UTC on ${machine()}, ${fauxqs.local ? 'fauxqs on the same machine' : `the S3 server at ${fauxqs.endpoint}`}; load average ${loadStart} at the start, ` +
      `${loadavg()[0].toFixed(1)} at the end (other processes on the machine share the two cores).`,
    '',
    `${OBJECTS.toLocaleString('en-US')} objects under one prefix, sizes from seed ${SEED}: ${(OBJECTS - bigCount).toLocaleString('en-US')} of ` +
      `${SMALL[0] / KiB}–${SMALL[1] / KiB} KiB, ${bigCount} of ${BIG[0] / MiB}–${BIG[1] / MiB} MiB (key order mixes them), ${fmtB(totalBytes)} in all ` +
      `(uploaded with \`s3c upload\` in ${fmtS(uploadSeconds)}). Each mode: \`s3c tar create -f s3://bench/out-MODE.tar s3://bench/src/ --mode MODE\`. ` +
      `Time: the whole command (process start included) straight to fauxqs, median of 3 when a run is under ${REPEAT_BUDGET_S / 3} s, else 1. ` +
      'Requests: one more run through a counting proxy in front of fauxqs (HTTP requests as sent, retries included; UploadPart vs UploadPartCopy ' +
      'by the `x-amz-copy-source` header); each cell is the total and, in brackets, per object. Bytes downloaded: response bodies of GetObject; ' +
      'bytes uploaded: request bodies of UploadPart and PutObject (server-side copies not included). ' +
      `Every archive was downloaded and checked with GNU tar: toc.csv first, then the ${OBJECTS.toLocaleString('en-US')} objects in key order, every one byte-identical to its source (\`diff -r\`).`,
    '',
    `| run | create time | ${cols.join(' | ')} | all requests | bytes downloaded | bytes uploaded | index written |`,
    `|---|---|${cols.map(() => '---|').join('')}---|---|---|---|`,
    ...rows,
    '',
    '`s3c tar create --stats` (the planner\'s own count, printed by the counted run):',
    '',
    ...results.map(r => `- \`${r.mode}\`: ${r.plan.replace(/^s3:\/\/\S+: /, '')}`),
    '',
    `Planner vs proxy (ListObjectsV2 aside, which the planner does not count): ${planChecks.join('; ')}.`,
    '',
    '**s3tar rows are computed from its README, not measured** (no s3tar binary here). Default mode: the set has objects under 5 MB, so it takes ' +
      'the small-object path the README describes, `Group = remove5MB([(((((5MB File) + header1) + file1) + header2) + file2)…])` in groups of ~10 MB, ' +
      'then `Concat(Group1, Group2, …)`. Each `+` is one multipart upload of two parts (only the last part may be under 5 MiB, so a header and ' +
      'the object after it cannot share one append): CreateMultipartUpload + UploadPartCopy of the object so far + UploadPart (header) or ' +
      'UploadPartCopy (object) + CompleteMultipartUpload. Per archive with M members (the objects + the TOC) in G groups: ' +
      '`8·M + 4` (two appends per member, one for the end blocks) `+ 3·G` (remove5MB: one ranged copy) `+ (G + 2)` (final Concat, every group ≥ 5 MiB) ' +
      '`+ 1` PutObject (the 5 MB zero file) `+ ⌈N/1000⌉` ListObjectsV2. ' +
      `Here G = ${def.groups} (${def.note}); with 5 MiB groups G = ${def5.groups} and ${def5.total.toLocaleString('en-US')} requests in all. ` +
      `Each append copies the whole object so far inside S3: ${fmtB(def.copiedBytes)} copied server-side for a ${fmtB(totalBytes)} archive. ` +
      'Deleting the intermediate objects is not counted. `--concat-in-memory`: the README\'s formula "(files × GET) + (parts × PUT)": one GetObject ' +
      `per object, one UploadPart per part, plus CreateMultipartUpload and Complete; the README gives no part size, so parts are cut at 5 MiB ` +
      `(${mem.note}); no TOC.`,
    '',
    '**What bounds these numbers.** Two cores run both the s3c process and fauxqs (plus, for the counted run, the proxy), so every mode is CPU-bound ' +
      'on this machine, not network-bound. fauxqs keeps multipart parts in memory and serves an UploadPartCopy by copying bytes inside its ' +
      'process: "server-side" copies cost CPU and memory bandwidth here that real S3 spends on its side, in parallel across its fleet. ' +
      'It also holds every object in memory: each archive is deleted before each run and after its check (keeping the three 1.8 GiB archives ' +
      'got fauxqs OOM-killed at 15.5 GB resident in a first attempt). ' +
      '`--mode copy` sends each object under 5 MiB through the temporary padded objects (a small object can only be a multipart upload\'s last ' +
      'part, so every one ends an upload and the next upload starts by copying the temporary object so far), so its request count and its ' +
      'server-side copy volume grow with the number of small objects; `--mode memory` downloads every byte and uploads it again (two passes through ' +
      'this machine); `--mode auto` downloads only the small objects and copies the big ones. On AWS, per-request latency (tens of ms for ' +
      'UploadPartCopy) and the request price (PUT/COPY/POST 12.5× a GET) dominate instead: the request columns are the part that carries over.',
    ...notes.flatMap(n => ['', n]),
    ...(anomalies.length > 0 ? ['', '**Anomalies.**', '', ...anomalies.map(a => `- ${a}`)] : []),
  ].join('\n')
  writeBenchSection('tar', body)
  process.stdout.write(`${body}\n`)
  log('done')
}

await main()
