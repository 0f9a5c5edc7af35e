import assert from 'node:assert/strict'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {remove} from '../../src/api/files.js'

describe('the library\'s remove on local paths', function () {
  let dir: string
  let cwd: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 's3c-remove-'))
    mkdirSync(join(dir, 'folder/deep'), {recursive: true})
    writeFileSync(join(dir, 'folder/deep/x'), 'x')
    writeFileSync(join(dir, 'a.log'), 'a')
    writeFileSync(join(dir, 'b.log'), 'b')
    cwd = process.cwd()
  })
  afterEach(() => {
    process.chdir(cwd)
    rmSync(dir, {recursive: true, force: true})
  })

  it('a folder only with recursive; without it, a failure and the folder kept', async function () {
    const kept = await remove(join(dir, 'folder'))
    assert.deepEqual([kept.removed, kept.failed], [0, 1])
    assert.match(kept.failures[0].error, /is a folder: pass \{recursive: true\}/)
    assert.ok(existsSync(join(dir, 'folder/deep/x')))
    const gone = await remove(join(dir, 'folder/'), {recursive: true})
    assert.deepEqual([gone.removed, gone.failed], [1, 0])
    assert.ok(!existsSync(join(dir, 'folder')))
  })

  it('never the current folder, one that holds it, / or the home folder, even with recursive', async function () {
    process.chdir(join(dir, 'folder/deep'))
    for (const p of ['./', '.', '..', join(dir, 'folder'), '/']) {
      const r = await remove(p, {recursive: true})
      assert.deepEqual([r.removed, r.failed], [0, 1], p)
      assert.match(r.failures[0].error, /s3c does not remove it/)
    }
    assert.ok(existsSync(join(dir, 'folder/deep/x')))
  })

  it('counts what happened: a missing file and a pattern that matches nothing are unmatched, a pattern removes its files', async function () {
    const r = await remove([join(dir, 'missing'), join(dir, '*.none'), join(dir, '*.log')])
    assert.deepEqual([r.removed, r.failed], [2, 0])
    assert.deepEqual(r.unmatched, [join(dir, 'missing'), join(dir, '*.none')])
    assert.ok(!existsSync(join(dir, 'a.log')) && !existsSync(join(dir, 'b.log')))
  })
})
