import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {scratchDirs} from '../harness/scratch.js'
import {canonicalJson, checkStoredCommand, checkStoredPaths, firstOutside, jobKey, signCommand, workerRoots} from '../../src/run/trust.js'
import {storedLocalPaths, type StoredCommand} from '../../src/run/stored-command.js'

/* The job key and the stored command's signature (src/run/trust.ts); the worker's checks are in test/job-kinds.test.ts and test/trust.test.ts. */

describe('the job key', function () {
  const scratch = scratchDirs()

  it('comes from S3C_JOB_KEY, else from the file S3C_JOB_KEY_FILE names; none: undefined', function () {
    const dir = scratch('jobkey')
    writeFileSync(join(dir, 'key'), 'from a file\n')
    assert.equal(jobKey({}), undefined)
    assert.equal(jobKey({S3C_JOB_KEY: ''}), undefined, 'empty is none (docker-compose passes it empty)')
    assert.equal(jobKey({S3C_JOB_KEY: 'k'})!.toString(), 'k')
    assert.equal(jobKey({S3C_JOB_KEY_FILE: join(dir, 'key')})!.toString(), 'from a file')
    assert.equal(jobKey({S3C_JOB_KEY: 'k', S3C_JOB_KEY_FILE: join(dir, 'key')})!.toString(), 'k')
  })

  it('a key file that cannot be read or is empty is one line naming the file, never its content', function () {
    const dir = scratch('jobkey')
    writeFileSync(join(dir, 'empty'), '\n')
    assert.throws(() => jobKey({S3C_JOB_KEY_FILE: join(dir, 'missing')}), /^S3cError: cannot read the job key file S3C_JOB_KEY_FILE=.*missing \(ENOENT\): fix the path or unset it$/)
    assert.throws(() => jobKey({S3C_JOB_KEY_FILE: join(dir, 'empty')}), /is empty: write the shared secret into it/)
  })

  it('signs canonical JSON: the order of members does not matter, undefined members are left out as JSON leaves them', function () {
    assert.equal(canonicalJson({b: [1, {d: 2, c: undefined}], a: 'x'}), '{"a":"x","b":[1,{"d":2}]}')
    const key = Buffer.from('k')
    const command = JSON.stringify({verb: 'upload', options: {localFolder: '/data', maxRetry: 1}})
    const sig = signCommand(command, key)!
    checkStoredCommand('r', {options: {maxRetry: 1, localFolder: '/data'}, verb: 'upload'}, sig, key)
    assert.throws(() => checkStoredCommand('r', {verb: 'upload', options: {localFolder: '/', maxRetry: 1}}, sig, key), /does not match its signature/)
    assert.throws(() => checkStoredCommand('r', JSON.parse(command), undefined, key), /is not signed/)
    checkStoredCommand('r', {anything: true}, undefined, undefined)
    assert.equal(signCommand(command, undefined), undefined)
  })

  it('a worker root that does not exist is refused at start', function () {
    const dir = scratch('roots')
    assert.deepEqual(workerRoots([dir, `${dir}/.`]), [dir])
    assert.throws(() => workerRoots([join(dir, 'nope')]), /--root .*nope: no such folder: create it or name another/)
  })
})

describe('the root rule of s3c retry (one rule with the workers\')', function () {
  const base = {threadCount: 4, maxRetry: 1, location: {bucket: 'b', prefix: ''}, multipartThreshold: 1, partSize: 1, checksum: false, force: false}

  it('names every local place a stored command holds, whatever its verb; S3 URLs are not local', function () {
    assert.deepEqual(storedLocalPaths({verb: 'upload', options: {...base, localFolder: '/data/up'}}), ['/data/up'])
    assert.deepEqual(storedLocalPaths({verb: 'sync-delete', options: {...base, source: 's3://b/p', destination: '/data/mirror'}}), ['/data/mirror'])
    assert.deepEqual(storedLocalPaths({verb: 'rm', options: {...base, urls: ['s3://b/x', '/etc/passwd']}}), ['/etc/passwd'])
    assert.deepEqual(storedLocalPaths({verb: 'tar-extract', options: {...base, ref: {kind: 'local', path: '/t/a.tar', indexPath: '/t/a.tar.s3ci', label: 'a.tar'}, dest: 's3://b/out/'}}),
      ['/t/a.tar', '/t/a.tar.s3ci'])
    // Forged: a field another verb uses, or a value that is not text, is still looked at.
    const forged = {verb: 'copy', options: {...base, localFolder: '/root', source: 7, destination: 's3://b/x'}} as unknown as StoredCommand
    assert.deepEqual(storedLocalPaths(forged), ['/root', 7])
  })

  it('firstOutside: the first path not absolute or not under a root, by name after ".."', function () {
    assert.equal(firstOutside(['/data/a', '/data/b/c'], ['/data']), undefined)
    assert.deepEqual(firstOutside(['/data/a', '/data/../etc/passwd'], ['/data']), {path: '/data/../etc/passwd', absolute: true})
    assert.deepEqual(firstOutside(['rel/a'], ['/data']), {path: 'rel/a', absolute: false})
    assert.deepEqual(firstOutside([7], ['/data']), {path: '7', absolute: false})
    assert.throws(() => checkStoredPaths('r1', ['/etc'], ['/data']),
      /^S3cError: run "r1": its stored command names \/etc, outside the folders this retry may act in: run s3c retry with --root naming a folder that holds it$/)
  })
})
