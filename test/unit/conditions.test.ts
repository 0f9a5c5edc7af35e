import assert from 'node:assert/strict'
import {activeConditions, keptByConditions} from '../../src/base/plans.js'

// cp's conditions are one rule for upload, download and S3→S3 copies (src/base/plans.ts).
describe('cp conditions (-n, --if-size-differ, --if-source-newer)', function () {
  const src = {size: 10, mtimeMs: 2_000}

  it('nothing at the destination: never skipped, whatever is set', function () {
    assert.equal(keptByConditions({noClobber: true, ifSizeDiffer: true, ifSourceNewer: true}, src, undefined), false)
  })

  it('-n skips anything that exists', function () {
    assert.equal(keptByConditions({noClobber: true}, src, {size: 99, mtimeMs: 0}), true)
  })

  it('--if-size-differ skips the same size only', function () {
    assert.equal(keptByConditions({ifSizeDiffer: true}, src, {size: 10}), true)
    assert.equal(keptByConditions({ifSizeDiffer: true}, src, {size: 11}), false)
  })

  it('--if-source-newer skips a destination as new or newer; an unknown time never skips', function () {
    assert.equal(keptByConditions({ifSourceNewer: true}, src, {size: 1, mtimeMs: 2_000}), true)
    assert.equal(keptByConditions({ifSourceNewer: true}, src, {size: 1, mtimeMs: 1_999}), false)
    assert.equal(keptByConditions({ifSourceNewer: true}, {size: 10}, {size: 1, mtimeMs: 5_000}), false)
    assert.equal(keptByConditions({ifSourceNewer: true}, src, {size: 1}), false)
  })

  it('no condition set: inactive, and nothing is skipped', function () {
    assert.equal(activeConditions(undefined), undefined)
    assert.equal(activeConditions({noClobber: false}), undefined)
    assert.deepEqual(activeConditions({ifSizeDiffer: true}), {ifSizeDiffer: true})
    assert.equal(keptByConditions(undefined, src, {size: 10}), false)
  })
})
