import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {commandLines, openQuote} from '../../src/verbs/run.js'

async function linesOf(text: string) {
  const out = []
  for await (const l of commandLines(Readable.from([text]))) out.push(l)
  return out
}

describe('run: reading command lines as sh would', function () {
  it('an unterminated quote is an error of its line, never run; quotes in comments are text', function () {
    assert.equal(openQuote(`cp 's3://b/a b' x`), undefined)
    assert.equal(openQuote(`cp 's3://b/a b x`), "'")
    assert.equal(openQuote(`cp "s3://b/a \\" b" x`), undefined)
    assert.equal(openQuote(`cp "s3://b/a`), '"')
    assert.equal(openQuote(`cp a b  # don't`), undefined)
    assert.equal(openQuote(`cp a#'b x`), "'")
  })

  it('a line ending with a backslash goes on on the next; numbers are the first line\'s', async function () {
    const out = await linesOf(`# head\ncp s3://b/a \\\n  s3://b/c/\n\ncp 'x y\nrm s3://b/z \\\n`)
    assert.deepEqual(out.map(l => [l.line, l.text, !!l.error]), [
      [2, 'cp s3://b/a   s3://b/c/', false],
      [5, "cp 'x y", true],
      [6, 'rm s3://b/z \\', true],
    ])
  })

  it('a folder given as the file is refused before any line (exit 2)', async function () {
    const dir = mkdtempSync(join(tmpdir(), 's3c-runlines-'))
    try {
      await assert.rejects(async () => { for await (const _ of commandLines(dir)) void _ }, (e: {exitCode: number; message: string}) => e.exitCode === 2 && /it is a folder/.test(e.message))
      await assert.rejects(async () => { for await (const _ of commandLines(join(dir, 'none'))) void _ }, (e: {exitCode: number}) => e.exitCode === 2)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
