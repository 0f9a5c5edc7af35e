import assert from 'node:assert/strict'
import {existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {listKeys, putObject} from './harness/objects.js'
import {PutObjectCommand} from '@aws-sdk/client-s3'
import {s3Client} from './harness/hooks.js'

async function putObjectWithMeta(bucket: string, key: string, body: Buffer, Metadata: Record<string, string>): Promise<void> {
  const c = s3Client()
  try {
    await c.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: body, Metadata}))
  } finally {
    c.destroy()
  }
}
import {startProxy} from './harness/proxy.js'
import {compareTrees, makeTree} from './harness/tree.js'

describe('sync', function () {
  const dirs: string[] = []
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  it('S3→S3: copies server-side, a second run copies nothing, a changed object is copied again, --delete removes in batches', async function () {
    const bucket = await newBucket('syncs')
    const other = await newBucket('synco')
    for (let i = 0; i < 30; i++) await putObject(bucket, `src/d${i % 4}/f${i}.txt`, Buffer.from(`object ${i}`))
    await putObject(other, 'dst/extra-1.txt', Buffer.from('gone'))
    await putObject(other, 'dst/d1/extra-2.txt', Buffer.from('gone'))
    await putObject(other, 'dst/keep.log', Buffer.from('excluded, so kept'))
    const proxy = await startProxy(harness().s3.endpoint)
    const env = {AWS_ENDPOINT_URL: proxy.endpoint}
    const copies = () => proxy.count('PUT', r => r.copySource !== undefined)
    const deletes = () => proxy.count('POST', r => r.query.includes('delete'))
    try {
      const dry = await runCli(['sync', `s3://${bucket}/src/`, `s3://${other}/dst/`, '--delete', '--exclude', '*.log', '--dry-run'], {env})
      assert.equal(dry.code, 0, dry.stderr)
      assert.match(dry.stdout, /delete s3:\/\/.*\/dst\/extra-1\.txt/)
      assert.equal(copies() + deletes(), 0, 'a dry run writes nothing')
      const first = await runCli(['sync', `s3://${bucket}/src/`, `s3://${other}/dst/`, '--delete', '--exclude', '*.log', '--json'], {env})
      assert.equal(first.code, 0, first.stderr)
      const s = JSON.parse(first.stdout)
      assert.deepEqual([s.filesDone, s.deleted], [30, 2])
      assert.equal(copies(), 30)
      assert.equal(deletes(), 1, 'one DeleteObjects request')
      assert.equal(proxy.count('GET', r => !r.query.includes('list-type')), 0, 'no object bytes through the client')
      assert.deepEqual([...(await listKeys(other, 'dst/')).keys()].filter(k => !k.includes('/d')).sort(), ['dst/f0.txt', 'dst/keep.log'].filter(k => k === 'dst/keep.log'))
      assert.equal((await listKeys(other, 'dst/')).size, 31)
      proxy.reset()
      const second = await runCli(['sync', `s3://${bucket}/src/`, `s3://${other}/dst/`, '--json'], {env})
      assert.equal(JSON.parse(second.stdout).filesSkipped, 30)
      assert.equal(copies(), 0, 'nothing copied again')
      await putObject(bucket, 'src/d1/f1.txt', Buffer.from('object 1, longer now'))
      await putObject(bucket, 'src/d2/f2.txt', Buffer.from('object 2')) // same bytes, new Last-Modified: same ETag
      proxy.reset()
      const third = await runCli(['sync', `s3://${bucket}/src/`, `s3://${other}/dst/`, '--json'], {env})
      assert.equal(JSON.parse(third.stdout).filesDone, 1)
      assert.equal(copies(), 1)
    } finally {
      await proxy.stop()
    }
  })

  it('S3→S3: a same-size object of another content is copied when its time differs (the time rule), --size-only skips it', async function () {
    const bucket = await newBucket('synct')
    await putObject(bucket, 'a/x.txt', Buffer.from('AAAA'))
    // Written after the source, and says another time (an upload of another file).
    await putObjectWithMeta(bucket, 'b/x.txt', Buffer.from('BBBB'), {mtime: '1000000000'})
    const sizeOnly = await runCli(['sync', `s3://${bucket}/a/`, `s3://${bucket}/b/`, '--size-only', '--json'])
    assert.equal(JSON.parse(sizeOnly.stdout).filesSkipped, 1)
    // The destination was written after the source, which has no mtime metadata: by default its copy.
    const byDefault = await runCli(['sync', `s3://${bucket}/a/`, `s3://${bucket}/b/`, '--json'])
    assert.equal(JSON.parse(byDefault.stdout).filesSkipped, 1)
    const exact = await runCli(['sync', `s3://${bucket}/a/`, `s3://${bucket}/b/`, '--exact-timestamps', '--json'])
    assert.equal(JSON.parse(exact.stdout).filesDone, 1, exact.stderr)
    const nested = await runCli(['sync', `s3://${bucket}/a/`, `s3://${bucket}/a/sub/`])
    assert.equal(nested.code, 2)
  })

  it('local→S3 and S3→local --delete remove what the source no longer has (filters respected)', async function () {
    const src = mk('syncl')
    makeTree(src, {files: 60, depth: 3})
    writeFileSync(join(src, 'keep.tmp'), 'x')
    const bucket = await newBucket('syncl')
    const up = await runCli(['sync', src, `s3://${bucket}/t/`])
    assert.equal(up.code, 0, up.stderr)
    assert.equal((await listKeys(bucket, 't/')).size, 61)
    const dst = mk('syncd')
    assert.equal((await runCli(['sync', `s3://${bucket}/t/`, dst])).code, 0)
    assert.deepEqual(compareTrees(src, dst), [])
    const gone = [...(await listKeys(bucket, 't/')).keys()].filter(k => !k.endsWith('keep.tmp')).slice(0, 7).map(k => k.slice(2))
    for (const rel of gone) unlinkSync(join(src, rel))
    unlinkSync(join(src, 'keep.tmp'))
    const del = await runCli(['sync', src, `s3://${bucket}/t/`, '--delete', '--exclude', '*.tmp', '--json'])
    assert.equal(del.code, 0, del.stderr)
    assert.equal(JSON.parse(del.stdout).deleted, 7)
    const keys = await listKeys(bucket, 't/')
    assert.equal(keys.size, 54)
    assert.ok(keys.has('t/keep.tmp'), 'an excluded name is not deleted')
    const down = await runCli(['sync', `s3://${bucket}/t/`, dst, '--delete', '--json'])
    assert.equal(down.code, 0, down.stderr)
    assert.equal(JSON.parse(down.stdout).deleted, 7)
    for (const rel of gone) assert.ok(!existsSync(join(dst, rel)), rel)
    assert.ok(existsSync(join(dst, 'keep.tmp')))
  })

  it('--dry-run names only what would change (no skip lines) and sums it up in one line; --json holds the same', async function () {
    const src = mk('syncdry')
    makeTree(src, {files: 20, depth: 2})
    const bucket = await newBucket('syncdry')
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const env = {AWS_ENDPOINT_URL: proxy.endpoint}
      // The same endpoint as the dry runs: the sync state it leaves is theirs.
      assert.equal((await runCli(['sync', src, `s3://${bucket}/t/`], {env})).code, 0)
      // One new file; on the other side one object the source lacks.
      writeFileSync(join(src, 'new.txt'), 'new')
      await putObject(bucket, 't/extra.txt', Buffer.from('extra'))
      proxy.reset()
      for (const [from, to, verb] of [[src, `s3://${bucket}/t/`, 'upload'], [`s3://${bucket}/t/`, mk('syncdrydst'), 'download'], [`s3://${bucket}/t/`, `s3://${bucket}/u/`, 'copy']] as const) {
        const r = await runCli(['sync', from, to, '--delete', '--dry-run'], {env})
        assert.equal(r.code, 0, r.stderr)
        const lines = r.stdout.trim().split('\n')
        assert.ok(lines.every(l => !l.startsWith('skip')), r.stdout)
        const plan = lines.slice(0, -1)
        // check: same size, no sync state to tell: the run decides with a request (a change, maybe).
        assert.ok(plan.every(l => new RegExp(`^(${verb}|check|delete) `).test(l)), r.stdout)
        const j = JSON.parse((await runCli(['sync', from, to, '--delete', '--dry-run', '--json'], {env})).stdout)
        assert.deepEqual(j.plan, plan, 'the same plan in --json')
        assert.equal(j.dryRun, true)
        const n = (action: string) => plan.filter(l => l.startsWith(`${action} `)).length
        const counts = Object.fromEntries(['check', verb, 'delete'].map(a => [a, n(a)] as const).filter(([, c]) => c > 0))
        assert.deepEqual(j.planned, counts)
        assert.equal(n('check') + n(verb) + j.filesSkipped, 21, 'every file of the source is planned or counted unchanged')
        const acts = Object.entries(j.planned as Record<string, number>).map(([a, c]) => `${a} ${c}`).join(', ')
        assert.match(lines.at(-1)!, new RegExp(`^sync \\(dry run\\): would ${acts} \\(.+\\); ${j.filesSkipped} unchanged$`))
        if (verb === 'upload') {
          assert.deepEqual(plan.filter(l => !l.startsWith('check ')).map(l => l.split(' ')[1]), ['new.txt', `s3://${bucket}/t/extra.txt`])
        }
      }
      assert.equal(proxy.count('PUT') + proxy.count('POST') + proxy.count('DELETE'), 0, 'a dry run writes nothing')
    } finally {
      await proxy.stop()
    }
  })

  it('after a sync, the same sync --dry-run prints its summary alone, in every direction (an object uploaded in parts, copied whole, included)', async function () {
    const src = mk('syncagain')
    // Plain names: fauxqs lists in locale order, which the merge would report for names of other scripts.
    for (let i = 0; i < 12; i++) {
      mkdirSync(join(src, `d${i % 3}`), {recursive: true})
      writeFileSync(join(src, `d${i % 3}`, `f${i}.txt`), 'x'.repeat(i * 10))
    }
    // Above the multipart threshold: its ETag is a multipart one, its S3→S3 copy (CopyObject) gets another of the same size.
    writeFileSync(join(src, 'big.bin'), Buffer.alloc(9 * 1024 * 1024, 7))
    const bucket = await newBucket('syncagain')
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const env = {AWS_ENDPOINT_URL: proxy.endpoint}
      for (const [from, to] of [[src, `s3://${bucket}/p/`], [`s3://${bucket}/p/`, mk('syncagain-dst')], [`s3://${bucket}/p/`, `s3://${bucket}/q/`]]) {
        const first = await runCli(['sync', from, to], {env})
        assert.equal(first.code, 0, first.stderr)
        proxy.reset()
        const dry = await runCli(['sync', '--dry-run', from, to], {env})
        assert.equal(dry.code, 0, dry.stderr)
        assert.equal(dry.stderr, '')
        assert.equal(dry.stdout, 'sync (dry run): would change nothing; 13 unchanged\n', `${from} -> ${to}`)
        assert.equal(proxy.count('PUT') + proxy.count('POST') + proxy.count('DELETE'), 0, 'a dry run writes nothing')
        // And the run agrees: nothing is sent again.
        const again = await runCli(['sync', from, to, '--json'], {env})
        assert.deepEqual([JSON.parse(again.stdout).filesDone, JSON.parse(again.stdout).filesSkipped], [0, 13], `${from} -> ${to}`)
      }
    } finally {
      await proxy.stop()
    }
  })
})
