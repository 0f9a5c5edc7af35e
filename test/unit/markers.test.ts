import assert from 'node:assert/strict'
import {nextMarkers} from '../../src/s3/storage.js'

describe('listings by markers (ListObjectVersions, ListMultipartUploads) end, and end only at the end', function () {
  it('a truncated page without a marker, or with markers sent before, is an error naming the answer (exit 3)', function () {
    const seen = new Set<string>()
    assert.equal(nextMarkers('ListObjectVersions of s3://b/', false, [undefined, undefined], seen), undefined)
    assert.throws(() => nextMarkers('ListObjectVersions of s3://b/', true, [undefined, ''], seen),
      (e: {exitCode: number; message: string}) => e.exitCode === 3 && /IsTruncated=true without a next marker/.test(e.message))
    assert.ok(nextMarkers('ListMultipartUploads of s3://b/', true, ['k1', 'u1'], seen))
    assert.ok(nextMarkers('ListMultipartUploads of s3://b/', true, ['k2', 'u1'], seen))
    assert.throws(() => nextMarkers('ListMultipartUploads of s3://b/', true, ['k1', 'u1'], seen), /sent before .*would never end/)
  })
})
