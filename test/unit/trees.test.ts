import assert from 'node:assert/strict'
import {mergeByKey} from '../../src/base/keys.js'
import {decideSyncCopy, onlyInDestination, planTreeCopy} from '../../src/base/plans.js'
import {treeFiles} from '../../src/base/storage.js'
import {memoryTree} from './memory-tree.js'

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe('trees and the sync planners, in memory', function () {
  describe('onlyInDestination (sync --delete, every direction)', function () {
    it('yields the destination files the source has no name for, in key order, each confirmed', async function () {
      const src = memoryTree('src/', {'a': 1, 'c/d': 1, 'e': 1})
      const dst = memoryTree('dst/', {'a': 1, 'b': 1, 'c/d': 2, 'c/x': 1, 'z': 1})
      const out = await collect(onlyInDestination(src, dst))
      assert.deepEqual(out.map(f => f.rel), ['b', 'c/x', 'z'])
      assert.deepEqual(src.absentCalls, ['b', 'c/x', 'z'])
    })

    it('an empty source names nothing: every destination file is extra', async function () {
      const out = await collect(onlyInDestination(memoryTree('src/', {}), memoryTree('dst/', {'a': 1, 'b/c': 1})))
      assert.deepEqual(out.map(f => f.rel), ['a', 'b/c'])
    })

    it('with emptySource, a source that has no name at all is that error before anything is yielded', async function () {
      const seen: string[] = []
      await assert.rejects(async () => {
        for await (const f of onlyInDestination(memoryTree('src/', {}), memoryTree('dst/', {'a': 1}), {}, {emptySource: () => new Error('lists nothing')})) seen.push(f.rel)
      }, /lists nothing/)
      assert.deepEqual(seen, [])
      // A source with names but none in common is not empty.
      const out = await collect(onlyInDestination(memoryTree('src/', {'z': 1}), memoryTree('dst/', {'a': 1}), {}, {emptySource: () => new Error('lists nothing')}))
      assert.deepEqual(out.map(f => f.rel), ['a'])
    })

    it('only names the filters select are deleted; the source\'s names count unfiltered', async function () {
      const src = memoryTree('src/', {'keep.tmp': 1})
      const dst = memoryTree('dst/', {'keep.tmp': 1, 'x.tmp': 1, 'x.txt': 1})
      const out = await collect(onlyInDestination(src, dst, {include: ['*.tmp']}))
      assert.deepEqual(out.map(f => f.rel), ['x.tmp'])
    })

    it('a link or a special file in the source is a name: its destination file stays', async function () {
      const src = memoryTree('src/', {}, {others: [{rel: 'link', other: {reason: 'symlink', failed: false, folder: false}}]})
      const out = await collect(onlyInDestination(src, memoryTree('dst/', {link: 1, other: 1})))
      assert.deepEqual(out.map(f => f.rel), ['other'])
    })

    it('nothing under a source folder that could not be read is deleted', async function () {
      const src = memoryTree('src/', {'a': 1}, {others: [{rel: 'locked', other: {reason: 'cannot read folder', failed: true, folder: true}}]})
      const out = await collect(onlyInDestination(src, memoryTree('dst/', {'a': 1, 'locked/x': 1, 'locked/y/z': 1, 'lockedx': 1})))
      assert.deepEqual(out.map(f => f.rel), ['lockedx'])
    })

    it('a source listed out of byte order: names that look absent are confirmed, none is deleted wrongly', async function () {
      // Locale order puts "Ü" before "w"; byte order after.
      const src = memoryTree('src/', {'w': 1, 'Ü': 1, 'a': 1}, {unordered: true})
      const dst = memoryTree('dst/', {'a': 1, 'w': 1, 'Ü': 1, 'gone': 1})
      const out = await collect(onlyInDestination(src, dst))
      assert.deepEqual(out.map(f => f.rel), ['gone'])
    })
  })

  describe('decideSyncCopy (sync S3→S3)', function () {
    const o = {key: 'k', size: 3, lastModifiedMs: 0, etag: '"e"'}
    it('copies what the destination lacks or holds at another size, and everything with --force', function () {
      assert.equal(decideSyncCopy(o, undefined, {}), 'copy')
      assert.equal(decideSyncCopy(o, {...o, size: 4}, {}), 'copy')
      assert.equal(decideSyncCopy(o, o, {force: true}), 'copy')
    })
    it('skips the same ETag at the same size, and the same size with --size-only; else the time rule checks', function () {
      assert.equal(decideSyncCopy(o, o, {}), 'skip')
      assert.equal(decideSyncCopy(o, {...o, etag: '"f"'}, {sizeOnly: true}), 'skip')
      assert.equal(decideSyncCopy(o, {...o, etag: '"f"'}, {}), 'check')
      assert.equal(decideSyncCopy({...o, etag: undefined}, {...o, etag: undefined}, {}), 'check')
    })
  })

  describe('planTreeCopy (sync S3→S3\'s plan)', function () {
    it('decides each selected source file against the destination\'s, in key order, skips with reasons', async function () {
      const src = memoryTree('s/', {'a': {size: 1, etag: '"1"'}, 'b': {size: 2, etag: '"2"'}, 'c': {size: 3, etag: '"3"'}, 'x.tmp': 1},
        {others: [{rel: 'm/', entry: {key: 's/m/', size: 5, lastModifiedMs: 0}, other: {reason: 'key ends with "/" and holds data', failed: false, folder: false}}]})
      const dst = memoryTree('d/', {'a': {size: 1, etag: '"1"'}, 'b': {size: 2, etag: '"other"'}, 'c': {size: 4}, 'z': 1})
      const out = await collect(planTreeCopy(src, dst, {filter: {exclude: ['*.tmp']}}))
      assert.deepEqual(out.map(d => [d.rel, d.action, d.reason]), [
        ['a', 'skip', 'unchanged'], ['b', 'check', undefined], ['c', 'copy', undefined], ['m/', 'skip', 'key ends with "/" and holds data'],
      ])
      const forced = await collect(planTreeCopy(src, dst, {force: true}))
      assert.deepEqual(forced.filter(d => d.action !== 'skip').map(d => d.rel), ['a', 'b', 'c', 'x.tmp'])
    })

    it('a destination listed out of order never hides a difference: an unpaired name is copied', async function () {
      const src = memoryTree('s/', {'w': {size: 1, etag: '"w"'}, 'Ü': {size: 1, etag: '"u"'}})
      const dst = memoryTree('d/', {'Ü': {size: 1, etag: '"u"'}, 'w': {size: 1, etag: '"w"'}}, {unordered: true})
      const out = await collect(planTreeCopy(src, dst, {}))
      assert.ok(out.every(d => d.action === 'skip' || d.action === 'copy'))
      assert.deepEqual(out.map(d => d.rel).sort(), ['w', 'Ü'])
    })
  })

  describe('mergeByKey, loose order', function () {
    it('an input that goes back is read on, its keys yielded unpaired (strict order throws instead)', async function () {
      const from = (keys: string[]) => (async function* () { for (const key of keys) yield {key} })()
      const out = await collect(mergeByKey({a: {items: from(['b', 'a', 'c'])}, b: {items: from(['a', 'b', 'c'])}}, {order: 'loose'}))
      assert.deepEqual(out.map(m => [m.key, !!m.a, !!m.b]), [['a', false, true], ['b', true, true], ['a', true, false], ['c', true, true]])
      await assert.rejects(collect(mergeByKey({a: {items: from(['b', 'a'])}})), /not in S3 key order/)
    })
    it('treeFiles drops names that are no files and selects by the filter', async function () {
      const t = memoryTree('p/', {'x.txt': 1, 'y.bin': 1}, {others: [{rel: 'l', other: {reason: 'symlink', failed: false, folder: false}}]})
      assert.deepEqual((await collect(treeFiles(t, {exclude: ['*.bin']}))).map(f => f.rel), ['x.txt'])
    })
  })
})
