import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {compareKeys, mergeByKey, MergeOrderError, type Joined} from '../../src/base/keys.js'
import {walkLocal, isProblem} from '../../src/local/walk.js'
import {fsPath} from '../../src/local/fs-path.js'

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0)

async function* from<T>(items: T[], seen?: {n: number}): AsyncGenerator<T> {
  for (const i of items) {
    if (seen) seen.n++
    yield i
  }
}

const k = (key: string) => ({key})

async function collect<L, R, S>(it: AsyncIterable<Joined<L, R, S>>): Promise<Joined<L, R, S>[]> {
  const out: Joined<L, R, S>[] = []
  for await (const j of it) out.push(j)
  return out
}

describe('sync merge: key order and the three-way join', function () {
  describe('compareKeys is UTF-8 byte order (S3 ListObjectsV2 order)', function () {
    const tricky = ['', 'a', 'a-b', 'a.b', 'a/b', 'a/', 'a0', 'A', 'ab', 'é', 'e\u0301', '\u007f', '\u0080', '\u07ff', '\u0800',
      '\ud7ff', '\ue000', '\uf7e9', '\uf780', '\uffff', '😀', '\u{10000}', '\u{10ffff}', 'a😀', 'a\uffff', 'a\uf7ff', 'line\nbreak', ' ', '~']

    it('orders every pair of tricky keys as Buffer.compare does', function () {
      for (const a of tricky) for (const b of tricky) assert.equal(sign(compareKeys(a, b)), sign(byBytes(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
    })

    it('orders random keys (surrogate pairs against U+E000–U+FFFF included) as Buffer.compare does', function () {
      let seed = 12345
      const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
      const alphabet = ['a', 'b', '-', '.', '/', '0', 'é', '\uf7e9', '\uffff', '\ue000', '😀', '\u{10437}', '\ud7ff', '~']
      const keys: string[] = []
      for (let i = 0; i < 3000; i++) {
        let s = ''
        for (let j = rnd(6); j >= 0; j--) s += alphabet[rnd(alphabet.length)]
        keys.push(s)
      }
      for (let i = 0; i + 1 < keys.length; i++) assert.equal(sign(compareKeys(keys[i], keys[i + 1])), sign(byBytes(keys[i], keys[i + 1])), `${keys[i]} vs ${keys[i + 1]}`)
      assert.deepEqual([...keys].sort(compareKeys), [...keys].sort(byBytes))
    })

    it("'/' sorts after '-' and '.' and before '0', unlike a per-path-segment sort", function () {
      assert.deepEqual(['a/b', 'a0', 'a.b', 'a-b'].sort(compareKeys), ['a-b', 'a.b', 'a/b', 'a0'])
    })
  })

  describe('walkLocal already yields keys in this order (it sorts a folder `a` as `a/`)', function () {
    let root: string
    before(function () {
      root = mkdtempSync(join(tmpdir(), 's3c-sync-order-'))
      const files = ['a-b', 'a.b', 'a0', 'a/b-c', 'a/b/c', 'a/b.d', 'a/b0', 'ab', 'é.txt', 'e\u0301.txt', '😀', '\uffff', 'z-/x', 'z/x', 'z.x']
      for (const f of files) {
        mkdirSync(join(root, f, '..'), {recursive: true})
        writeFileSync(join(root, f), f)
      }
      // A Latin-1 name (not UTF-8): spelled with U+F7E9, which sorts between U+E000 and the emoji.
      writeFileSync(fsPath(join(root, 'caf\uf7e9')), 'x')
    })
    after(() => rmSync(root, {recursive: true, force: true}))

    it('the keys of a walk under a prefix are strictly increasing by compareKeys, and merge with the listing order', async function () {
      const keys: string[] = []
      for await (const e of walkLocal(root)) if (!isProblem(e)) keys.push(`mirror/${e.rel}`)
      assert.deepEqual(keys, [...keys].sort(byBytes), 'walk order is byte order')
      for (let i = 0; i + 1 < keys.length; i++) assert.ok(compareKeys(keys[i], keys[i + 1]) < 0, `${keys[i]} < ${keys[i + 1]}`)
      assert.ok(keys.indexOf('mirror/a.b') < keys.indexOf('mirror/a/b-c') && keys.indexOf('mirror/a/b.d') < keys.indexOf('mirror/a/b/c') && keys.indexOf('mirror/a/b/c') < keys.indexOf('mirror/a0'))
      // The listing (byte order) of the same keys joins with the walk key by key, none unmatched.
      const listing = [...keys].sort(byBytes).map(key => ({key}))
      const joined = await collect(mergeByKey({local: {items: from(keys.map(key => ({key})))}, remote: {items: from(listing)}}))
      assert.equal(joined.length, keys.length)
      assert.ok(joined.every(j => j.local && j.remote))
    })
  })

  describe('mergeByKey', function () {
    it('joins three streams, yielding each key once with what each input holds', async function () {
      const local = ['a', 'b', 'd', 'f'].map(k)
      const remote = ['b', 'c', 'd', 'g'].map(k)
      const state = ['a', 'c', 'd', 'e', 'g'].map(k)
      const out = await collect(mergeByKey({local: {items: from(local)}, remote: {items: from(remote)}, state: {items: from(state)}}))
      const shape = out.map(j => `${j.key}:${j.local ? 'L' : ''}${j.remote ? 'R' : ''}${j.state ? 'S' : ''}`)
      assert.deepEqual(shape, ['a:LS', 'b:LR', 'c:RS', 'd:LRS', 'e:S', 'f:L', 'g:RS'])
      assert.equal(out[3].local, local[2])
    })

    it('takes one or two inputs, empty inputs, and a key function', async function () {
      assert.deepEqual(await collect(mergeByKey({})), [])
      assert.deepEqual((await collect(mergeByKey({remote: {items: from(['x', 'y'].map(k))}, state: {items: from([])}}))).map(j => j.key), ['x', 'y'])
      const out = await collect(mergeByKey({local: {items: from([{rel: 'p/1'}, {rel: 'p/2'}]), key: e => `pre/${e.rel}`}, remote: {items: from([k('pre/2')])}}))
      assert.deepEqual(out.map(j => j.key), ['pre/p/1', 'pre/p/2', 'pre/2'].sort(compareKeys))
    })

    it('merges in the byte order, where a JS string sort would join wrongly', async function () {
      // JS '<' puts the emoji (a surrogate pair) before U+F7E9; S3 lists U+F7E9 first.
      const keys = ['caf\uf7e9', 'caf😀']
      assert.ok(keys[1] < keys[0], 'JS order differs')
      const out = await collect(mergeByKey({local: {items: from(keys.map(k))}, remote: {items: from(keys.map(k))}}))
      assert.deepEqual(out.map(j => [j.key, !!j.local, !!j.remote]), [['caf\uf7e9', true, true], ['caf😀', true, true]])
    })

    it('throws MergeOrderError naming the input when keys go back or repeat, never mis-joining', async function () {
      for (const [name, bad] of [['local', ['a', 'c', 'b']], ['remote', ['a', 'a']], ['state', ['a/b', 'a0', 'a.b']]] as const) {
        const good = from(['a', 'b', 'c'].map(k))
        const inputs = {local: {items: good}, remote: {items: from([] as {key: string}[])}, state: {items: from([] as {key: string}[])}}
        inputs[name] = {items: from(bad.map(k))}
        await assert.rejects(collect(mergeByKey(inputs)), (e: unknown) => {
          assert.ok(e instanceof MergeOrderError)
          assert.match(e.message, /not in S3 key order/)
          assert.match(e.message, name === 'local' ? /local walk/ : name === 'remote' ? /S3 listing/ : /sync state/)
          return true
        })
      }
    })

    it('a repeated key throws before the first copy is yielded', async function () {
      const seen: string[] = []
      await assert.rejects(async () => {
        for await (const j of mergeByKey({remote: {items: from(['a', 'b', 'b'].map(k))}})) seen.push(j.key)
      }, MergeOrderError)
      assert.deepEqual(seen, ['a'])
    })

    it('reads each input at most one item ahead of the consumer (memory O(1) in keys)', async function () {
      const n = 100_000
      const counts = {local: {n: 0}, remote: {n: 0}}
      const keys = (p: string) => Array.from({length: n}, (_, i) => ({key: `${p}${String(i).padStart(6, '0')}`}))
      let consumed = 0
      for await (const j of mergeByKey({local: {items: from(keys('k'), counts.local)}, remote: {items: from(keys('k'), counts.remote)}})) {
        consumed++
        assert.ok(j.local && j.remote)
        assert.ok(counts.local.n <= consumed + 1 && counts.remote.n <= consumed + 1, 'read ahead by at most one')
      }
      assert.equal(consumed, n)
    })

    it('closes the inputs when the consumer stops early', async function () {
      let closed = 0
      async function* tracked(): AsyncGenerator<{key: string}> {
        try {
          for (let i = 0; i < 10; i++) yield k(`k${i}`)
        } finally {
          closed++
        }
      }
      for await (const j of mergeByKey({local: {items: tracked()}, remote: {items: tracked()}})) if (j.key === 'k3') break
      assert.equal(closed, 2)
    })
  })
})
