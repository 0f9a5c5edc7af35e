import assert from 'node:assert/strict'
import {localRoot, overlapError, parseLocation, parseS3, s3Root} from '../../src/base/location.js'

describe('locations: one parser for every argument', function () {
  it('s3:// URLs by kind, local paths, "-"', function () {
    assert.deepEqual(parseLocation('-'), {type: 'stdio'})
    assert.deepEqual(parseLocation('./a/b'), {type: 'local', path: './a/b', wildcard: false})
    assert.equal((parseLocation('logs/*.gz') as {wildcard: boolean}).wildcard, true)
    assert.equal(parseS3('s3://b').kind, 'bucket')
    assert.equal(parseS3('S3://b/').kind, 'bucket')
    assert.equal(parseS3('s3://b/dir/').kind, 'prefix')
    assert.equal(parseS3('s3://b/key').kind, 'key')
    const w = parseS3('s3://b/logs/2024-*.gz')
    assert.equal(w.kind, 'wildcard')
    assert.deepEqual(s3Root(w), {base: 'logs/', pattern: '2024-*.gz'})
    assert.deepEqual(localRoot({type: 'local', path: 'a/b/*.txt', wildcard: true}), {base: 'a/b/', pattern: '*.txt'})
    assert.deepEqual(localRoot({type: 'local', path: '*.txt', wildcard: true}), {base: '.', pattern: '*.txt'})
    assert.throws(() => parseS3('s3:///x'), /not an S3 URL/)
    assert.throws(() => parseS3('/tmp/x', 'the archive'), /"\/tmp\/x" is not the archive/)
  })

  describe('overlapError: never write where the listing reads', function () {
    const at = (bucket: string, base: string, listed?: string) => ({bucket, base, listed, url: `s3://${bucket}/${listed ?? base}`})
    it('refuses a destination inside the source, the source inside the destination, and the same folder', function () {
      assert.match(overlapError('mv', at('b', 'a/'), at('b', 'a/sub/'))!.message, /lies inside the source .*--exclude 'sub\/\*'/)
      assert.match(overlapError('cp', at('b', 'a/sub/'), at('b', 'a/'))!.message, /holds the source/)
      assert.match(overlapError('cp', at('b', ''), at('b', 'x/'))!.message, /lies inside/)
      assert.match(overlapError('sync', at('b', 'a/'), at('b', 'a/'))!.message, /is the source itself/)
      assert.equal(overlapError('mv', at('b', 'a/'), at('b', 'a/sub/'))!.exitCode, 2)
    })
    it('lets through other buckets, siblings, a wildcard whose literal part cannot reach, and an exclude covering the destination', function () {
      assert.equal(overlapError('mv', at('b', 'a/'), at('c', 'a/sub/')), undefined)
      assert.equal(overlapError('cp', at('b', 'a/'), at('b', 'a-copy/')), undefined)
      assert.equal(overlapError('cp', at('b', 'data/', 'data/2024-'), at('b', 'data/old/')), undefined)
      assert.notEqual(overlapError('cp', at('b', 'data/', 'data/'), at('b', 'data/old/')), undefined)
      assert.equal(overlapError('mv', at('b', 'a/', 'a/'), at('b', 'a/archive/'), ['archive/*']), undefined)
      assert.notEqual(overlapError('mv', at('b', 'a/'), at('b', 'a/archive/'), ['archive/x*']), undefined)
    })
  })
})

describe('locations: backslashes', function () {
  it('escape only where a wildcard character could be meant; elsewhere they are part of the key', function () {
    assert.deepEqual([parseS3('s3://b/a\\b.txt').key, parseS3('s3://b/a\\b.txt').kind], ['a\\b.txt', 'key'])
    assert.deepEqual([parseS3('s3://b/what\\?.txt').key, parseS3('s3://b/what\\?.txt').kind], ['what?.txt', 'key'])
    assert.equal(parseS3('s3://b/x\\*/').kind, 'prefix')
    assert.equal(parseS3('s3://b/logs\\\\/*.gz').kind, 'wildcard')
  })
})
