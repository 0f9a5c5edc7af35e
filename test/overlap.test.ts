import assert from 'node:assert/strict'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {getObject, listKeys, putObject} from './harness/objects.js'

/*
 * The core's rules on where a verb may write and what a source must name (issue 22, "Data lost
 * today"), as a matrix: every verb that writes (cp, mv, sync, sync --delete, `run` lines, the
 * library's copy/move/sync) × S3→S3 × a prefix, a folder (a key naming a "folder") and a
 * wildcard. In one bucket, a destination inside its source (or holding it) is refused with exit
 * 2 and nothing changes; local↔S3 cannot meet, and the same shapes do what they say there.
 */

const N = 30

async function seed(bucket: string): Promise<Map<string, number>> {
  for (let i = 0; i < N; i++) await putObject(bucket, `a/f${String(i).padStart(2, '0')}.txt`, Buffer.from(`file ${i}\n`))
  await putObject(bucket, 'a/sub/keep.txt', Buffer.from('keep\n'))
  return listKeys(bucket)
}

describe('no verb writes where it lists; no source that names nothing deletes', function () {
  const dirs: string[] = []
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  const shapes = (b: string) => [
    ['a prefix', `s3://${b}/a/`],
    ['a folder', `s3://${b}/a`],
    ['a wildcard', `s3://${b}/a/*.txt`],
  ] as const

  for (const verb of ['cp', 'mv', 'sync', 'sync --delete'] as const) {
    it(`${verb} S3→S3 into a folder inside its source, and onto the folder that holds it: refused, exit 2, nothing changed`, async function () {
      const bucket = await newBucket('ovl')
      const before = await seed(bucket)
      const args = verb === 'sync --delete' ? ['sync', '--delete'] : [verb]
      for (const [shape, src] of shapes(bucket)) {
        if (verb.startsWith('sync') && shape === 'a wildcard') continue // sync takes folders (its wildcard case is the empty source below)
        for (const dst of [`s3://${bucket}/a/sub/`, `s3://${bucket}/a/copy`]) {
          const r = await runCli([...args, src, dst])
          assert.equal(r.code, 2, `${verb} ${shape} -> ${dst}: ${r.stderr}`)
          assert.match(r.stderr, /lies inside the source|is the source itself|onto itself/, `${verb} ${shape}`)
          assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
        }
        // The source inside the destination: a/ into the bucket's root.
        if (shape !== 'a wildcard') {
          const r = await runCli([...args, src, `s3://${bucket}/`])
          assert.equal(r.code, 2, `${verb} ${shape} -> root: ${r.stderr}`)
          assert.match(r.stderr, /holds the source|onto itself/)
        }
      }
      assert.deepEqual(await listKeys(bucket), before)
    })
  }

  it('an exclude that covers the destination folder keeps the listing out of it: mv of a wildcard into its own subfolder moves each object once', async function () {
    const bucket = await newBucket('ovx')
    await seed(bucket)
    const r = await runCli(['mv', `s3://${bucket}/a/*.txt`, `s3://${bucket}/a/archive/`, '--exclude', 'archive/*', '--exclude', 'sub/*', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).filesDone, N)
    const keys = await listKeys(bucket)
    assert.equal([...keys.keys()].filter(k => k.startsWith('a/archive/')).length, N)
    assert.equal([...keys.keys()].filter(k => /^a\/f\d+\.txt$/.test(k)).length, 0)
    for (let i = 0; i < N; i += 7) assert.equal((await getObject(bucket, `a/archive/f${String(i).padStart(2, '0')}.txt`)).toString(), `file ${i}\n`)
  })

  it('a wildcard whose literal part cannot reach the destination folder is no overlap: cp of a/f0* into a/sub/', async function () {
    const bucket = await newBucket('ovw')
    await seed(bucket)
    const r = await runCli(['cp', `s3://${bucket}/a/f0*`, `s3://${bucket}/a/sub/`, '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).filesDone, 10)
  })

  it('run lines and the library refuse the same pairs (the rule is in the verb\'s core, not the command)', async function () {
    const bucket = await newBucket('ovr')
    const before = await seed(bucket)
    const lines = [`mv s3://${bucket}/a/ s3://${bucket}/a/sub/`, `cp 's3://${bucket}/a/*' s3://${bucket}/a/x/`, `sync s3://${bucket}/a s3://${bucket}/a/y/`].join('\n') + '\n'
    const r = await runCli(['run', '-', '--json'], {input: Buffer.from(lines)})
    assert.equal(r.code, 1, r.stderr)
    assert.deepEqual([JSON.parse(r.stdout).lines, JSON.parse(r.stdout).failed], [3, 3])
    for (const n of [1, 2, 3]) assert.match(r.stderr, new RegExp(`^${n}: error: .*(lies inside the source)`, 'm'))
    const {s3} = harness()
    Object.assign(process.env, {AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region, AWS_ENDPOINT_URL: s3.endpoint})
    const api = await import(join(process.cwd(), 'dist/src/index.js')) as typeof import('../src/index.js')
    for (const call of [() => api.move(`s3://${bucket}/a/`, `s3://${bucket}/a/sub/`), () => api.copy(`s3://${bucket}/a/*`, `s3://${bucket}/a/z/`),
      () => api.sync(`s3://${bucket}/a/`, `s3://${bucket}/a/w/`, {delete: true})]) {
      await assert.rejects(call(), (e: {exitCode?: number; message: string}) => e.exitCode === 2 && /lies inside the source/.test(e.message))
    }
    assert.deepEqual(await listKeys(bucket), before)
  })

  it('local→S3 and S3→local cannot meet: the same shapes copy and move what they name', async function () {
    const bucket = await newBucket('ovl2')
    await seed(bucket)
    const dst = mk('ovdst')
    for (const [shape, src] of shapes(bucket)) {
      const into = join(dst, shape.replace(/ /g, '-'))
      const r = await runCli(['cp', src, `${into}/`, '--json'])
      assert.equal(r.code, 0, `${shape}: ${r.stderr}`)
      assert.ok(JSON.parse(r.stdout).filesDone >= N, shape)
    }
    const local = mk('ovsrc')
    for (let i = 0; i < 5; i++) writeFileSync(join(local, `g${i}.txt`), `g${i}`)
    mkdirSync(join(local, 'sub'))
    writeFileSync(join(local, 'sub', 'h.txt'), 'h')
    const up = await runCli(['mv', join(local, '*.txt'), `s3://${bucket}/b/`, '--json'])
    assert.equal(up.code, 0, up.stderr)
    assert.equal(JSON.parse(up.stdout).filesDone, 6)
    assert.equal((await getObject(bucket, 'b/sub/h.txt')).toString(), 'h')
    assert.ok(!existsSync(join(local, 'g0.txt')))
  })

  it('sync --delete from an S3 prefix that lists nothing is refused (exit 2) and deletes nothing, to S3 and to a folder', async function () {
    const bucket = await newBucket('emp')
    await seed(bucket)
    const before = await listKeys(bucket)
    const typo = await runCli(['sync', '--delete', `s3://${bucket}/nosuchprefix/`, `s3://${bucket}/a/`])
    assert.equal(typo.code, 2, typo.stderr)
    assert.match(typo.stderr, /lists nothing.*nothing was deleted/)
    const literal = await runCli(['sync', '--delete', `s3://${bucket}/a/*.nomatch`, `s3://${bucket}/c/`])
    assert.equal(literal.code, 2, literal.stderr)
    const wild = await runCli(['sync', `s3://${bucket}/a/*.txt`, `s3://${bucket}/c/`])
    assert.equal(wild.code, 2, wild.stderr)
    assert.match(wild.stderr, /takes folders, not a wildcard/)
    assert.deepEqual(await listKeys(bucket), before)
    const folder = mk('empdst')
    writeFileSync(join(folder, 'precious.txt'), 'precious')
    const down = await runCli(['sync', '--delete', `s3://${bucket}/nosuchprefix/`, folder])
    assert.equal(down.code, 2, down.stderr)
    assert.equal(readFileSync(join(folder, 'precious.txt'), 'utf8'), 'precious')
    const dry = await runCli(['sync', '--delete', '--dry-run', `s3://${bucket}/nosuchprefix/`, folder])
    assert.equal(dry.code, 2, dry.stderr)
  })

  it('cp and mv of a wildcard that matches nothing exit 2 with one line, in every direction', async function () {
    const bucket = await newBucket('nom')
    await seed(bucket)
    const local = mk('nomsrc')
    writeFileSync(join(local, 'x.txt'), 'x')
    for (const [src, dst] of [[`s3://${bucket}/a/*.none`, `s3://${bucket}/z/`], [`s3://${bucket}/a/*.none`, mk('nomdst')], [join(local, '*.none'), `s3://${bucket}/z/`]]) {
      for (const verb of ['cp', 'mv']) {
        const r = await runCli([verb, src, dst])
        assert.equal(r.code, 2, `${verb} ${src}: ${r.stderr}`)
        assert.match(r.stderr, /no (object|file) matches/)
      }
    }
  })
})
