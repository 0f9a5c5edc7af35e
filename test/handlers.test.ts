import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {handlers} from '../src/jobs/handlers.js'
import type {CompleteUploadJob, JobContext, UploadFilesJob} from '../src/jobs/types.js'
import type {S3Storage} from '../src/s3/storage.js'
import {harness, newBucket, openTestStorage} from './harness/hooks.js'
import {startProxy, type Proxy} from './harness/proxy.js'

/*
 * The job handlers called directly (no runner, no CLI), against the test server through the
 * counting proxy: what they send, request by request.
 */
describe('job handlers', function () {
  let proxy: Proxy
  let s3: S3Storage
  let dir: string

  before(async function () {
    proxy = await startProxy(harness().s3.endpoint)
    s3 = await openTestStorage(proxy.endpoint, {retries: 0})
    dir = mkdtempSync(join(tmpdir(), 's3c-handlers-'))
  })
  after(async function () {
    await s3?.close()
    await proxy?.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  const ctx = (): JobContext => ({s3, onBytes: () => undefined})

  it('upload-files: one PUT per file; again with compare: one HEAD each, nothing sent', async function () {
    const bucket = await newBucket('h')
    const files = ['a.txt', 'b.txt'].map(name => {
      const path = join(dir, name)
      writeFileSync(path, `content of ${name}\n`)
      const st = statSync(path, {bigint: true})
      return {key: `p/${name}`, path, size: Number(st.size), mtimeNs: String(st.mtimeNs)}
    })
    const job: UploadFilesJob = {kind: 'upload-files', bucket, files}
    proxy.reset()
    const first = await handlers['upload-files'](job, ctx())
    assert.deepEqual(first.files!.map(f => f.status), ['done', 'done'])
    assert.equal(proxy.count('PUT'), 2)
    assert.equal(proxy.requests.length, 2)
    proxy.reset()
    const again = await handlers['upload-files']({...job, files: files.map(f => ({...f, compare: 'mtime' as const}))}, ctx())
    assert.deepEqual(again.files!.map(f => f.status), ['skipped', 'skipped'])
    assert.equal(proxy.count('HEAD'), 2)
    assert.equal(proxy.requests.length, 2)
  })

  it('complete-upload whose child failed: the upload is aborted (one DELETE), the file reported failed, nothing completed', async function () {
    const bucket = await newBucket('h')
    const path = join(dir, 'big.bin')
    writeFileSync(path, Buffer.alloc(1024, 1))
    const st = statSync(path, {bigint: true})
    const uploadId = await s3.createMultipart(bucket, 'big.bin')
    const job: CompleteUploadJob = {kind: 'complete-upload', bucket, key: 'big.bin', uploadId, path, size: 1024, mtimeNs: String(st.mtimeNs)}
    proxy.reset()
    const result = await handlers['complete-upload'](job, ctx(), {results: [], failures: ['part 1: InternalError']})
    assert.equal(result.files![0].status, 'failed')
    assert.match(result.files![0].error!, /part 1: InternalError/)
    const aborts = proxy.count('DELETE', r => r.query.includes(`uploadId=${encodeURIComponent(uploadId)}`) || r.query.includes(`uploadId=${uploadId}`))
    assert.equal(aborts, 1, 'AbortMultipartUpload sent once')
    assert.equal(proxy.count('POST'), 0, 'no CompleteMultipartUpload')
    assert.equal(proxy.requests.length, 1)
    assert.equal(await s3.head(bucket, 'big.bin'), undefined)
  })
})
