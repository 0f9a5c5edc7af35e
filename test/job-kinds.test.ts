import assert from 'node:assert/strict'
import {handlers} from '../src/jobs/handlers.js'
import {jobKinds, kindOf} from '../src/jobs/registry.js'
import type {JobData} from '../src/jobs/types.js'
import {jobIdFor} from '../src/run/envelope.js'
import {filesOfJob} from '../src/run/runner.js'
import {isUnder, refusalOf, signEnvelope} from '../src/run/trust.js'

/*
 * One job of every kind, with the id it gets and the files it reports when it fails as a whole.
 * The ids are pinned: a run in Redis keeps its jobs' ids across s3c versions (a resumed run adds
 * the same work again under the same ids), so a change here breaks runs in progress.
 */
const cs = {bucket: 'src', key: 'obj', etag: '"e"'}
const member = {ordinal: 0, name: 'm', type: 'file' as const, size: 3, mode: 0o644, mtime: 1, headerOffset: 0, dataOffset: 512, source: {path: '/l/m'}}
const sampleJobs: JobData[] = [
  {kind: 'upload-files', bucket: 'b', files: [{path: '/l/a', key: 'a', size: 1, mtimeNs: '1'}, {path: '/l/b', key: 'b', size: 2, mtimeNs: '2'}]},
  {kind: 'upload-part', bucket: 'b', key: 'big', uploadId: 'u1', path: '/l/big', partNumber: 2, offset: 8, length: 8},
  {kind: 'complete-upload', bucket: 'b', key: 'big', uploadId: 'u1', path: '/l/big', size: 16},
  {kind: 'download-files', bucket: 'b', root: '/d', files: [{key: 'a', path: '/d/a', size: 1, lastModifiedMs: 1}, {key: 'b', path: '/d/b', size: 2, lastModifiedMs: 2}]},
  {kind: 'download-range', source: {bucket: 'b', key: 'big', etag: '"e"'}, root: '/d', tmpPath: '/d/.big.tmp', offset: 8, length: 8},
  {kind: 'finish-download', bucket: 'b', key: 'big', root: '/d', tmpPath: '/d/.big.tmp', path: '/d/big', size: 16, lastModifiedMs: 1, verify: false},
  {kind: 'tar-part', bucket: 'b', key: 'a.tar', uploadId: 'u2', partNumber: 1, offset: 0, length: 1024, format: 'pax', members: [member]},
  {kind: 'complete-tar', bucket: 'b', key: 'a.tar', uploadId: 'u2', size: 2048, memberCount: 1, source: '/l'},
  {kind: 'extract-members', source: {bucket: 'b', key: 'a.tar', etag: '"e"'}, root: '/d', start: 512, end: 1024,
    members: [{name: 'm', path: '/d/m', dataOffset: 512, size: 3, mode: 0o644, mtime: 1}, {name: 'n', path: '/d/n', dataOffset: 1024, size: 0, mode: 0o644, mtime: 1}]},
  {kind: 'tar-copy', bucket: 'b', key: 'a.tar', uploadId: 'u2', firstPart: 3, source: {...cs, start: 0, end: 10}, ordinal: 1, maxRange: 5},
  {kind: 'tar-temp', bucket: 'b', key: 'a.tar', uploadId: 'u2', firstPart: 5, tempKey: 't-1', steps: [{bytes: [0, 512]}, {copy: {...cs, size: 3}, ordinal: 0}], members: [member], format: 'gnu', maxRange: 5},
  {kind: 'copy-members', bucket: 'b', key: 'a.tar', etag: '"e"', serverSide: true, maxRange: 5, destBucket: 'c',
    members: [{name: 'm', destKey: 'x/m', dataOffset: 512, size: 3}, {name: 'n', destKey: 'x/n', dataOffset: 1024, size: 0}]},
  {kind: 'copy-object', bucket: 'c', srcBucket: 'b', files: [{srcKey: 'a', key: 'x/a', size: 1}, {srcKey: 'b', key: 'x/b', size: 2}], settings: {}},
  {kind: 'copy-part', bucket: 'c', key: 'x/big', uploadId: 'u3', partNumber: 2, source: {...cs, start: 8, end: 16}},
  {kind: 'complete-copy', bucket: 'c', key: 'x/big', uploadId: 'u3', size: 16, srcBucket: 'b', srcKey: 'big'},
  {kind: 'delete-objects', bucket: 'b', keys: ['a', 'b']},
]

const IDS: Record<string, string> = {
  'upload-files': 'run1-2-upload-files-fcd127ffa1016069006a',
  'upload-part': 'run1-2-upload-part-8de7d5b73cdc3e1a2cfc',
  'complete-upload': 'run1-2-complete-upload-95c4bea12e4edcf8aad7',
  'download-files': 'run1-2-download-files-fcd127ffa1016069006a',
  'download-range': 'run1-2-download-range-920b4efbfc809ce95f8f',
  'finish-download': 'run1-2-finish-download-95c4bea12e4edcf8aad7',
  'tar-part': 'run1-2-tar-part-5efc220173a9cc942cdb',
  'complete-tar': 'run1-2-complete-tar-88b36761652a6fa75f2e',
  'extract-members': 'run1-2-extract-members-9f4cf195b802a9af067c',
  'tar-copy': 'run1-2-tar-copy-64ce3ac71b337ccacf01',
  'tar-temp': 'run1-2-tar-temp-dc85be4114da4058ab51',
  'copy-members': 'run1-2-copy-members-51bc800305134cddee71',
  'copy-object': 'run1-2-copy-object-b8aa12de0d8b37d54e56',
  'copy-part': 'run1-2-copy-part-605efcce3390197af5e5',
  'complete-copy': 'run1-2-complete-copy-8147a4bf8b15fee9c261',
  'delete-objects': 'run1-2-delete-objects-e78618a7234ef8de2d7a',
}

const FILES: Record<string, {key: string; path: string; bytes: number}[]> = {
  'upload-files': [{key: 'a', path: '/l/a', bytes: 1}, {key: 'b', path: '/l/b', bytes: 2}],
  'upload-part': [],
  'complete-upload': [{key: 'big', path: '/l/big', bytes: 16}],
  'download-files': [{key: 'a', path: '/d/a', bytes: 1}, {key: 'b', path: '/d/b', bytes: 2}],
  'download-range': [],
  'finish-download': [{key: 'big', path: '/d/big', bytes: 16}],
  'tar-part': [],
  'complete-tar': [{key: 'a.tar', path: '/l', bytes: 2048}],
  'extract-members': [{key: 'm', path: '/d/m', bytes: 3}, {key: 'n', path: '/d/n', bytes: 0}],
  'tar-copy': [],
  'tar-temp': [],
  'copy-members': [{key: 'x/m', path: 'm', bytes: 3}, {key: 'x/n', path: 'n', bytes: 0}],
  'copy-object': [{key: 'x/a', path: 's3://b/a', bytes: 1}, {key: 'x/b', path: 's3://b/b', bytes: 2}],
  'copy-part': [],
  'complete-copy': [{key: 'x/big', path: 's3://b/big', bytes: 16}],
  'delete-objects': [{key: 'a', path: 's3://b/a', bytes: 0}, {key: 'b', path: 's3://b/b', bytes: 0}],
}

describe('job kinds', function () {
  it('every kind of the registry has a sample here, and a handler', function () {
    assert.deepEqual(sampleJobs.map(j => j.kind).sort(), jobKinds.map(k => k.kind).sort())
    assert.deepEqual(Object.keys(handlers).sort(), jobKinds.map(k => k.kind).sort())
    for (const k of jobKinds) assert.equal(typeof handlers[k.kind], 'function', k.kind)
  })

  it('which kinds are parents of a flow, and which are batched by their bucket', function () {
    assert.deepEqual(jobKinds.filter(k => k.parent).map(k => k.kind), ['complete-upload', 'finish-download', 'complete-tar', 'complete-copy'])
    assert.deepEqual(Object.fromEntries(sampleJobs.flatMap(j => (kindOf(j).batchKey ? [[j.kind, kindOf(j).batchKey!(j)]] : []))),
      {'upload-files': 'b', 'download-files': 'b', 'copy-object': 'c\nb'})
  })

  it('job ids are the ones earlier versions gave (runs in Redis stay resumable)', function () {
    assert.deepEqual(Object.fromEntries(sampleJobs.map(j => [j.kind, jobIdFor('run1', 2, j)])), IDS)
  })

  it('the files a job that failed as a whole reports', function () {
    assert.deepEqual(Object.fromEntries(sampleJobs.map(j => [j.kind, filesOfJob(j)])), FILES)
  })

  it('every kind declares the local paths its jobs touch; a worker refuses a job with one outside its folders', function () {
    for (const k of jobKinds) assert.equal(typeof k.localPaths, 'function', `${k.kind} has no localPaths`)
    assert.deepEqual(Object.fromEntries(sampleJobs.map(j => [j.kind, kindOf(j).localPaths(j)])), {
      'upload-files': ['/l/a', '/l/b'], 'upload-part': ['/l/big'], 'complete-upload': ['/l/big'],
      'download-files': ['/d', '/d/a', '/d/b'], 'download-range': ['/d', '/d/.big.tmp'], 'finish-download': ['/d', '/d/.big.tmp', '/d/big'],
      'tar-part': ['/l/m'], 'complete-tar': [], 'extract-members': ['/d', '/d/m', '/d/n'], 'tar-copy': [], 'tar-temp': ['/l/m'],
      'copy-members': [], 'copy-object': [], 'copy-part': [], 'complete-copy': [], 'delete-objects': [],
    })
    const env = (job: JobData) => ({runId: 'r', maxRetry: 0, top: true, job})
    for (const j of sampleJobs) assert.equal(refusalOf(env(j), ['/l', '/d'], undefined), undefined, j.kind)
    const refused = sampleJobs.filter(j => refusalOf(env(j), ['/l'], undefined)).map(j => j.kind)
    assert.deepEqual(refused, ['download-files', 'download-range', 'finish-download', 'extract-members'])
    assert.match(refusalOf(env(sampleJobs[0]), ['/d'], undefined)!, /^refused: \/l\/a is outside this worker's folders/)
    assert.match(refusalOf({job: {kind: 'run-shell'}}, ['/'], undefined)!, /^refused: unknown job kind run-shell/)
    assert.match(refusalOf({job: {kind: 'upload-files'}}, ['/'], undefined)!, /^refused: a upload-files job without the fields/)
    assert.match(refusalOf({job: {kind: 'upload-part', path: 'relative'}}, ['/'], undefined)!, /not an absolute path/)
  })

  it('the path rule is by name: .. cannot climb out, a sibling with the same prefix is outside', function () {
    assert.ok(isUnder('/d', '/d') && isUnder('/d/a/b', '/d') && isUnder('/d/./a', '/d'))
    assert.ok(!isUnder('/d/../etc/passwd', '/d') && !isUnder('/dd/a', '/d') && !isUnder('/', '/d'))
  })

  it('a job key signs the whole envelope: any change, or no signature, is refused', function () {
    const key = Buffer.from('k')
    const signed = signEnvelope({runId: 'r', maxRetry: 0, top: true, job: sampleJobs[0]}, key)
    assert.equal(refusalOf(signed, ['/l'], key), undefined)
    assert.equal(refusalOf(JSON.parse(JSON.stringify(signed)), ['/l'], key), undefined, 'survives JSON')
    assert.match(refusalOf({...signed, maxRetry: 5}, ['/l'], key)!, /does not match its signature/)
    assert.match(refusalOf({...signed, sig: undefined}, ['/l'], key)!, /not signed/)
    assert.match(refusalOf(signed, ['/l'], Buffer.from('other'))!, /does not match its signature/)
  })
})
