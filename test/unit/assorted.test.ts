import {createHash} from 'node:crypto'
import assert from 'node:assert/strict'
import {resolve, sep} from 'node:path'
import {FatalError, S3cError, classifyError, describeError} from '../../src/base/errors.js'
import {withRetry} from '../../src/base/retry.js'
import {parseSize} from '../../src/base/units.js'
import {localPathFor} from '../../src/verbs/download.js'
import {multipartEtag} from '../../src/jobs/upload.js'
import {resolveS3Config, type S3ConfigFlags} from '../../src/s3/config.js'
import {encodeKey, S3HttpError} from '../../src/s3/fast.js'
import {folderPrefix, joinKey, parseS3Url, resolveLocation} from '../../src/base/location.js'
import {layoutTar, type MemberInput} from '../../src/tar/layout.js'
import {planArchive} from '../../src/tar/plan.js'
import {MIN_PART, partSizeFor, splitRanges} from '../../src/s3/limits.js'
import {mulberry32} from '../harness/proxy.js'
import {lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureSafeDir, linkTargetInside, memberRelPath, writeFileSafely} from '../../src/local/safe-path.js'
import {readSmall, smallIoCounts} from '../../src/local/small-io.js'
import {isPinnableEtag} from '../../src/base/storage.js'
import {availableParallelism} from 'node:os'
import {spawnSync} from 'node:child_process'
import {scatterOf} from '../../src/verbs/download-all-plan.js'

describe('units', function () {
  it('resolves the endpoint from flag, then AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, S3_ENDPOINT_URL', async function () {
    // No AWS config files (test/config.test.ts covers them), except one naming profile p.
    const dir = mkdtempSync(join(tmpdir(), 's3c-unit-aws-'))
    writeFileSync(join(dir, 'config'), '[profile p]\nregion = eu-north-1\n')
    const files = {HOME: dir, AWS_CONFIG_FILE: join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials')}
    const resolve = (flags: S3ConfigFlags, n: number, env: Record<string, string>) => resolveS3Config(flags, n, {...files, ...env})
    const env = {AWS_ENDPOINT_URL_S3: 'http://a', AWS_ENDPOINT_URL: 'http://b', S3_ENDPOINT_URL: 'http://c'}
    assert.equal((await resolve({'endpoint-url': 'http://f'}, 8, env)).endpoint, 'http://f')
    assert.equal((await resolve({}, 8, env)).endpoint, 'http://a')
    assert.equal((await resolve({}, 8, {AWS_ENDPOINT_URL: 'http://b', S3_ENDPOINT_URL: 'http://c'})).endpoint, 'http://b')
    assert.equal((await resolve({}, 8, {S3_ENDPOINT_URL: 'http://c'})).endpoint, 'http://c')
    assert.equal((await resolve({}, 8, {S3_ENDPOINT_URL: 'http://c'})).forcePathStyle, true)
    assert.equal((await resolve({'path-style': false}, 8, {S3_ENDPOINT_URL: 'http://c'})).forcePathStyle, false)
    assert.equal((await resolve({}, 8, {})).forcePathStyle, false)
    assert.equal((await resolve({}, 64, {AWS_REGION: 'eu-west-1', AWS_PROFILE: 'p'})).region, 'eu-west-1')
    assert.equal((await resolve({}, 64, {AWS_PROFILE: 'p'})).profile, 'p')
    rmSync(dir, {recursive: true, force: true})
  })

  it('parses s3:// URLs and joins keys', function () {
    assert.deepEqual(parseS3Url('s3://b/mirror/pypi'), {bucket: 'b', prefix: 'mirror/pypi'})
    assert.deepEqual(parseS3Url('s3://b'), {bucket: 'b', prefix: ''})
    assert.throws(() => parseS3Url('s3:///x'), /not an S3 URL/)
    assert.equal(joinKey('mirror/pypi', 'a/b/c.txt'), 'mirror/pypi/a/b/c.txt')
    assert.equal(joinKey('', 'a'), 'a')
    assert.equal(joinKey('p/', 'a'), 'p/a')
    assert.equal(folderPrefix('p'), 'p/')
    assert.deepEqual(resolveLocation({bucket: 'x', prefix: 'y'}), {bucket: 'x', prefix: 'y'})
    assert.throws(() => resolveLocation({url: 's3://a/b', bucket: 'c'}), /contradicts/)
  })

  it('encodes keys for the path as S3 expects', function () {
    assert.equal(encodeKey("a b/c#?%+&=!'()*/日"), "a%20b/c%23%3F%25%2B%26%3D%21%27%28%29%2A/%E6%97%A5")
  })

  it('sizes parts to fit 10,000 parts', function () {
    const MiB = 1024 * 1024
    assert.equal(partSizeFor(100 * MiB, 8 * MiB), 8 * MiB)
    assert.equal(partSizeFor(200_000 * MiB, 8 * MiB), 20 * MiB)
    assert.equal(parseSize('8MiB'), 8 * MiB)
    assert.equal(parseSize('1.5G'), 1.5 * 1024 * MiB)
    assert.throws(() => parseSize('lots'), /not a size/)
  })

  it('classifies failures: retry, fatal, or this file only', function () {
    assert.equal(classifyError(new S3HttpError('SlowDown', 'x', 503)), 'retry')
    assert.equal(classifyError(new S3HttpError('InternalError', 'x', 500)), 'retry')
    assert.equal(classifyError(Object.assign(new Error('x'), {code: 'ECONNRESET'})), 'retry')
    assert.equal(classifyError(new S3HttpError('AccessDenied', 'x', 403)), 'fatal')
    assert.equal(classifyError(new S3HttpError('NoSuchBucket', 'x', 404)), 'fatal')
    assert.equal(classifyError(new S3HttpError('InvalidAccessKeyId', 'x', 403)), 'fatal')
    assert.equal(classifyError(Object.assign(new Error('x'), {code: 'EACCES', path: '/f'})), 'file')
    assert.equal(classifyError(new S3HttpError('NoSuchKey', 'x', 404)), 'file')
    assert.equal(describeError(Object.assign(new Error('x'), {code: 'EACCES', path: '/f'})), 'permission denied: /f')
  })

  it('computes the ETag S3 gives a multipart object (to recognise an upload completed by an earlier try)', function () {
    // Measured on fauxqs and Ceph RGW: parts of 5 MiB of 0x01 and 100 bytes of 0x02.
    assert.equal(multipartEtag([{ETag: '"' + createHash('md5').update(Buffer.alloc(5 << 20, 1)).digest('hex') + '"'}, {ETag: createHash('md5').update(Buffer.alloc(100, 2)).digest('hex')}]),
      '"686ce36d083e1d331420bff015e9a69d-2"')
  })

  it('never maps a key outside the download folder', function () {
    assert.equal(localPathFor('/d', 'a/b'), '/d/a/b')
    assert.equal(localPathFor('/d', '../x'), undefined)
    assert.equal(localPathFor('/d', 'a/../../x'), undefined)
    assert.equal(localPathFor('/d', '/etc/x'), undefined)
    assert.equal(localPathFor('/d', 'dir/'), undefined)
  })

  it('maps a key to the path path.resolve gives, whatever the root and the name (the join is only a shortcut)', function () {
    // What localPathFor was before its shortcut: resolve every segment, keep what stays inside root.
    const byResolve = (root: string, rel: string) => {
      if (!rel || rel.endsWith('/')) return undefined
      const parts = rel.split('/')
      if (parts.some(p => p === '..' || p === '.' || p === '') || rel.includes('\0')) return undefined
      const path = resolve(root, ...parts)
      return path.startsWith(root + sep) ? path : undefined
    }
    const roots = ['/d', '/d/e', '/', '/d/', '/d/../e', '/d/./e', 'rel', '/d//e']
    const rels = ['a', 'a/b', 'a b/c', '.a', '..a', 'a..', 'a/.b/..c', '...', 'a/./b', 'a/../b', '..', '.', '/a', 'a//b', 'a/', '', 'a\0b',
      'a\\b', 'é/ü', 'a/b/c/d/e/f.txt']
    for (const root of roots) for (const rel of rels) assert.equal(localPathFor(root, rel), byResolve(root, rel), `${root} + ${JSON.stringify(rel)}`)
  })

  it('tar member names: "./x/./y.txt" and "x//y" land at x/y.txt and x/y; "..", absolute names and NUL are refused', function () {
    assert.equal(memberRelPath('./x/./y.txt'), 'x/y.txt')
    assert.equal(memberRelPath('x//y'), 'x/y')
    assert.equal(memberRelPath('dir/'), 'dir')
    assert.equal(memberRelPath('./'), '')
    assert.equal(memberRelPath('a/../b'), undefined)
    assert.equal(memberRelPath('/etc/passwd'), undefined)
    assert.equal(memberRelPath('a\0b'), undefined)
  })

  it('safe folders: `made` names exactly the folders the call created (the planner skips lstat only there)', function () {
    const top = mkdtempSync(join(tmpdir(), 's3c-unit-'))
    try {
      mkdirSync(join(top, 'dest', 'old'), {recursive: true})
      const made = new Set<string>()
      ensureSafeDir(join(top, 'dest'), join(top, 'dest', 'old', 'new', 'deeper'), {made})
      assert.deepEqual([...made].sort(), [join(top, 'dest', 'old', 'new'), join(top, 'dest', 'old', 'new', 'deeper')])
      const fresh = new Set<string>()
      ensureSafeDir(join(top, 'fresh'), join(top, 'fresh'), {made: fresh})
      assert.deepEqual([...fresh], [join(top, 'fresh')])
    } finally {
      rmSync(top, {recursive: true, force: true})
    }
  })

  it('writeFileSafely resolves to the stat lstat gives afterwards (size, mtime, inode, ctime), small files and large', async function () {
    const top = mkdtempSync(join(tmpdir(), 's3c-unit-'))
    try {
      for (const size of [0, 4096, 300 * 1024]) {
        const path = join(top, 'sub', `f${size}`)
        const written = await writeFileSafely(top, path, Buffer.alloc(size, 7), {mtimeNs: '1700000000123456000'})
        const st = lstatSync(path, {bigint: true})
        assert.deepEqual(written, {size, mtimeNs: String(st.mtimeNs), ino: String(st.ino), ctimeNs: String(st.ctimeNs)}, `${size} bytes`)
        assert.equal(st.mtimeNs, 1700000000123456000n)
        assert.equal(readFileSync(path).length, size)
      }
    } finally {
      rmSync(top, {recursive: true, force: true})
    }
  })

  it('readSmall (the I/O thread): the bytes, the stat of the open file, a file that grew or shrank since the walk, a missing file', async function () {
    const top = mkdtempSync(join(tmpdir(), 's3c-unit-'))
    try {
      const body = Buffer.from(Array.from({length: 5000}, (_, i) => i % 251))
      writeFileSync(join(top, 'f'), body)
      const st = lstatSync(join(top, 'f'), {bigint: true})
      // The first operations run inline while the thread loads: read until one goes to the thread.
      if (availableParallelism() >= 2 && process.env.S3C_INLINE_IO !== '1') {
        const before = smallIoCounts().threaded
        for (let i = 0; i < 1000 && smallIoCounts().threaded === before; i++) {
          await readSmall({path: join(top, 'f'), size: 5000})
          await new Promise(r => setTimeout(r, 10))
        }
        assert.ok(smallIoCounts().threaded > before, 'the I/O thread came online')
      }
      // Many at once: one batch, answered in order.
      const all = await Promise.all(Array.from({length: 50}, () => readSmall({path: join(top, 'f'), size: 5000})))
      for (const r of all) {
        assert.ok(!r.failure)
        assert.deepEqual(Buffer.from(r.body), body)
        assert.equal(r.bytesRead, 5000)
        assert.equal(r.size, String(st.size))
        assert.equal(r.mtimeNs, String(st.mtimeNs))
      }
      const grew = await readSmall({path: join(top, 'f'), size: 4000})
      assert.ok(!grew.failure && grew.bytesRead === 4001, 'a file larger than the walk saw reads one byte past')
      const shrank = await readSmall({path: join(top, 'f'), size: 6000})
      assert.ok(!shrank.failure && shrank.bytesRead === 5000)
      const empty = join(top, 'empty')
      writeFileSync(empty, '')
      const zero = await readSmall({path: empty, size: 0})
      assert.ok(!zero.failure && zero.bytesRead === 0 && zero.body.length === 0)
      const missing = await readSmall({path: join(top, 'nope'), size: 1})
      assert.equal(missing.failure?.code, 'ENOENT')
    } finally {
      rmSync(top, {recursive: true, force: true})
    }
  })

  it('the I/O thread starts with the first file read or written, not before; until it is online operations run inline', function () {
    if (availableParallelism() < 2) this.skip() // one core: always inline
    const top = mkdtempSync(join(tmpdir(), 's3c-unit-'))
    try {
      writeFileSync(join(top, 'f'), 'hello')
      const script = `
        const m = await import(${JSON.stringify(new URL('../../src/local/small-io.js', import.meta.url).href)})
        const seen = [m.smallIoCounts()]
        const first = await m.readSmall({path: ${JSON.stringify(join(top, 'f'))}, size: 5})
        seen.push(m.smallIoCounts(), Buffer.from(first.body).toString())
        while (m.smallIoCounts().threaded === 0) {
          await m.readSmall({path: ${JSON.stringify(join(top, 'f'))}, size: 5})
          await new Promise(r => setTimeout(r, 10))
        }
        const w = await m.writeSmall({tmp: ${JSON.stringify(join(top, '.g.tmp'))}, path: ${JSON.stringify(join(top, 'g'))}, body: Buffer.from('world')})
        seen.push(m.smallIoCounts().started, w.failure ?? 'written')
        console.log(JSON.stringify(seen))`
      // From a file: a thread inherits `-e` in execArgv and cannot load (small-io.ts then stays inline).
      writeFileSync(join(top, 'script.mjs'), script)
      const r = spawnSync(process.execPath, [join(top, 'script.mjs')], {encoding: 'utf8', timeout: 30_000, env: {...process.env, S3C_INLINE_IO: ''}})
      assert.equal(r.status, 0, r.stderr)
      const [before, afterFirst, body, started, written] = JSON.parse(r.stdout) as [{started: number; inline: number}, {started: number; inline: number; threaded: number}, string, number, string]
      assert.deepEqual(before, {started: 0, inline: 0, threaded: 0}, 'no thread before the first file')
      assert.deepEqual(afterFirst, {started: 1, inline: 1, threaded: 0}, 'the first read ran inline while the thread loads')
      assert.equal(body, 'hello')
      assert.equal(started, 1, 'one thread, started once')
      assert.equal(written, 'written')
      assert.equal(readFileSync(join(top, 'g'), 'utf8'), 'world')
    } finally {
      rmSync(top, {recursive: true, force: true})
    }
  })

  it('an ETag from an answer or a cache file is pinned to (sent back as If-Match) only when it is printable ASCII and bounded', function () {
    for (const ok of ['"d41d8cd98f00b204e9800998ecf8427e"', '"9b2cf535f27731c974343645a3985328-3"', 'W/"x"']) assert.ok(isPinnableEtag(ok), ok)
    for (const bad of [undefined, '', '"a"\r\nX-Evil: 1', '"a b"', '"é"', `"${'a'.repeat(300)}"`, 42]) assert.ok(!isPinnableEtag(bad), String(bad))
  })

  it('withRetry: attempts counted (first try bare, then p-retry): success, retried, not retried, used up, fatal, aborted', async function () {
    const policy = {retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2}
    const counted = (outcomes: (Error | 'ok')[]) => {
      let calls = 0
      const fn = async () => {
        const o = outcomes[Math.min(calls++, outcomes.length - 1)]
        if (o === 'ok') return 'ok'
        throw o
      }
      return {fn, calls: () => calls}
    }
    const busy = () => new S3HttpError('SlowDown', 'slow down', 503)
    const a = counted(['ok'])
    assert.equal(await withRetry(a.fn, policy), 'ok')
    assert.equal(a.calls(), 1)
    const b = counted([busy(), busy(), 'ok'])
    assert.equal(await withRetry(b.fn, policy), 'ok')
    assert.equal(b.calls(), 3, 'two retries after the first failure')
    const c = counted([new S3HttpError('NoSuchKey', 'gone', 404)])
    await assert.rejects(withRetry(c.fn, policy), /gone/)
    assert.equal(c.calls(), 1, 'a 404 is not retried')
    const d = counted([busy()])
    await assert.rejects(withRetry(d.fn, policy), /slow down/)
    assert.equal(d.calls(), 3, 'first attempt + 2 retries, then the last error')
    const e = counted([new S3HttpError('AccessDenied', 'denied', 403)])
    await assert.rejects(withRetry(e.fn, policy), (err: unknown) => err instanceof FatalError)
    assert.equal(e.calls(), 1)
    const f = counted([busy()])
    await assert.rejects(withRetry(f.fn, {...policy, retries: 0}), /slow down/)
    assert.equal(f.calls(), 1)
    const stopped = new AbortController()
    stopped.abort(new Error('stopped by the user'))
    const g = counted(['ok'])
    await assert.rejects(withRetry(g.fn, policy, stopped.signal), /stopped by the user/)
    assert.equal(g.calls(), 0, 'nothing is sent once the run is stopped')
    // Stopped while the first attempt was out: a failure to retry is not retried.
    const h = new AbortController()
    let hCalls = 0
    await assert.rejects(withRetry(async () => { hCalls++; h.abort(new Error('stopped meanwhile')); throw busy() }, policy, h.signal), /stopped meanwhile/)
    assert.equal(hCalls, 1)
  })

  it('withRetry: an endpoint that never answered gets 2 short retries and one fatal line; once it answered, the whole policy', async function () {
    const policy = {retries: 5, minTimeoutMs: 1, maxTimeoutMs: 2}
    const failing = (error: () => Error) => {
      let calls = 0
      return {fn: async (): Promise<string> => { calls++; throw error() }, calls: () => calls}
    }
    const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {code: 'ECONNREFUSED'})
    const noName = () => Object.assign(new Error('getaddrinfo ENOTFOUND nonexistent.invalid'), {code: 'ENOTFOUND'})
    const hangUp = () => Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'})
    for (const [make, message] of [[refused, /^cannot reach the S3 endpoint at http:\/\/h:9 \(ECONNREFUSED\): check --endpoint-url/],
      [noName, /^cannot reach the S3 endpoint at http:\/\/h:9 \(ENOTFOUND\)/],
      [hangUp, /^the S3 endpoint at http:\/\/h:9 closed the connection without answering \(ECONNRESET\)/]] as const) {
      const contact = {endpoint: 'http://h:9', answered: false}
      const f = failing(make)
      await assert.rejects(withRetry(f.fn, policy, undefined, contact), (err: unknown) =>
        err instanceof FatalError && err.original instanceof S3cError && message.test(err.original.message))
      assert.equal(f.calls(), 3, `${make().code}: the first attempt and 2 retries`)
      // The same failure once the endpoint has answered (a 404 is an answer): transient, the whole policy, not fatal.
      const g = failing(make)
      await assert.rejects(withRetry(async () => { throw new S3HttpError('NoSuchKey', 'gone', 404) }, policy, undefined, contact), /gone/)
      assert.equal(contact.answered, true)
      await assert.rejects(withRetry(g.fn, policy, undefined, contact), (err: unknown) => !(err instanceof FatalError))
      assert.equal(g.calls(), 6)
    }
    // Other failures keep their retries before any answer: a 503 is an answer.
    const contact = {endpoint: 'http://h:9', answered: false}
    const busy = failing(() => new S3HttpError('SlowDown', 'slow down', 503))
    await assert.rejects(withRetry(busy.fn, policy, undefined, contact), /slow down/)
    assert.equal(busy.calls(), 6)
  })

  it('safe folders: a symlink or a file on the way is refused, DEST itself may be a symlink', function () {
    const top = mkdtempSync(join(tmpdir(), 's3c-unit-'))
    try {
      const real = join(top, 'real')
      mkdirSync(join(real, 'ok'), {recursive: true})
      symlinkSync(real, join(top, 'dest'))
      const dest = join(top, 'dest')
      symlinkSync('..', join(real, 'up'))
      writeFileSync(join(real, 'file'), 'x')
      ensureSafeDir(dest, join(dest, 'ok', 'new', 'deeper'))
      assert.throws(() => ensureSafeDir(dest, join(dest, 'up', 'x')), /through the symlink up/)
      assert.throws(() => ensureSafeDir(dest, join(dest, 'file', 'x')), /file is a file where a folder is needed/)
      assert.throws(() => ensureSafeDir(dest, join(top, 'elsewhere')), /outside/)
      // A check holds from its root down: from the folder above, dest is a symlink (a worker serves many runs).
      assert.throws(() => ensureSafeDir(top, join(dest, 'ok', 'new')), /through the symlink dest/)
      // Links: inside as written and where they lead on disk.
      assert.equal(linkTargetInside(dest, join(dest, 'l'), 'ok/new'), true)
      assert.equal(linkTargetInside(dest, join(dest, 'l'), '../x'), false)
      assert.equal(linkTargetInside(dest, join(dest, 'l'), '/etc/passwd'), false)
      assert.equal(linkTargetInside(dest, join(dest, 'l'), 'up/..'), false, 'up -> .. then .. climbs out')
      assert.equal(linkTargetInside(dest, join(dest, 'l'), 'up/real/ok'), true, 'out and back in is inside')
    } finally {
      rmSync(top, {recursive: true, force: true})
    }
  })

  it('maps the stored bytes of a sparse member to file offsets for each range job', function () {
    const runs: [number, number][] = [[100, 10], [1000, 20], [5000, 0], [6000, 5]]
    assert.deepEqual(scatterOf(runs, 0, 35), [[0, 10, 100], [10, 20, 1000], [30, 5, 6000]])
    assert.deepEqual(scatterOf(runs, 5, 10), [[0, 5, 105], [5, 5, 1000]])
    assert.deepEqual(scatterOf(runs, 30, 5), [[0, 5, 6000]])
  })

  it('plans archives whose parts S3 accepts: contiguous, all but the last ≥ 5 MiB, in every mode', function () {
    const MiB = 1024 * 1024
    const rnd = mulberry32(7)
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(rnd() * 40)
      const inputs: MemberInput[] = Array.from({length: n}, (_, i) => {
        const r = rnd()
        const size = r < 0.1 ? 0 : r < 0.6 ? Math.floor(rnd() * 64 * 1024) : r < 0.8 ? Math.floor(rnd() * 4 * MiB) : MIN_PART + Math.floor(rnd() * 20 * MiB) - (rnd() < 0.2 ? MIN_PART : 0)
        return {name: `m${i}`, type: 'file', size, mode: 0o644, mtime: 0, source: {bucket: 'b', key: `k${i}`}}
      })
      const layout = layoutTar(inputs, 'pax')
      for (const mode of ['auto', 'copy', 'memory'] as const) {
        const copy = (m: {size: number}) => mode === 'copy' || (mode === 'auto' && m.size >= MIN_PART)
        const {jobs, parts} = planArchive(layout, copy, {bucket: 'b', key: 'a.tar', uploadId: 'u', format: 'pax', partSize: 8 * MiB, tempPrefix: 't-', padKey: 't-pad'})
        const sizes = new Map<number, number>()
        for (const j of jobs) {
          if (j.kind === 'tar-part') sizes.set(j.partNumber, j.length)
          else if (j.kind === 'tar-copy') splitRanges(j.source.end - j.source.start, j.maxRange).forEach(([a, b], i) => sizes.set(j.firstPart + i, b - a))
          else {
            const out = j.steps.reduce((t, st) => t + ('bytes' in st ? st.bytes[1] - st.bytes[0] : st.copy.size), 0)
            splitRanges(out, j.maxRange).forEach(([a, b], i) => sizes.set(j.firstPart + i, b - a))
            if (j.padKey && !('bytes' in j.steps[0])) assert.ok(j.steps[0].copy.size >= MIN_PART && j.steps.length <= 2 && (j.steps.length === 1 || 'bytes' in j.steps[1]), 'a pad-copied temp is [object ≥ 5 MiB][bytes]')
          }
        }
        const why = `trial ${trial} ${mode}: ${[...sizes].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' ')}`
        assert.equal(sizes.size, parts, why)
        let total = 0
        for (let k = 1; k <= parts; k++) {
          assert.ok(sizes.has(k), `part ${k} missing: ${why}`)
          if (k < parts) assert.ok(sizes.get(k)! >= MIN_PART, `part ${k} < 5 MiB: ${why}`)
          total += sizes.get(k)!
        }
        assert.equal(total, layout.size, why)
      }
    }
  })
})
