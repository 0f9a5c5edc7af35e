import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {floorDiv, formatMtime, lastModifiedTime, parseMtime, sameTime, utimesValue, wholeSeconds} from '../../src/base/times.js'
import {objectDigests, objectTime} from '../../src/jobs/metadata.js'
import {multipartPartSizes, sameContent} from '../../src/jobs/compare.js'
import {seededBytes} from '../harness/tree.js'

const MiB = 1024 * 1024
const nsOf = (path: string) => statSync(path, {bigint: true}).mtimeNs

describe('the time rule (src/base/times.ts)', function () {
  let dir: string
  before(() => { dir = mkdtempSync(join(tmpdir(), 's3c-times-')) })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it("writes rclone's format: seconds, the fraction's trailing zeros trimmed, exact to the nanosecond", function () {
    assert.equal(formatMtime(1700000000123456789n), '1700000000.123456789')
    assert.equal(formatMtime('1700000000500000000'), '1700000000.5')
    assert.equal(formatMtime(1700000001000000000n), '1700000001')
    assert.equal(formatMtime(1000n), '0.000001')
    assert.equal(formatMtime(0n), '0')
    // Before 1970 rclone writes the signed decimal value (measured with rclone 1.60).
    assert.equal(formatMtime(-4500000000n), '-4.5')
    assert.equal(formatMtime(-500000000n), '-0.5')
    assert.equal(formatMtime(-100000000001n), '-100.000000001')
  })

  it('parses any number of fraction digits exactly (never through a float); exactly 3 digits may be an older s3c value (ms)', function () {
    assert.deepEqual(parseMtime('1700000000.123456789'), {ns: 1700000000123456789n, precision: 'ns'})
    assert.deepEqual(parseMtime('1700000000.5'), {ns: 1700000000500000000n, precision: 'ns'})
    assert.deepEqual(parseMtime('1700000001'), {ns: 1700000001000000000n, precision: 'ns'})
    assert.deepEqual(parseMtime('1700000000.12'), {ns: 1700000000120000000n, precision: 'ns'})
    assert.deepEqual(parseMtime('1700000000.123'), {ns: 1700000000123000000n, precision: 'ms'})
    assert.deepEqual(parseMtime('1700000000.1234567891234'), {ns: 1700000000123456789n, precision: 'ns'})
    assert.deepEqual(parseMtime('-4.5'), {ns: -4500000000n, precision: 'ns'})
    assert.deepEqual(parseMtime('-0.000001'), {ns: -1000n, precision: 'ns'})
    for (const bad of ['', 'abc', '1.2.3', '1e9', 'NaN', '0x10', '1,5']) assert.equal(parseMtime(bad), undefined, bad)
    assert.equal(parseMtime(undefined), undefined)
    // Every value written is read back as itself.
    for (const ns of [1700000000123456789n, 1n, -1n, -4500000000n, 1700000000000000001n, 253402300799999999999n])
      assert.equal(parseMtime(formatMtime(ns))!.ns, ns, String(ns))
  })

  it('compares at microseconds (a restored file holds no more), older ms values within 1 ms, Last-Modified at whole seconds', function () {
    const stored = parseMtime('1700000000.123456789')!
    assert.ok(sameTime(stored, 1700000000123456789n), 'the original file')
    assert.ok(sameTime(stored, 1700000000123456000n), 'the file s3c restored (µs)')
    assert.ok(!sameTime(stored, 1700000000123457000n), 'one µs later')
    assert.ok(!sameTime(stored, 1700000000123455999n), 'just before the µs')
    const legacy = parseMtime('1700000000.124')!
    assert.ok(sameTime(legacy, 1700000000123500000n), 'rounded up from .1235')
    assert.ok(sameTime(legacy, 1700000000124499999n))
    assert.ok(!sameTime(legacy, 1700000000125000000n), '1 ms away')
    assert.ok(!sameTime(legacy, 1700000000123000000n), '1 ms away')
    const lm = lastModifiedTime(Date.parse('2023-11-14T22:13:49.461Z'))
    assert.deepEqual(lm, lastModifiedTime('Tue, 14 Nov 2023 22:13:49 GMT'), 'the listing\'s milliseconds are cut: listing and HEAD agree')
    assert.ok(sameTime(lm, BigInt(Date.parse('2023-11-14T22:13:49Z')) * 1_000_000n + 999_999_999n))
    assert.ok(!sameTime(lm, BigInt(Date.parse('2023-11-14T22:13:50Z')) * 1_000_000n))
    // Before 1970 the microsecond is the one below (rounded down, as stat reports it).
    const old = parseMtime('-1.2345675')!
    assert.ok(sameTime(old, -1234568000n))
    assert.ok(!sameTime(old, -1234567000n))
    assert.equal(floorDiv(-1n, 1000n), -1n)
    assert.equal(wholeSeconds(-500000000n), -1)
    assert.equal(wholeSeconds('1700000000999999999'), 1700000000)
  })

  it('an object\'s time: its mtime metadata, else Last-Modified in whole seconds', function () {
    assert.deepEqual(objectTime({'x-amz-meta-mtime': '1700000000.5', 'last-modified': 'Tue, 14 Nov 2023 22:13:49 GMT'}), {ns: 1700000000500000000n, precision: 'ns'})
    assert.deepEqual(objectTime({'last-modified': 'Tue, 14 Nov 2023 22:13:49 GMT'}), {ns: 1700000029000000000n, precision: 's'})
    assert.deepEqual(objectTime({}, Date.parse('2023-11-14T22:13:49.461Z')), {ns: 1700000029000000000n, precision: 's'})
  })

  it('files made with touch -d @T.xxx5 keep their time through store, parse and restore (the cause of the flaky re-upload)', function () {
    const fractions = ['0015', '1235', '4445', '5555', '9995', '0005', '3335', '7775', '1234995', '12349999', '123500001', '123456789']
    for (const f of fractions) {
      const path = join(dir, `t${f}`)
      writeFileSync(path, f)
      execFileSync('touch', ['-d', `@1700000000.${f}`, path])
      const local = nsOf(path)
      const stored = parseMtime(formatMtime(local))!
      assert.equal(stored.ns, local, `${f}: stored exactly`)
      assert.ok(sameTime(stored, local), `${f}: the file itself`)
      const restored = join(dir, `r${f}`)
      writeFileSync(restored, f)
      utimesSync(restored, new Date(), utimesValue(stored.ns))
      assert.equal(floorDiv(nsOf(restored), 1000n), floorDiv(local, 1000n), `${f}: restored to the µs`)
      assert.ok(sameTime(stored, nsOf(restored)), `${f}: the restored file`)
    }
  })

  it('sets times at exactly the microsecond, before 1970 too', function () {
    const path = join(dir, 'u')
    writeFileSync(path, 'x')
    for (const ns of [1700000000123456789n, 1700000000000000500n, 1700000000999999999n, 0n, 1n, -1n, -500000000n, -4500000000n, -1234567500n, -100000000001n, 4102444800999999999n]) {
      utimesSync(path, new Date(), utimesValue(ns))
      assert.equal(floorDiv(nsOf(path), 1000n), floorDiv(ns, 1000n), String(ns))
    }
  })

  describe('content', function () {
    const md5 = (b: Buffer) => createHash('md5').update(b).digest()
    const partsEtag = (b: Buffer, part: number) => {
      const md5s: Buffer[] = []
      for (let at = 0; at < b.length; at += part) md5s.push(md5(b.subarray(at, at + part)))
      return `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${md5s.length}"`
    }

    it('reads the digests an object carries: s3c sha256, rclone md5chksum, a plain or multipart ETag (not under SSE-KMS)', function () {
      assert.deepEqual(objectDigests({etag: '"0123456789abcdef0123456789abcdef"'}), {md5: '0123456789abcdef0123456789abcdef'})
      assert.deepEqual(objectDigests({etag: '"0123456789abcdef0123456789abcdef-3"'}), {multipart: {md5: '0123456789abcdef0123456789abcdef', parts: 3}})
      assert.deepEqual(objectDigests({etag: '"0123456789abcdef0123456789abcdef"', 'x-amz-server-side-encryption': 'aws:kms'}), {})
      assert.deepEqual(objectDigests({etag: '"0123456789abcdef0123456789abcdef-2"', 'x-amz-meta-md5chksum': Buffer.alloc(16, 1).toString('base64')}),
        {md5: '01'.repeat(16), multipart: {md5: '0123456789abcdef0123456789abcdef', parts: 2}})
    })

    it('compares a file with a plain MD5 ETag, and with a multipart ETag of the usual part sizes', async function () {
      const body = seededBytes(5, 21 * MiB + 17)
      const path = join(dir, 'content.bin')
      writeFileSync(path, body)
      const local = {path, size: body.length}
      assert.equal(await sameContent(local, objectDigests({etag: `"${md5(body).toString('hex')}"`})), true)
      for (const part of [8 * MiB, 5 * MiB, 16 * MiB, 6 * MiB])
        assert.equal(await sameContent(local, objectDigests({etag: partsEtag(body, part)})), true, `${part / MiB} MiB parts`)
      const other = Buffer.from(body)
      other[12345] ^= 1
      assert.equal(await sameContent(local, objectDigests({etag: partsEtag(other, 8 * MiB)})), false)
      assert.equal(await sameContent(local, objectDigests({etag: `"${md5(other).toString('hex')}"`})), false)
      assert.equal(await sameContent(local, objectDigests({})), undefined, 'nothing to compare with')
      assert.ok(multipartPartSizes(21 * MiB + 17, 3).includes(8 * MiB))
      assert.deepEqual(multipartPartSizes(21 * MiB, 40), [], 'no usual part size makes 40 parts')
    })
  })
})
