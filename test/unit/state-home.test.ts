import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {defaultStateDir, folderStorage, pruneStates, stateCaps} from '../../src/state/local-storage.js'
import {STATE_FORMAT, stateName, type StateHeader} from '../../src/state/state.js'

/** The sync states on this machine (src/state/local-storage.ts): where, how they are written, how the folder stays bounded. */
describe('sync states in a local folder', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = () => { const d = mkdtempSync(join(tmpdir(), 's3c-state-home-')); dirs.push(d); return d }
  const about = (local: string): StateHeader => ({format: STATE_FORMAT, endpoint: 'http://127.0.0.1:9000', direction: 'upload', bucket: 'b', prefix: 'p/', local, written: '2026-01-01T00:00:00.000Z'})
  const nameOf = (local: string) => stateName(about(local))

  it('lives in S3C_STATE_DIR, else $XDG_STATE_HOME/s3c/sync (absolute only, as XDG says), else ~/.local/state/s3c/sync', function () {
    assert.equal(defaultStateDir({S3C_STATE_DIR: '/x/states', XDG_STATE_HOME: '/xdg'}), '/x/states')
    assert.equal(defaultStateDir({XDG_STATE_HOME: '/xdg'}), '/xdg/s3c/sync')
    assert.equal(defaultStateDir({XDG_STATE_HOME: 'relative'}), join(homedir(), '.local', 'state', 's3c', 'sync'))
    assert.equal(defaultStateDir({}), join(homedir(), '.local', 'state', 's3c', 'sync'))
  })

  it('caps from S3C_STATE_MAX_COUNT and S3C_STATE_MAX_SIZE; a bad value is one usage error', function () {
    assert.deepEqual(stateCaps({S3C_STATE_MAX_COUNT: '3', S3C_STATE_MAX_SIZE: '1MiB'}), {maxCount: 3, maxBytes: 1024 * 1024})
    assert.throws(() => stateCaps({S3C_STATE_MAX_COUNT: 'many'}), /S3C_STATE_MAX_COUNT="many" is not a whole number/)
    assert.throws(() => stateCaps({S3C_STATE_MAX_COUNT: '0'}), /S3C_STATE_MAX_COUNT/)
    assert.throws(() => stateCaps({S3C_STATE_MAX_SIZE: 'big'}), /S3C_STATE_MAX_SIZE: "big" is not a size/)
  })

  it('put writes the state (owner-only) and a side file saying whose it is, leaves no temporary file; get reads it and marks it used', async function () {
    const dir = join(mk(), 'nested', 'states')
    const store = folderStorage(dir)
    const name = nameOf('/data/a')
    await store.put(name, Readable.from([Buffer.from('state bytes')]), about('/data/a'))
    assert.deepEqual(readdirSync(dir).sort(), [name, name.replace('.ndjson.gz', '.json')].sort())
    assert.equal(readFileSync(join(dir, name), 'utf8'), 'state bytes')
    assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    const side = JSON.parse(readFileSync(join(dir, name.replace('.ndjson.gz', '.json')), 'utf8'))
    assert.deepEqual(side, {endpoint: 'http://127.0.0.1:9000', bucket: 'b', prefix: 'p/', direction: 'upload', local: '/data/a', written: '2026-01-01T00:00:00.000Z'})
    const old = new Date(Date.now() - 3600_000)
    utimesSync(join(dir, name), old, old)
    const body = await store.get(name)
    const chunks: Buffer[] = []
    for await (const c of body!) chunks.push(c as Buffer)
    assert.equal(Buffer.concat(chunks).toString(), 'state bytes')
    assert.ok(statSync(join(dir, name)).mtimeMs > old.getTime() + 1000, 'a read marks the state used')
    assert.equal(await store.get(nameOf('/data/none')), undefined)
  })

  it('a failed body stores nothing: the old state stays, no temporary file', async function () {
    const dir = mk()
    const store = folderStorage(dir)
    const name = nameOf('/data/a')
    await store.put(name, Readable.from([Buffer.from('old')]), about('/data/a'))
    async function* failing() {
      yield Buffer.from('new, partly')
      throw new Error('writer gave up')
    }
    await assert.rejects(store.put(name, Readable.from(failing()), about('/data/a')), /writer gave up/)
    assert.equal(readFileSync(join(dir, name), 'utf8'), 'old')
    assert.deepEqual(readdirSync(dir).filter(n => n.includes('.tmp-')), [])
  })

  it('a count cap drops the least recently used states (and their side files), never the one just written', async function () {
    const dir = mk()
    const store = folderStorage(dir, {maxCount: 2, maxBytes: 1 << 30})
    const at = (local: string, minutesAgo: number) => { const t = new Date(Date.now() - minutesAgo * 60_000); utimesSync(join(dir, nameOf(local)), t, t) }
    await store.put(nameOf('/a'), Readable.from([Buffer.from('a')]), about('/a'))
    await store.put(nameOf('/b'), Readable.from([Buffer.from('b')]), about('/b'))
    at('/a', 10)
    at('/b', 20)
    await store.put(nameOf('/c'), Readable.from([Buffer.from('c')]), about('/c'))
    assert.deepEqual(readdirSync(dir).filter(n => n.endsWith('.ndjson.gz')).sort(), [nameOf('/a'), nameOf('/c')].sort(), '/b was used least recently')
    assert.deepEqual(readdirSync(dir).filter(n => n.endsWith('.json')).sort(), [nameOf('/a'), nameOf('/c')].map(n => n.replace('.ndjson.gz', '.json')).sort())
  })

  it('a size cap keeps the newest states within it, and the one just written even when it alone is larger', async function () {
    const dir = mk()
    for (const [local, ago] of [['/a', 30], ['/b', 20], ['/c', 10]] as const) {
      writeFileSync(join(dir, nameOf(local)), Buffer.alloc(100))
      const t = new Date(Date.now() - ago * 60_000)
      utimesSync(join(dir, nameOf(local)), t, t)
    }
    assert.deepEqual(await pruneStates(dir, {maxCount: 10, maxBytes: 250}), [nameOf('/a')])
    const store = folderStorage(dir, {maxCount: 10, maxBytes: 250})
    await store.put(nameOf('/d'), Readable.from([Buffer.alloc(300)]), about('/d'))
    assert.deepEqual(readdirSync(dir).filter(n => n.endsWith('.ndjson.gz')), [nameOf('/d')])
  })

  it('temporary files a dead run left are removed once a day old; fresh ones (another run writing) stay', async function () {
    const dir = mk()
    writeFileSync(join(dir, `${nameOf('/a')}.tmp-1-old`), 'x')
    writeFileSync(join(dir, `${nameOf('/b')}.tmp-2-new`), 'x')
    const t = new Date(Date.now() - 2 * 24 * 3600_000)
    utimesSync(join(dir, `${nameOf('/a')}.tmp-1-old`), t, t)
    await pruneStates(dir, {maxCount: 10, maxBytes: 1 << 30})
    assert.deepEqual(readdirSync(dir), [`${nameOf('/b')}.tmp-2-new`])
  })
})
