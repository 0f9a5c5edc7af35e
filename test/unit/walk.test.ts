import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {walkLocal} from '../../src/local/walk.js'
import {decodeListedKey} from '../../src/s3/storage.js'
import {keyFilter} from '../../src/base/filter.js'
import {bytesOfName, fsPath, isFaithfulName, nameFromBytes} from '../../src/local/fs-path.js'

/** A path under `root` made of raw bytes (names that are not UTF-8 cannot be written as strings). */
function bpath(root: string, ...names: (string | Buffer)[]): Buffer {
  return Buffer.concat([Buffer.from(root), ...names.flatMap(n => [Buffer.from('/'), typeof n === 'string' ? Buffer.from(n) : n])])
}

// Names, filters and order without S3; test/walk.test.ts uploads and downloads such trees.
describe('the local walk: every file ends done, skipped or failed', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }

  describe('units', function () {
    it('maps bytes that are not UTF-8 to U+F780–U+F7FF and back, exactly', function () {
      const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]) // "café" in Latin-1
      assert.deepEqual(nameFromBytes(latin1), {name: 'caf\uf7e9', ambiguous: false})
      assert.deepEqual(bytesOfName('caf\uf7e9'), latin1)
      // Valid sequences stay as they are, each stray byte maps alone; truncated, overlong and
      // surrogate sequences are not valid UTF-8.
      for (const bytes of [[0xc3, 0xa9, 0xff, 0x41], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80, 0xbf, 0xfe, 0xf0, 0x9f, 0x98, 0x80]]) {
        const b = Buffer.from(bytes)
        const {name, ambiguous} = nameFromBytes(b)
        assert.equal(ambiguous, false)
        assert.deepEqual(bytesOfName(name), b, JSON.stringify(name))
        assert.equal(Buffer.from(name, 'utf8').toString('utf8'), name, 'a valid key')
      }
      assert.equal(nameFromBytes(Buffer.from([0xc3, 0xa9, 0xff])).name, 'é\uf7ff')
      // A valid name that already holds such a character cannot be told apart: refused.
      assert.equal(nameFromBytes(Buffer.from('x\uf7ff', 'utf8')).ambiguous, true)
      assert.equal(nameFromBytes(Buffer.from([0xff, ...Buffer.from('\uf780')])).ambiguous, true)
      assert.equal(fsPath('/plain/é'), '/plain/é')
      assert.deepEqual(fsPath('/a/\uf7ff'), Buffer.from([...Buffer.from('/a/'), 0xff]))
      // Keys s3c would never make from a local name (the characters spell valid UTF-8) are not faithful.
      assert.equal(isFaithfulName('caf\uf7e9'), true)
      assert.equal(isFaithfulName('\uf7c3\uf7a9'), false)
      assert.equal(isFaithfulName('plain'), true)
    })

    it('--include/--exclude patterns match names holding \\n and \\r', function () {
      assert.equal(keyFilter({include: ['**']})('a\nb'), true)
      assert.equal(keyFilter({include: ['**']})('d\r/x\ny'), true)
      assert.equal(keyFilter({include: ['a/**']})('a/x\ny'), true)
      assert.equal(keyFilter({exclude: ['**/*.tmp']})('d\n/x\r.tmp'), false)
      assert.equal(keyFilter({exclude: ['*.tmp']})('d/x.tmp'), false, '*.tmp matches at any depth: * crosses / (s5cmd, aws)')
    })

    it('decodes keys of a listing asked with encoding-type=url', function () {
      assert.equal(decodeListedKey('a+b%0D%0Ac%2B%25.txt', 'url'), 'a b\r\nc+%.txt')
      assert.equal(decodeListedKey('%EF%9F%BF/x', 'url'), '\uf7ff/x')
      assert.equal(decodeListedKey('a+b', 'url'), 'a b')
      assert.equal(decodeListedKey('plain/key.txt', 'url'), 'plain/key.txt')
      // A server that ignored the request answers raw keys, and says no encoding.
      assert.equal(decodeListedKey('a+b%41', undefined), 'a+b%41')
    })

    it('yields keys in the byte order in which S3 lists them, names that are not UTF-8 included', async function () {
      const root = mk('order')
      const files = ['a-b', 'a0', 'A', 'é.txt', '😀', '\uffff', 'z', 'a/x', 'a/b-c', 'a/b/c', 'a/b0', 'line\nbreak', 'ab/1', 'a.b/2']
      for (const f of files) {
        mkdirSync(join(root, f, '..'), {recursive: true})
        writeFileSync(join(root, f), f)
      }
      mkdirSync(bpath(root, Buffer.from([0xff])))
      writeFileSync(bpath(root, Buffer.from([0xff]), 'in'), 'x')
      writeFileSync(bpath(root, Buffer.from([0x61, 0xfe])), 'x')
      const walked: string[] = []
      for await (const e of walkLocal(root, {})) walked.push(e.rel)
      const expected = [...files, '\uf7ff/in', 'a\uf7fe'].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
      assert.deepEqual(walked, expected)
    })
  })
})
