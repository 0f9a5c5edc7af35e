import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand} from '@aws-sdk/client-s3'
import {runCli} from './harness/cli.js'
import {harness, newBucket, s3Client} from './harness/hooks.js'
import {startProxy, type Proxy} from './harness/proxy.js'
import {compareTrees, seededBytes} from './harness/tree.js'
import {HALF_MS_FRACTIONS, halfMsTree} from './harness/times.js'



const MiB = 1024 * 1024
const nsOf = (path: string) => statSync(path, {bigint: true}).mtimeNs
const us = (ns: bigint) => (ns - (((ns % 1000n) + 1000n) % 1000n)) / 1000n

/** Data GETs (not listings) the proxy saw. */
const dataGets = (proxy: Proxy) => proxy.count('GET', r => !r.query.includes('list-type'))

async function headMeta(bucket: string, key: string): Promise<Record<string, string>> {
  const c = s3Client()
  try {
    return (await c.send(new HeadObjectCommand({Bucket: bucket, Key: key}))).Metadata ?? {}
  } finally {
    c.destroy()
  }
}

/** An object as another tool writes it: no mtime metadata, one PutObject (ETag = MD5). */
async function putPlain(bucket: string, key: string, body: Buffer): Promise<void> {
  const c = s3Client()
  try {
    await c.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: body}))
  } finally {
    c.destroy()
  }
}

/** An object as `aws s3 cp` writes a large file: no metadata, a multipart upload of 8 MiB parts. */
async function putMultipart(bucket: string, key: string, body: Buffer, partSize = 8 * MiB): Promise<void> {
  const c = s3Client()
  try {
    const {UploadId} = await c.send(new CreateMultipartUploadCommand({Bucket: bucket, Key: key}))
    const parts = []
    for (let at = 0, n = 1; at < body.length; at += partSize, n++) {
      const res = await c.send(new UploadPartCommand({Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: body.subarray(at, at + partSize)}))
      parts.push({PartNumber: n, ETag: res.ETag})
    }
    await c.send(new CompleteMultipartUploadCommand({Bucket: bucket, Key: key, UploadId, MultipartUpload: {Parts: parts}}))
  } finally {
    c.destroy()
  }
}

describe('modification times: one rule for upload and download', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  let proxy: Proxy
  before(async () => { proxy = await startProxy(harness().s3.endpoint) })
  after(async () => { await proxy?.stop() })
  beforeEach(() => proxy.reset())
  const viaProxy = (args: string[]) => runCli(args, {env: {AWS_ENDPOINT_URL: proxy.endpoint}})

  it('files made with touch -d @T.xxx5: stored at full precision, a second upload sends no PUT, a second download no GET of data', async function () {
    const src = mk('half')
    const rels = halfMsTree(src)
    const bucket = await newBucket('half')
    const up = await runCli(['upload', src, `s3://${bucket}/h`])
    assert.equal(up.code, 0, up.stderr)
    // rclone's format, every digit kept.
    for (const [i, rel] of rels.entries()) assert.equal((await headMeta(bucket, `h/${rel}`)).mtime, `${1700000000 + i * 1000}.${HALF_MS_FRACTIONS[i]}`, rel)

    const again = await viaProxy(['upload', src, `s3://${bucket}/h`])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`0 done, ${rels.length} skipped`))
    assert.equal(proxy.count('PUT'), 0)

    const dst = mk('halfdst')
    assert.equal((await runCli(['download', `s3://${bucket}/h`, dst])).code, 0)
    assert.deepEqual(compareTrees(src, dst), [])
    // Restored to the microsecond (all a file set by Node 20 can hold).
    for (const rel of rels) assert.equal(us(nsOf(join(dst, rel))), us(nsOf(join(src, rel))), rel)
    proxy.reset()
    const down = await viaProxy(['download', `s3://${bucket}/h`, dst])
    assert.equal(down.code, 0, down.stderr)
    assert.match(down.stdout, new RegExp(`0 done, ${rels.length} skipped`))
    assert.equal(dataGets(proxy), 0)
    // And uploading the restored copy sends nothing either.
    proxy.reset()
    const back = await viaProxy(['upload', dst, `s3://${bucket}/h`])
    assert.match(back.stdout, new RegExp(`0 done, ${rels.length} skipped`))
    assert.equal(proxy.count('PUT'), 0)
  })

  it('an object without mtime metadata has Last-Modified in whole seconds as its time: a large one is not fetched again by a second download', async function () {
    const bucket = await newBucket('nometa')
    const big = seededBytes(11, 9 * MiB + 3) // above the multipart threshold: ranged GETs
    const small = seededBytes(12, 3000)
    await putPlain(bucket, 'o/big.bin', big)
    await putPlain(bucket, 'o/small.bin', small)
    const dst = mk('nometa')
    const first = await runCli(['download', `s3://${bucket}/o`, dst])
    assert.equal(first.code, 0, first.stderr)
    const c = s3Client()
    for (const name of ['big.bin', 'small.bin']) {
      const lm = (await c.send(new HeadObjectCommand({Bucket: bucket, Key: `o/${name}`}))).LastModified!.getTime()
      assert.equal(nsOf(join(dst, name)), BigInt(Math.floor(lm / 1000)) * 1_000_000_000n, `${name}: Last-Modified, whole seconds`)
    }
    c.destroy()
    const again = await viaProxy(['download', `s3://${bucket}/o`, dst])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /0 done, 2 skipped/)
    assert.equal(dataGets(proxy), 0)
  })

  it('an object without mtime metadata and a same-size local file: compared by content (plain and multipart ETags), no PUT, no GET', async function () {
    const src = mk('content')
    const bodies: Record<string, Buffer> = {
      'a.txt': seededBytes(21, 1),
      'b/c.bin': seededBytes(22, 4 * MiB),
      'big.bin': seededBytes(23, 20 * MiB + 5), // multipart, 8 MiB parts: ETag "…-3"
      'changed.txt': seededBytes(24, 500),
    }
    const bucket = await newBucket('content')
    for (const [rel, body] of Object.entries(bodies)) {
      mkdirSync(join(src, rel, '..'), {recursive: true})
      writeFileSync(join(src, rel), body)
      if (rel === 'big.bin') await putMultipart(bucket, `p/${rel}`, body)
      else await putPlain(bucket, `p/${rel}`, rel === 'changed.txt' ? seededBytes(25, 500) : body)
      // Local times far from Last-Modified: only the content can tell.
      utimesSync(join(src, rel), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'))
    }
    const up = await viaProxy(['upload', src, `s3://${bucket}/p`, '--part-size', '8MiB'])
    assert.equal(up.code, 0, up.stderr)
    assert.match(up.stdout, /1 done, 3 skipped/)
    assert.equal(proxy.count('PUT'), 1, 'only the file whose content differs')
    assert.equal(proxy.count('PUT', r => r.path.endsWith('/changed.txt')), 1)
    assert.equal(proxy.count('POST'), 0, 'no multipart upload')
    assert.equal(dataGets(proxy), 0, 'the content is compared with the ETag, not fetched')
    assert.equal(proxy.count('HEAD'), 4)

    // The other way: local files with other times but the same content are not fetched, and get the object's time.
    const dst = mk('contentdst')
    const bucket2 = await newBucket('content2')
    for (const [rel, body] of Object.entries(bodies)) {
      if (rel === 'big.bin') await putMultipart(bucket2, `p/${rel}`, body)
      else await putPlain(bucket2, `p/${rel}`, body)
      mkdirSync(join(dst, rel, '..'), {recursive: true})
      writeFileSync(join(dst, rel), body)
      utimesSync(join(dst, rel), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'))
    }
    proxy.reset()
    const down = await viaProxy(['download', `s3://${bucket2}/p`, dst])
    assert.equal(down.code, 0, down.stderr)
    assert.match(down.stdout, /0 done, 4 skipped/)
    assert.equal(dataGets(proxy), 0)
    const c = s3Client()
    const lm = (await c.send(new HeadObjectCommand({Bucket: bucket2, Key: 'p/big.bin'}))).LastModified!.getTime()
    c.destroy()
    assert.equal(nsOf(join(dst, 'big.bin')), BigInt(Math.floor(lm / 1000)) * 1_000_000_000n, 'the object\'s time, for the next run')
    assert.equal(readFileSync(join(dst, 'a.txt')).length, 1)
  })

  it('--checksum on a multipart upload also stores md5chksum (rclone\'s MD5 of a multipart object)', async function () {
    const src = mk('md5')
    const body = seededBytes(31, 9 * MiB)
    writeFileSync(join(src, 'big.bin'), body)
    const bucket = await newBucket('md5')
    const up = await runCli(['upload', src, `s3://${bucket}/m`, '--checksum', '--part-size', '5MiB'])
    assert.equal(up.code, 0, up.stderr)
    const meta = await headMeta(bucket, 'm/big.bin')
    assert.equal(meta.md5chksum, createHash('md5').update(body).digest('base64'))
    assert.equal(meta['s3c-sha256'], createHash('sha256').update(body).digest('hex'))
  })

  describe('tar members and folders', function () {
    const at = (seconds: number) => new Date(seconds * 1000)
    const seconds = (path: string) => Number(nsOf(path) / 1_000_000_000n)
    const padded = (n: number) => Math.ceil(n / 512) * 512

    it("tar extract of an s3tar-style archive (toc.csv, no index) to a local folder keeps each member's mtime and mode", async function () {
      const dir = mk('tocsrc')
      const files: [string, number, number, number][] = [['c.txt', 100, 0o640, 1_100_000_000], ['d/a.txt', 3000, 0o751, 1_200_000_000], ['d/b.bin', 9 * MiB + 5, 0o600, 1_300_000_000]]
      mkdirSync(join(dir, 'd'))
      // toc.csv first, as s3tar writes it: name,offset,size,etag; offsets of fixed width so its own size is known first.
      const rows = files.map(([name, size]) => `${name},${'0'.repeat(12)},${size},`)
      const tocSize = Buffer.byteLength(rows.join('\n') + '\n')
      let offset = 512 + padded(tocSize)
      const toc = files.map(([name, size]) => {
        const row = `${name},${String(offset + 512).padStart(12, '0')},${size},`
        offset += 512 + padded(size)
        return row
      }).join('\n') + '\n'
      writeFileSync(join(dir, 'toc.csv'), toc)
      for (const [name, size, mode, time] of files) {
        writeFileSync(join(dir, name), seededBytes(size, size))
        chmodSync(join(dir, name), mode)
        utimesSync(join(dir, name), at(time), at(time + 0.5))
      }
      const tarPath = join(mk('toctar'), 'x.tar')
      execFileSync('tar', ['--format=ustar', '-cf', tarPath, '--no-recursion', '-C', dir, 'toc.csv', ...files.map(f => f[0])])
      const bucket = await newBucket('toc')
      await putPlain(bucket, 'x.tar', readFileSync(tarPath))
      const dest = mk('tocdst')
      const r = await runCli(['tar', 'extract', '-f', `s3://${bucket}/x.tar`, '-C', dest])
      assert.equal(r.code, 0, r.stderr)
      for (const [name, size, mode, time] of files) {
        assert.ok(readFileSync(join(dest, name)).equals(seededBytes(size, size)), name)
        assert.equal(statSync(join(dest, name)).mode & 0o7777, mode, `${name}: mode`)
        assert.equal(seconds(join(dest, name)), time, `${name}: mtime`)
      }
    })

    it('download-all and tar extract restore folder times and modes (set after the files inside are written)', async function () {
      const src = mk('dirsrc')
      const folders: [string, number, number][] = [['a', 0o750, 1_100_000_000], ['a/b', 0o700, 1_200_000_000], ['a/b/ro', 0o555, 1_300_000_000], ['c', 0o711, 1_400_000_000]]
      for (const [rel] of folders) mkdirSync(join(src, rel), {recursive: true})
      for (const [rel] of folders) writeFileSync(join(src, rel, 'f.txt'), rel)
      // Deepest first: writing a file inside a folder moves the folder's own time.
      for (const [rel, mode, time] of [...folders].reverse()) {
        chmodSync(join(src, rel), mode)
        utimesSync(join(src, rel), at(time), at(time))
      }
      const bucket = await newBucket('dirs')
      const cache = mk('dircache')
      const b = await runCli(['bundle', src, 'tree', '--bucket', bucket], {env: {S3C_CACHE_DIR: cache}})
      assert.equal(b.code, 0, b.stderr)
      const check = (dest: string, what: string) => {
        for (const [rel, mode, time] of folders) {
          assert.equal(statSync(join(dest, rel)).mode & 0o7777, mode, `${what} ${rel}: mode`)
          assert.equal(seconds(join(dest, rel)), time, `${what} ${rel}: mtime`)
        }
        assert.deepEqual(compareTrees(src, dest), [])
      }
      const all = mk('dirall')
      const d = await runCli(['download-all', 'tree', all, '--bucket', bucket], {env: {S3C_CACHE_DIR: cache}})
      assert.equal(d.code, 0, d.stderr)
      check(all, 'download-all')
      const x = mk('dirx')
      const t = await runCli(['tar', 'extract', '-f', `s3://${bucket}/tree/bundle.tar`, '-C', x], {env: {S3C_CACHE_DIR: cache}})
      assert.equal(t.code, 0, t.stderr)
      check(x, 'tar extract')
      for (const dest of [all, x]) chmodSync(join(dest, 'a/b/ro'), 0o755) // so the cleanup can remove it
      chmodSync(join(src, 'a/b/ro'), 0o755)
    })
  })
})
