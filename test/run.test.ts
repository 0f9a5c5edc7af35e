import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli} from './harness/cli.js'
import {newBucket} from './harness/hooks.js'
import {getObject, listKeys, putObject} from './harness/objects.js'

describe('run', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  it('300 lines of cp and mv in one process, quoted names, comments; a failing line makes exit 1 and the rest still run', async function () {
    const bucket = await newBucket('run')
    const dir = mkdtempSync(join(tmpdir(), 's3c-run-'))
    dirs.push(dir)
    for (let i = 0; i < 100; i++) await putObject(bucket, `src/file ${i}.txt`, Buffer.from(`content ${i}`))
    for (let i = 0; i < 100; i++) await putObject(bucket, `m/file ${i}.txt`, Buffer.from(`move ${i}`))
    const lines = ['# copies and moves', '']
    for (let i = 0; i < 100; i++) lines.push(`cp "s3://${bucket}/src/file ${i}.txt" s3://${bucket}/copy/`)
    for (let i = 0; i < 100; i++) lines.push(`cp 's3://${bucket}/src/file ${i}.txt' '${join(dir, `local ${i}.txt`)}'  # a download`)
    for (let i = 0; i < 99; i++) lines.push(`mv s3://${bucket}/m/file\\ ${i}.txt s3://${bucket}/moved/`)
    lines.push(`cp s3://${bucket}/src/missing.txt s3://${bucket}/x/`)
    const file = join(dir, 'commands.txt')
    writeFileSync(file, lines.join('\n') + '\n')
    const r = await runCli(['run', file, '--jobs', '16', '--json'])
    assert.equal(r.code, 1, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.deepEqual([out.lines, out.failed], [300, 1])
    assert.match(r.stderr, /^302: error: s3:\/\/.*missing\.txt does not exist/m)
    assert.equal((await listKeys(bucket, 'copy/')).size, 100)
    assert.equal((await listKeys(bucket, 'moved/')).size, 99)
    assert.deepEqual([...(await listKeys(bucket, 'm/')).keys()], ['m/file 99.txt'])
    assert.equal((await getObject(bucket, 'moved/file 7.txt')).toString(), 'move 7')
    assert.equal(readFileSync(join(dir, 'local 42.txt'), 'utf8'), 'content 42')
  })

  it('stdin, a bad line and an unknown verb fail alone; a missing file is exit 2', async function () {
    const bucket = await newBucket('runs')
    await putObject(bucket, 'a.txt', Buffer.from('a'))
    const input = Buffer.from(`cp s3://${bucket}/a.txt s3://${bucket}/b.txt\nfrobnicate x y\ncp s3://${bucket}/a.txt | tee\ncp --bogus s3://${bucket}/a.txt s3://${bucket}/c.txt\n`)
    const r = await runCli(['run', '-'], {input})
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stdout, /^1: cp: 1 done/m)
    assert.match(r.stderr, /^2: error: "frobnicate" is not a command run can call/m)
    assert.match(r.stderr, /^3: error: "\|" is a shell operator/m)
    assert.match(r.stderr, /^4: error: cp: Nonexistent flag: --bogus$/m)
    assert.equal((await getObject(bucket, 'b.txt')).toString(), 'a')
    const missing = await runCli(['run', '/nonexistent/commands.txt'])
    assert.equal(missing.code, 2)
    assert.equal(missing.stderr.trim().split('\n').length, 1)
  })

  it('rm lines: many URLs and wildcards a line, --dry-run, a line that matches nothing fails alone', async function () {
    const bucket = await newBucket('runrm')
    for (let i = 0; i < 30; i++) await putObject(bucket, `logs/${i}.gz`, Buffer.from('x'))
    await putObject(bucket, 'keep/a.txt', Buffer.from('k'))
    await putObject(bucket, 'one.txt', Buffer.from('1'))
    const input = Buffer.from([
      `rm 's3://${bucket}/logs/1*.gz' s3://${bucket}/one.txt`,
      `rm --dry-run s3://${bucket}/keep/`,
      `rm 's3://${bucket}/nothing/*'`,
      `rm s3://${bucket}/logs/`,
    ].join('\n') + '\n')
    const r = await runCli(['run', '-', '--jobs', '1'], {input})
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stdout, /^1: rm: 12 done/m)
    assert.match(r.stderr, /^3: error: rm: nothing matches/m)
    assert.match(r.stdout, /^4: rm: 19 done/m)
    assert.deepEqual([...(await listKeys(bucket)).keys()].sort(), ['keep/a.txt'])
  })
})
