import assert from 'node:assert/strict'
import {parseCsv} from '../../src/base/csv.js'
import {MIN_PART} from '../../src/s3/limits.js'
import {groupBySize, planTarArchive, type ArchiveObject, type ArchivePlanOptions} from '../../src/tar/create-plan.js'
import {TOC_NAME} from '../../src/tar/toc.js'
import {decideMembers, planFetches, type FetchStep} from '../../src/verbs/download-all-plan.js'
import type {IndexedMember} from '../../src/tar/header.js'

/*
 * tar create's and download-all's planners (src/tar/create-plan.ts, src/verbs/download-all-plan.ts):
 * plain functions over objects and members, no server, no file.
 */

const MiB = 1024 * 1024
const obj = (name: string, size: number, extra: Partial<ArchiveObject> = {}): ArchiveObject =>
  ({bucket: 'src', key: `p/${name}`, name, size, etag: `"e-${name}"`, mtime: 1_700_000_000, ...extra})
const archive = (objects: ArchiveObject[], opts: Partial<ArchivePlanOptions> = {}) =>
  planTarArchive(objects, {bucket: 'b', key: 'a.tar', uploadId: 'up-1', tempPrefix: 'a.tar.s3c-tmp-up1-', format: 'pax', mode: 'auto', partSize: 8 * MiB, toc: false, now: 1_700_000_000_000, ...opts})

describe('tar create planners, in memory', function () {
  describe('groupBySize', function () {
    it('no limit: one archive of everything, in order', function () {
      const objects = [obj('a', 1), obj('b', 10 * MiB), obj('c', 0)]
      assert.deepEqual(groupBySize(objects), [objects])
      assert.deepEqual(groupBySize(objects, 0), [objects])
    })

    it('consecutive groups under the limit, each object counted with its headers and padding', function () {
      // 1000 bytes cost 2048 + 1024: three fit in 9216, the fourth starts the next archive.
      const objects = ['a', 'b', 'c', 'd', 'e'].map(n => obj(n, 1000))
      assert.deepEqual(groupBySize(objects, 9216).map(g => g.map(o => o.name)), [['a', 'b', 'c'], ['d', 'e']])
      assert.deepEqual(groupBySize(objects, 9215).map(g => g.map(o => o.name)), [['a', 'b'], ['c', 'd'], ['e']])
    })

    it('an object larger than the limit gets an archive of its own', function () {
      const objects = [obj('a', 100), obj('big', 50 * MiB), obj('b', 100), obj('c', 100)]
      assert.deepEqual(groupBySize(objects, MiB).map(g => g.map(o => o.name)), [['a'], ['big'], ['b', 'c']])
    })
  })

  describe('planTarArchive', function () {
    it('small objects in memory mode: built parts only, one GET each, counts of one archive', function () {
      const objects = [obj('a', 10), obj('b', 0), obj('c', 3000, {headed: true})]
      const plan = archive(objects, {mode: 'memory'})
      assert.deepEqual(plan.jobs.map(j => j.kind), ['tar-part'])
      assert.equal(plan.toc, undefined)
      assert.equal(plan.padKey, undefined)
      assert.deepEqual(plan.tempKeys, [])
      assert.deepEqual(plan.layout.members.map(m => m.name), ['a', 'b', 'c'])
      assert.deepEqual(plan.counts, {HeadObject: 1, CreateMultipartUpload: 1, UploadPart: 1, UploadPartCopy: 0, CompleteMultipartUpload: 1,
        GetObject: 2, PutObject: 1, DeleteObjects: 0, temporaryObjects: 0, bytesDownloaded: 3010})
      assert.equal(plan.layout.dataBytes, 3010)
    })

    it('--toc: the TOC is the first member, staged as a temporary object, and its offsets are the layout\'s (fixed point)', function () {
      // Enough members, with offsets growing in digits, that the TOC's own size moves them.
      const objects = Array.from({length: 60}, (_, i) => obj(`folder/object-with-a-long-name-${String(i).padStart(3, '0')}.bin`, 1000 + i * 777))
      const plan = archive(objects, {toc: true, mode: 'memory'})
      assert.ok(plan.toc)
      assert.equal(plan.toc.key, `a.tar.s3c-toc-${(1_700_000_000_000).toString(36)}`)
      const [first, ...rest] = plan.layout.members
      assert.equal(first.name, TOC_NAME)
      assert.equal(first.size, Buffer.byteLength(plan.toc.text))
      assert.deepEqual(first.source, {bucket: 'b', key: plan.toc.key})
      assert.equal(first.mtime, 1_700_000_000)
      const rows = parseCsv(plan.toc.text)
      assert.deepEqual(rows.map(r => [r[0], Number(r[1]), Number(r[2]), r[3]]), rest.map((m, i) => [m.name, m.dataOffset, m.size, `e-${objects[i].name}`]))
      assert.deepEqual(plan.tempKeys, [plan.toc.key])
      // The TOC is built (never copied), and one more PUT and temporary object, deleted by complete-tar.
      assert.equal(plan.counts.PutObject, 2)
      assert.equal(plan.counts.temporaryObjects, 1)
      assert.equal(plan.counts.DeleteObjects, 1)
      assert.equal(plan.counts.UploadPartCopy, 0)
    })

    it('copy mode: no object is downloaded; auto mode copies the large ones only', function () {
      const objects = [obj('small', 1000), obj('large', 6 * MiB), obj('more', 2000)]
      const copy = archive(objects, {mode: 'copy'})
      assert.equal(copy.counts.GetObject, 0)
      assert.equal(copy.counts.bytesDownloaded, 0)
      const auto = archive(objects, {mode: 'auto'})
      assert.equal(auto.counts.GetObject, 2)
      assert.equal(auto.counts.bytesDownloaded, 3000)
      assert.ok(auto.counts.UploadPartCopy > 0)
      for (const plan of [copy, auto]) {
        for (const j of plan.jobs) assert.equal(j.uploadId, 'up-1')
        for (const j of plan.jobs) if (j.kind === 'tar-temp') assert.ok(j.tempKey.startsWith('a.tar.s3c-tmp-up1-'))
      }
    })

    it('the zero object is staged when a temporary object starts with a copied object', function () {
      // Every copied object ≥ 5 MiB, short gaps after them: [object][bytes after it] pairs; the
      // first starts with the headers before it, the second with its object, padded from the zero object.
      const plan = archive([obj('x', 6 * MiB), obj('y', 100), obj('z', 7 * MiB), obj('w', 100), obj('v', 6 * MiB)], {mode: 'auto'})
      const paired = plan.jobs.filter(j => j.kind === 'tar-temp' && j.steps[0] && !('bytes' in j.steps[0]))
      assert.equal(paired.length, 1)
      assert.equal(plan.padKey, 'a.tar.s3c-tmp-up1-pad')
      assert.ok(plan.tempKeys.includes('a.tar.s3c-tmp-up1-pad'))
      assert.equal(plan.counts.PutObject, 2)
      // Without such a job, no zero object.
      assert.equal(archive([obj('x', 100)], {mode: 'auto'}).padKey, undefined)
    })

    it('more than 10,000 parts is refused, naming --size-limit', function () {
      const objects = Array.from({length: 11}, (_, i) => obj(`o${i}`, 1000 * MIN_PART))
      assert.throws(() => archive(objects, {mode: 'memory', partSize: MIN_PART}), /would need \d+ parts \(S3 allows 10000\): split it with --size-limit/)
    })
  })
})

const member = (name: string, extra: Partial<IndexedMember> = {}): IndexedMember =>
  ({name, type: 'file', size: 100, mode: 0o644, mtime: 1_700_000_000, dataOffset: 512, ...extra})

describe('download-all planners, in memory', function () {
  describe('decideMembers', function () {
    it('names that climb out fail, links and folders are set apart, ./ and archive metadata give nothing', function () {
      const members = [
        member('./'), member('../evil'), member('/etc/passwd'), member('a/../../b'), member('ok/./x.txt'),
        member('dev', {type: 'other', tarType: 'CharacterDevice'}), member('vol', {type: 'other', tarType: 'TapeVolumeHeader'}),
        member('l', {type: 'symlink', linkname: '../x'}), member('h', {type: 'hardlink', linkname: 'ok/x.txt'}), member('d/', {type: 'dir'}),
      ]
      const out = [...decideMembers(members, '/dest')].map(d => `${d.kind} ${d.member.name} ${d.path}${d.kind === 'fail' ? `: ${d.reason}` : ''}`)
      assert.deepEqual(out, [
        'fail ../evil ../evil: member "../evil" would be written outside /dest; skipped',
        'fail /etc/passwd /etc/passwd: member "/etc/passwd" would be written outside /dest; skipped',
        'fail a/../../b a/../../b: member "a/../../b" would be written outside /dest; skipped',
        'file ok/./x.txt /dest/ok/x.txt',
        'fail dev /dest/dev: member "dev" is a character device: s3c cannot reproduce it; skipped',
        // A link's target is checked when it is made, last (makeLinks), not here.
        'link l /dest/l',
        'link h /dest/h',
        'folder d/ /dest/d',
      ])
    })
  })

  describe('planFetches', function () {
    const brief = (steps: FetchStep[]) => steps.map(s => s.kind === 'group'
      ? `group ${s.group.start}-${s.group.end}: ${s.group.members.map(m => m.name).join(',')}`
      : `large ${s.member.name}: ${s.ranges.map(r => `${r.offset}+${r.length}`).join(' ')}`)
    const files = (ms: IndexedMember[]) => ms.map(m => ({member: m, path: `/dest/${m.name}`}))
    const opts = {multipartThreshold: 8 * MiB, partSize: 8 * MiB, maxGap: 64 * 1024}

    it('small members close together share a read; a gap over the limit starts the next one', function () {
      const steps = [...planFetches(files([
        member('a', {dataOffset: 512, size: 100}), member('b', {dataOffset: 1536, size: 1000}),
        member('far', {dataOffset: 512 + 100_000, size: 10}),
      ]), opts)]
      assert.deepEqual(brief(steps), ['group 512-2536: a,b', 'group 100512-100522: far'])
      const g = steps[0].kind === 'group' ? steps[0].group : undefined
      assert.deepEqual(g?.members[1], {name: 'b', path: '/dest/b', dataOffset: 1536, size: 1000, mode: 0o644, mtime: 1_700_000_000, crc: undefined})
    })

    it('a group holds the part size at most; with headers each read starts one block early', function () {
      const steps = [...planFetches(files([member('a', {dataOffset: 512, size: 5 * MiB}), member('b', {dataOffset: 512 + 5 * MiB + 512, size: 4 * MiB})]), {...opts, headers: true})]
      assert.deepEqual(brief(steps), [`group 0-${512 + 5 * MiB}: a`, `group ${5 * MiB + 512}-${1024 + 9 * MiB}: b`])
      assert.ok(steps.every(s => s.kind === 'group' && s.group.headers === true))
    })

    it('a large member closes the open group and is read in ranges of the part size', function () {
      const big = 20 * MiB
      const steps = [...planFetches(files([member('a'), member('big', {dataOffset: 1536, size: big}), member('c', {dataOffset: 1536 + big + 512})]), opts)]
      assert.deepEqual(brief(steps), ['group 512-612: a', `large big: 1536+${8 * MiB} ${1536 + 8 * MiB}+${8 * MiB} ${1536 + 16 * MiB}+${4 * MiB}`, `group ${2048 + big}-${2148 + big}: c`])
    })

    it('a sparse member is planned by its stored data runs, and each range knows where its bytes go in the file', function () {
      // 100 MiB file, 9 MiB stored in two runs: large by its stored size, two ranges.
      const sparse: [number, number][] = [[0, 4 * MiB], [90 * MiB, 5 * MiB]]
      const steps = [...planFetches(files([member('s', {size: 100 * MiB, sparse})]), opts)]
      assert.equal(steps.length, 1)
      const s = steps[0]
      assert.ok(s.kind === 'large')
      assert.deepEqual(s.ranges, [
        {offset: 512, length: 8 * MiB, scatter: [[0, 4 * MiB, 0], [4 * MiB, 4 * MiB, 90 * MiB]]},
        {offset: 512 + 8 * MiB, length: MiB, scatter: [[0, MiB, 94 * MiB]]},
      ])
      // A small sparse member joins a group with its stored size and its real size.
      const small = [...planFetches(files([member('t', {size: 50 * MiB, sparse: [[10 * MiB, 100]]})]), opts)]
      assert.deepEqual(brief(small), ['group 512-612: t'])
      assert.ok(small[0].kind === 'group')
      assert.deepEqual(small[0].group.members[0], {name: 't', path: '/dest/t', dataOffset: 512, size: 100, mode: 0o644, mtime: 1_700_000_000, crc: undefined,
        sparse: [[10 * MiB, 100]], realSize: 50 * MiB})
    })
  })
})
