import {Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {gunzipSync, gzipSync} from 'node:zlib'
import {
  StateOrderError, StateRejected, StateWriter, isStateName, loadState, normalizeEtag, readState, stateId, stateName, verifyState,
  type StateEntry, type StateIdentity, type StateStorage,
} from '../../src/state/state.js'
import {folderStorage} from '../../src/state/local-storage.js'

const id: StateIdentity = {endpoint: 'http://127.0.0.1:9000', direction: 'upload', bucket: 'b', prefix: 'mirror/', local: '/data/mirror'}

function entry(key: string, i = 0): StateEntry {
  return {key, size: 10 + i, etag: 'd41d8cd98f00b204e9800998ecf8427e', lastModifiedMs: 1_700_000_000_000 + i, mtime: '1700000000.123456789',
    sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', local: {size: 10 + i, mtimeNs: '1700000000123456789', ino: String(1000 + i), ctimeNs: '1700000001000000000'}}
}

/** Collects what a writer produces. */
async function written(entries: StateEntry[], ident: StateIdentity = id): Promise<Buffer> {
  let out: Buffer | undefined
  const w = new StateWriter({...ident, written: '2026-01-01T00:00:00.000Z'}, async body => {
    const chunks: Buffer[] = []
    for await (const c of body) chunks.push(c as Buffer)
    out = Buffer.concat(chunks)
  })
  for (const e of entries) await w.write(e)
  await w.finish()
  return out!
}

async function readAll(bytes: Buffer, ident: StateIdentity = id): Promise<StateEntry[]> {
  const out: StateEntry[] = []
  for await (const e of readState(Readable.from([bytes]), ident)) out.push(e)
  return out
}

/** The state's text lines, edited, gzipped again. */
function edit(bytes: Buffer, f: (lines: string[]) => string[]): Buffer {
  const lines = gunzipSync(bytes).toString('utf8').split('\n').slice(0, -1)
  return gzipSync(f(lines).map(l => `${l}\n`).join(''))
}

describe('sync state: format, writer, reader, rejection as a whole', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = () => { const d = mkdtempSync(join(tmpdir(), 's3c-state-')); dirs.push(d); return d }

  const keys = ['a-b', 'a.b', 'a/b', 'a0', 'caf\uf7e9', 'caf😀', 'line\nbreak/x'].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  const entries = keys.map((k, i) => entry(`mirror/${k}`, i))

  it('round-trips 20,000 entries (many ~64 KiB batches) through a sink that reads slowly, in one piece and in order', async function () {
    const many = Array.from({length: 20_000}, (_, i) => entry(`mirror/k${String(i).padStart(6, '0')}`, i))
    let out: Buffer | undefined
    const w = new StateWriter({...id, written: '2026-01-01T00:00:00.000Z'}, async body => {
      const chunks: Buffer[] = []
      // A sink that takes one chunk per timer turn: the writer must wait for it (back-pressure), not lose lines.
      for await (const c of body) {
        chunks.push(c as Buffer)
        await new Promise(r => setImmediate(r))
      }
      out = Buffer.concat(chunks)
    })
    for (const e of many) await w.write(e)
    assert.equal(w.entries, many.length)
    await w.finish()
    const back = await readAll(out!)
    assert.equal(back.length, many.length)
    assert.deepEqual(back[0], many[0])
    assert.deepEqual(back[back.length - 1], many[many.length - 1])
    assert.equal(await verifyState(Readable.from([out!]), id), many.length)
  })

  it('round-trips entries (keys with newlines and non-BMP characters, optional fields absent) through gzip NDJSON', async function () {
    const sparse: StateEntry = {key: 'mirror/zz', size: 0, etag: 'abc-2', local: {size: 0, mtimeNs: '-5'}}
    const bytes = await written([...entries, sparse])
    assert.deepEqual(await readAll(bytes), [...entries, sparse])
    const lines = gunzipSync(bytes).toString('utf8').split('\n')
    assert.equal(lines.length, entries.length + 1 + 2 + 1, 'header, entries, trailer, final newline')
    assert.deepEqual(JSON.parse(lines[0]), {format: 1, ...id, written: '2026-01-01T00:00:00.000Z'})
    assert.deepEqual(Object.keys(JSON.parse(lines.at(-2)!)), ['end', 'entries', 'sha256'])
    assert.equal(await verifyState(Readable.from([bytes]), id), entries.length + 1)
  })

  it('an empty state is valid (zero entries)', async function () {
    assert.deepEqual(await readAll(await written([])), [])
  })

  it('the writer refuses entries out of key order or repeated, in UTF-8 byte order', async function () {
    for (const bad of [['b', 'a'], ['a', 'a'], ['a0', 'a/b'], ['caf😀', 'caf\uf7e9']]) {
      const w = new StateWriter(id, async body => { for await (const _ of body); })
      await w.write(entry(bad[0]))
      await assert.rejects(w.write(entry(bad[1])), StateOrderError)
      w.abort()
    }
    // In byte order, '/' after '.', U+F7E9 before an emoji: accepted.
    const w = new StateWriter(id, async body => { for await (const _ of body); })
    for (const k of ['a.b', 'a/b', 'a0', 'caf\uf7e9', 'caf😀']) await w.write(entry(k))
    await w.finish()
  })

  it('the writer waits for a slow sink (bounded memory) and reports a sink failure', async function () {
    let taken = 0
    const w = new StateWriter(id, async body => {
      for await (const c of body) {
        taken += (c as Buffer).length
        await new Promise(r => setTimeout(r, 1))
      }
    })
    for (let i = 0; i < 20_000; i++) await w.write(entry(`k${String(i).padStart(6, '0')}`, i))
    await w.finish()
    assert.ok(taken > 0)
    const failing = new StateWriter(id, async body => {
      for await (const _ of body) throw new Error('S3 said no')
    })
    await assert.rejects(async () => {
      for (let i = 0; i < 100_000; i++) await failing.write(entry(`k${String(i).padStart(6, '0')}`, i))
      await failing.finish()
    }, /S3 said no/)
  })

  describe('rejects a damaged or foreign state as a whole', function () {
    let good: Buffer
    before(async () => { good = await written(entries) })
    const cases: [string, () => Buffer, RegExp][] = [
      ['truncated gzip', () => good.subarray(0, Math.floor(good.length * 0.6)), /cannot read|truncated/],
      ['truncated before the trailer (valid gzip)', () => edit(good, l => l.slice(0, -1)), /truncated/],
      ['an entry missing', () => edit(good, l => [...l.slice(0, 2), ...l.slice(3)]), /counts|checksum/],
      ['an entry changed (a digit of its mtime)', () => edit(good, l => l.map((x, i) => (i === 2 ? x.replace('1700000000123456789', '1700000000123456788') : x))), /checksum/],
      ['an entry changed and the count kept', () => edit(good, l => l.map((x, i) => (i === 1 ? x.replace('"size":10', '"size":11') : x))), /checksum/],
      ['entries out of order', () => edit(good, l => [l[0], l[2], l[1], ...l.slice(3)]), /out of order/],
      ['a line that is not JSON', () => edit(good, l => l.map((x, i) => (i === 3 ? x.slice(0, -4) : x))), /not JSON/],
      ['an entry with a bad field', () => edit(good, l => l.map((x, i) => (i === 3 ? x.replace(/"mtimeNs":"\d+"/, '"mtimeNs":"soon"') : x))), /malformed/],
      ['an entry not in canonical form', () => edit(good, l => l.map((x, i) => (i === 1 ? JSON.stringify({...JSON.parse(x)}, Object.keys(JSON.parse(x)).reverse()) : x))), /canonical|malformed/],
      ['lines after the trailer', () => edit(good, l => [...l, l[1]]), /after the trailer/],
      ['another format version', () => edit(good, l => [JSON.stringify({...JSON.parse(l[0]), format: 2}), ...l.slice(1)]), /format/],
      ['not gzip at all', () => Buffer.from('hello\n'), /cannot read/],
      ['an empty object', () => Buffer.alloc(0), /cannot read|empty/],
      ['an empty gzip', () => gzipSync(Buffer.alloc(0)), /empty/],
      // Outside input: one long line is cut at the bound, never read whole (it took 650 MB and crashed).
      ['an entry line of 4 MiB', () => edit(good, l => l.map((x, i) => (i === 2 ? x.replace('"key":"', `"key":"${'k'.repeat(4 << 20)}`) : x))), /a line is longer than 65536 bytes/],
      ['a header line of 4 MiB without a newline', () => gzipSync(`{"format":1,"x":"${'x'.repeat(4 << 20)}`), /a line is longer than 65536 bytes/],
    ]
    for (const [name, make, why] of cases) {
      it(name, async function () {
        await assert.rejects(readAll(make()), (e: unknown) => e instanceof StateRejected && why.test(e.message))
      })
    }

    it('the whole is bounded too: a state larger than the limit is rejected, one just within is read', async function () {
      const size = gunzipSync(good).length
      assert.equal(await verifyState(Readable.from([good]), id, {lineBytes: 64 * 1024, totalBytes: size}), entries.length)
      await assert.rejects(verifyState(Readable.from([good]), id, {lineBytes: 64 * 1024, totalBytes: size - 1}), /sync state not used: it holds more than \d+ bytes uncompressed/)
    })

    it("another folder's, prefix's, bucket's, direction's or endpoint's state", async function () {
      for (const other of [{...id, local: '/data/other'}, {...id, prefix: 'mirror2/'}, {...id, bucket: 'c'}, {...id, direction: 'download' as const}, {...id, endpoint: 'aws'}]) {
        await assert.rejects(readAll(good, other), /another endpoint, direction, bucket, prefix or local folder/)
        assert.notEqual(stateId(other), stateId(id))
      }
    })
  })

  describe('storage and loadState', function () {
    it('loads a verified state and streams it again from a local copy; the copy is removed on dispose', async function () {
      const store = folderStorage(mk())
      const tmp = mk()
      assert.equal(await loadState(store, id, tmp), undefined, 'none yet')
      const w = new StateWriter(id, body => store.put(stateName(id), body))
      for (const e of entries) await w.write(e)
      await w.finish()
      const loaded = (await loadState(store, id, tmp))!
      assert.equal(loaded.entries, entries.length)
      const again: StateEntry[] = []
      for await (const e of loaded.read()) again.push(e)
      assert.deepEqual(again, entries)
      assert.equal(readdirSync(tmp).length, 1)
      await loaded.dispose()
      assert.equal(readdirSync(tmp).length, 0)
    })

    it('a damaged stored state is rejected before any entry is given out (onRejected says why), and leaves no copy', async function () {
      const dir = mk()
      const tmp = mk()
      const store = folderStorage(dir)
      const good = await written(entries)
      writeFileSync(join(dir, stateName(id)), edit(good, l => l.slice(0, -1)))
      const why: string[] = []
      assert.equal(await loadState(store, id, tmp, e => why.push(e.message)), undefined)
      assert.match(why[0], /sync state not used: it is truncated/)
      assert.equal(readdirSync(tmp).length, 0)
    })

    it('a writer that fails or is aborted stores nothing: the previous state stays whole', async function () {
      const dir = mk()
      const store = folderStorage(dir)
      const first = new StateWriter(id, body => store.put(stateName(id), body))
      for (const e of entries) await first.write(e)
      await first.finish()
      const before = readFileSync(join(dir, stateName(id)))
      const second = new StateWriter(id, body => store.put(stateName(id), body))
      const put = new Promise<void>(resolve => setTimeout(resolve, 0))
      await second.write(entry('mirror/a'))
      await put
      second.abort(new Error('interrupted'))
      // Waits for the sink's cleanup itself (a fixed 20 ms was not always enough under load).
      await second.settled()
      assert.deepEqual(readFileSync(join(dir, stateName(id))), before)
      assert.deepEqual(readdirSync(dir).filter(n => n.includes('.tmp-')), [], 'no temporary file left')
      const loaded = (await loadState(store, id, mk()))!
      assert.equal(loaded.entries, entries.length)
      await loaded.dispose()
    })

    it('abort before the sink has attached (it is still making a folder): no uncaught error, and the sink sees the abort', async function () {
      let seen: unknown
      const slow = new StateWriter(id, async body => {
        await new Promise(r => setTimeout(r, 50))
        try {
          await pipeline(body, new Writable({write: (_c, _e, cb) => cb()}))
        } catch (error) {
          seen = error
          throw error
        }
      })
      slow.abort(new Error('interrupted'))
      await slow.settled()
      assert.match(String(seen), /interrupted|premature/)
    })

    it('a storage whose get fails is the caller\'s to handle (not a rejection)', async function () {
      const broken: StateStorage = {get: async () => { throw new Error('AccessDenied') }, put: async () => undefined}
      await assert.rejects(loadState(broken, id, mk()), /AccessDenied/)
    })
  })

  it('normalizes ETags as listings, PUT answers and HEADs spell them', function () {
    assert.equal(normalizeEtag('"D41D8CD98F00B204E9800998ECF8427E"'), 'd41d8cd98f00b204e9800998ecf8427e')
    assert.equal(normalizeEtag('"abc-12"'), 'abc-12')
    assert.equal(normalizeEtag('W/"abc"'), 'abc')
    assert.equal(normalizeEtag('""'), undefined)
    assert.equal(normalizeEtag(undefined), undefined)
  })

  it('a state is named by a hash of its identity only', function () {
    assert.match(stateName(id), /^[0-9a-f]{64}\.ndjson\.gz$/)
    assert.ok(isStateName(stateName(id)))
    assert.ok(!isStateName(`x${stateName(id)}`))
    assert.equal(stateName(id), stateName({...id}))
  })
})
