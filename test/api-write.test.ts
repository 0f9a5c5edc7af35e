import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pipeline} from 'node:stream/promises'
import {Readable} from 'node:stream'
import {harness, newBucket} from './harness/hooks.js'
import {getObject, listKeys, putObject} from './harness/objects.js'
import {seededBytes} from './harness/tree.js'
import {startProxy} from './harness/proxy.js'

const MiB = 1024 * 1024

describe('library API: writeFile, createWriteStream, copy, move, sync', function () {
  const dirs: string[] = []
  let api: typeof import('../src/index.js')
  before(async function () {
    const {s3} = harness()
    Object.assign(process.env, {AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region, AWS_ENDPOINT_URL: s3.endpoint})
    // The built package, as another project imports it.
    api = await import(join(process.cwd(), 'dist/src/index.js'))
  })
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })

  it('writeFile and createWriteStream take local paths and s3:// URLs alike; a large stream goes in parts', async function () {
    const bucket = await newBucket('apiw')
    const dir = mkdtempSync(join(tmpdir(), 's3c-apiw-'))
    dirs.push(dir)
    await api.writeFile(`s3://${bucket}/a.txt`, 'hello', {metadata: {owner: 'alice'}})
    assert.equal((await getObject(bucket, 'a.txt')).toString(), 'hello')
    await api.writeFile(join(dir, 'sub', 'b.txt'), Buffer.from('local'))
    assert.equal(readFileSync(join(dir, 'sub', 'b.txt'), 'utf8'), 'local')
    const big = seededBytes(3, 12 * MiB + 5)
    const chunks = Array.from({length: Math.ceil(big.length / MiB)}, (_, i) => big.subarray(i * MiB, (i + 1) * MiB))
    await pipeline(Readable.from(chunks), api.createWriteStream(`s3://${bucket}/big.bin`, {partSize: 5 * MiB}))
    assert.ok((await getObject(bucket, 'big.bin')).equals(big))
    await pipeline(Readable.from(chunks), api.createWriteStream(join(dir, 'big.bin')))
    assert.ok(readFileSync(join(dir, 'big.bin')).equals(big))
    await assert.rejects(api.writeFile(`s3://${bucket}/`, 'x'), /names no object/)
  })

  it('createWriteStream destroyed before it ends, without an error: the multipart upload is aborted at once, a local temporary file removed', async function () {
    const bucket = await newBucket('apid')
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const out = api.createWriteStream(`s3://${bucket}/half.bin`, {partSize: 5 * MiB, endpoint: proxy.endpoint})
      out.write(seededBytes(5, 6 * MiB))
      // Waited for by the event, not a fixed time: on a loaded machine the first part can take long to leave.
      const parts = () => proxy.count('PUT', q => q.query.includes('partNumber') && q.status !== undefined)
      while (parts() === 0) await new Promise(r => setTimeout(r, 50))
      assert.equal(parts(), 1)
      out.destroy()
      await new Promise(r => out.once('close', r))
      assert.equal(proxy.count('DELETE', q => q.query.includes('uploadId')), 1, 'aborted when destroy() is done')
      assert.equal((await listKeys(bucket)).size, 0)
    } finally {
      await proxy.stop()
    }
    const dir = mkdtempSync(join(tmpdir(), 's3c-apid-'))
    dirs.push(dir)
    const local = api.createWriteStream(join(dir, 'half.bin'))
    local.write(Buffer.alloc(1024))
    await new Promise(r => setTimeout(r, 100))
    local.destroy()
    await new Promise(r => local.once('close', r))
    assert.deepEqual(readdirSync(dir), [])
  })

  it('copy, move and sync return the summary the CLI prints with --json', async function () {
    const bucket = await newBucket('apic')
    for (let i = 0; i < 5; i++) await putObject(bucket, `src/f${i}.txt`, Buffer.from(`f${i}`))
    const copied = await api.copy(`s3://${bucket}/src/`, `s3://${bucket}/copy/`)
    assert.deepEqual([copied.filesDone, copied.filesFailed], [5, 0])
    const dir = mkdtempSync(join(tmpdir(), 's3c-apic-'))
    dirs.push(dir)
    writeFileSync(join(dir, 'local.txt'), 'L')
    const up = await api.copy(join(dir, 'local.txt'), `s3://${bucket}/up/`)
    assert.equal(up.filesDone, 1)
    const moved = await api.move(`s3://${bucket}/copy/f0.txt`, `s3://${bucket}/moved/f0.txt`)
    assert.equal(moved.filesDone, 1)
    assert.equal((await listKeys(bucket, 'copy/')).size, 4)
    await putObject(bucket, 'mirror/stale.txt', Buffer.from('stale'))
    const s = await api.sync(`s3://${bucket}/src/`, `s3://${bucket}/mirror/`, {delete: true})
    assert.deepEqual([s.filesDone, s.deleted], [5, 1])
    const again = await api.sync(`s3://${bucket}/src/`, `s3://${bucket}/mirror/`, {delete: true})
    assert.deepEqual([again.filesDone, again.filesSkipped, again.deleted], [0, 5, 0])
  })
})
