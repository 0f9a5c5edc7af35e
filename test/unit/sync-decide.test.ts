import assert from 'node:assert/strict'
import {carriedEntry, decideDownload, decideFile, decideUpload, skippedByFlags, syncedEntry, type Decision, type ListedObject, type SyncTuple} from '../../src/state/decide.js'
import type {LocalStat, StateEntry} from '../../src/state/state.js'

const ETAG = 'd41d8cd98f00b204e9800998ecf8427e'
const OTHER = '0cc175b9c0f1b6a831c399e269772661'
const SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
const LM = 1_700_000_000_123

const local = (o: Partial<LocalStat> = {}): LocalStat => ({size: 100, mtimeNs: '1700000000123456789', ino: '42', ctimeNs: '1700000000999999999', ...o})
const remote = (o: Partial<ListedObject> = {}): ListedObject => ({size: 100, etag: `"${ETAG.toUpperCase()}"`, lastModifiedMs: LM, ...o})
const state = (o: Partial<StateEntry> = {}, l: Partial<LocalStat> = {}): StateEntry =>
  ({key: 'k', size: 100, etag: ETAG, lastModifiedMs: LM, mtime: '1700000000.123456789', sha256: SHA, local: local(l), ...o})

type Want = [Decision['action'], Decision['reason']] | [Decision['action'], Decision['reason'], string]
const d = (x: Decision): Want => (x.sha256 ? [x.action, x.reason, x.sha256] : [x.action, x.reason])

describe('sync decisions: skip, transfer or check from the listing, the local stat and the state', function () {
  /** [title, tuple, options, upload, download] — every row of the table, both directions. */
  const table: [string, SyncTuple, {force?: boolean; checksum?: boolean}, Want, Want][] = [
    ['nothing on either side', {state: state()}, {}, ['none', 'no source'], ['none', 'no source']],
    ['local only (upload: new; download: nothing to fetch)', {local: local()}, {}, ['transfer', 'new'], ['none', 'no source']],
    ['object only (download: new)', {remote: remote()}, {}, ['none', 'no source'], ['transfer', 'new']],
    ['local only, with a stale state entry', {local: local(), state: state()}, {}, ['transfer', 'new'], ['none', 'no source']],
    ['object only, with a stale state entry', {remote: remote(), state: state()}, {}, ['none', 'no source'], ['transfer', 'new']],
    ['sizes differ', {local: local({size: 99}), remote: remote(), state: state()}, {}, ['transfer', 'size differs'], ['transfer', 'size differs']],
    ['sizes differ, no state', {local: local({size: 101}), remote: remote()}, {}, ['transfer', 'size differs'], ['transfer', 'size differs']],
    ['same size, no state: today\'s check', {local: local(), remote: remote()}, {}, ['check', 'no state'], ['check', 'no state']],
    ['all three agree: skip, no request', {local: local(), remote: remote(), state: state()}, {}, ['skip', 'unchanged'], ['skip', 'unchanged']],
    ['all agree, the state knows no Last-Modified yet (just written)', {local: local(), remote: remote(), state: state({lastModifiedMs: undefined})}, {},
      ['skip', 'unchanged'], ['skip', 'unchanged']],
    ['all agree, no inode or ctime on either side', {local: local({ino: undefined, ctimeNs: undefined}), remote: remote(), state: state({}, {ino: undefined, ctimeNs: undefined})}, {},
      ['skip', 'unchanged'], ['skip', 'unchanged']],
    ['all agree, inode and ctime recorded but not read now', {local: local({ino: undefined, ctimeNs: undefined}), remote: remote(), state: state()}, {},
      ['skip', 'unchanged'], ['skip', 'unchanged']],
    ['local touched (mtime moved, same size)', {local: local({mtimeNs: '1700000500000000000'}), remote: remote(), state: state()}, {},
      ['transfer', 'local changed'], ['check', 'local changed']],
    ['local mtime moved by 1 ns only', {local: local({mtimeNs: '1700000000123456790'}), remote: remote(), state: state()}, {},
      ['transfer', 'local changed'], ['check', 'local changed']],
    ['local resized to the size the object has now (someone else synced it)', {local: local({size: 50}), remote: remote({size: 50, etag: OTHER}), state: state()}, {},
      ['check', 'no state'], ['check', 'no state']],
    ['local replaced by rename, size and mtime put back (other inode)', {local: local({ino: '43'}), remote: remote(), state: state()}, {},
      ['compare', 'local replaced', SHA], ['compare', 'local replaced', SHA]],
    ['local rewritten, mtime put back (other ctime)', {local: local({ctimeNs: '1700000777000000000'}), remote: remote(), state: state()}, {},
      ['compare', 'local replaced', SHA], ['compare', 'local replaced', SHA]],
    ['local replaced, no digest recorded: moved again, never skipped by the time rule', {local: local({ino: '43'}), remote: remote(), state: state({sha256: undefined})}, {},
      ['transfer', 'local replaced'], ['transfer', 'local replaced']],
    ['local rewritten in place, mtime put back, no digest recorded (multipart without --checksum): moved again', {local: local({ctimeNs: '1700000777000000000'}), remote: remote(), state: state({sha256: undefined})}, {},
      ['transfer', 'local replaced'], ['transfer', 'local replaced']],
    ['object replaced by another writer (other ETag, same size)', {local: local(), remote: remote({etag: OTHER}), state: state()}, {},
      ['transfer', 'object replaced'], ['transfer', 'object replaced']],
    ['object replaced and local touched', {local: local({mtimeNs: '1'}), remote: remote({etag: OTHER}), state: state()}, {},
      ['transfer', 'object replaced'], ['transfer', 'object replaced']],
    ['object listed without an ETag', {local: local(), remote: remote({etag: undefined}), state: state()}, {},
      ['transfer', 'object replaced'], ['transfer', 'object replaced']],
    ['object rewritten with the same bytes (same ETag, other Last-Modified)', {local: local(), remote: remote({lastModifiedMs: LM + 1}), state: state()}, {},
      ['check', 'object rewritten'], ['check', 'object rewritten']],
    ['state recorded another size than both sides have now', {local: local(), remote: remote(), state: state({size: 7}, {size: 7})}, {},
      ['check', 'no state'], ['check', 'no state']],
    ['state recorded this local size but another object size', {local: local(), remote: remote(), state: state({size: 7})}, {},
      ['transfer', 'object replaced'], ['transfer', 'object replaced']],
    ['--force transfers even an unchanged pair', {local: local(), remote: remote(), state: state()}, {force: true}, ['transfer', 'forced'], ['transfer', 'forced']],
    ['--force with no counterpart', {local: local()}, {force: true}, ['transfer', 'forced'], ['none', 'no source']],
    ['--checksum, object as recorded with a digest: compare the local file with it, no HEAD', {local: local(), remote: remote(), state: state()}, {checksum: true},
      ['compare', 'checksum (state)', SHA], ['compare', 'checksum (state)', SHA]],
    ['--checksum, local touched: still by content (the mtime says nothing)', {local: local({mtimeNs: '5'}), remote: remote(), state: state()}, {checksum: true},
      ['compare', 'checksum (state)', SHA], ['compare', 'checksum (state)', SHA]],
    ['--checksum, no digest recorded', {local: local(), remote: remote(), state: state({sha256: undefined})}, {checksum: true},
      ['check', 'checksum'], ['check', 'checksum']],
    ['--checksum, object replaced: today\'s content check (exact, so no need to resend blindly)', {local: local(), remote: remote({etag: OTHER}), state: state()}, {checksum: true},
      ['check', 'checksum'], ['check', 'checksum']],
    ['--checksum, object rewritten', {local: local(), remote: remote({lastModifiedMs: 1}), state: state()}, {checksum: true},
      ['check', 'checksum'], ['check', 'checksum']],
    ['--checksum, no state', {local: local(), remote: remote()}, {checksum: true}, ['check', 'checksum'], ['check', 'checksum']],
    ['--checksum, sizes differ', {local: local({size: 1}), remote: remote(), state: state()}, {checksum: true}, ['transfer', 'size differs'], ['transfer', 'size differs']],
  ]
  for (const [title, tuple, opts, up, down] of table) {
    it(title, function () {
      assert.deepEqual(d(decideUpload(tuple, opts)), up, 'upload')
      assert.deepEqual(d(decideDownload(tuple, opts)), down, 'download')
    })
  }

  it('never skips unless the object and the local file are both exactly as recorded (exhaustive over single changes)', function () {
    const base = {local: local(), remote: remote(), state: state()}
    const changes: [string, SyncTuple][] = [
      ['local size', {...base, local: local({size: 101}), remote: remote({size: 101})}],
      ['local mtime', {...base, local: local({mtimeNs: '1700000000123456788'})}],
      ['local ino', {...base, local: local({ino: '1'})}],
      ['local ctime', {...base, local: local({ctimeNs: '1'})}],
      ['object etag', {...base, remote: remote({etag: OTHER})}],
      ['object size', {...base, remote: remote({size: 101}), local: local({size: 101})}],
      ['object last-modified', {...base, remote: remote({lastModifiedMs: LM - 1})}],
      ['no state', {local: local(), remote: remote()}],
    ]
    for (const [what, t] of changes) {
      for (const checksum of [false, true]) {
        assert.notEqual(decideUpload(t, {checksum}).action, 'skip', `upload, ${what}, checksum=${checksum}`)
        assert.notEqual(decideDownload(t, {checksum}).action, 'skip', `download, ${what}, checksum=${checksum}`)
      }
    }
    assert.equal(decideUpload(base).action, 'skip')
  })

  describe('state entries', function () {
    it('syncedEntry records the object as written or fetched and the local stat; no ETag, no entry', function () {
      assert.deepEqual(syncedEntry('k', {size: 100, etag: `"${ETAG}"`, mtime: '1700000000.1', sha256: SHA}, local()),
        {key: 'k', size: 100, etag: ETAG, mtime: '1700000000.1', sha256: SHA, local: local()})
      assert.equal(syncedEntry('k', {size: 100}, local()), undefined)
      assert.equal(syncedEntry('k', {size: 100, etag: ETAG}, local({size: 5})), undefined, 'sizes must agree')
    })

    it('carriedEntry (after a skip) takes the listing\'s ETag and Last-Modified and keeps the recorded mtime and digest', function () {
      const was = state({lastModifiedMs: undefined})
      const e = carriedEntry('k', remote(), was, local())!
      assert.deepEqual(e, {...was, lastModifiedMs: LM})
      // The carried entry decides the next run the same way.
      assert.equal(decideUpload({local: local(), remote: remote(), state: e}).action, 'skip')
    })
  })
})

describe('decideFile: cp\'s conditions and --size-only before the state, both directions', function () {
  // The file's mtime is 1,700,000,000,123 ms; the object's Last-Modified LM is the same instant.
  const older = remote({lastModifiedMs: LM - 1})
  const newer = remote({lastModifiedMs: LM + 1})

  it('-n keeps what exists, in each direction; nothing there: the state rule', function () {
    assert.deepEqual(d(decideFile('upload', {local: local(), remote: remote({size: 5})}, {conditions: {noClobber: true}})), ['skip', 'exists'])
    assert.deepEqual(d(decideFile('download', {local: local({size: 5}), remote: remote()}, {conditions: {noClobber: true}})), ['skip', 'exists'])
    assert.deepEqual(d(decideFile('upload', {local: local()}, {conditions: {noClobber: true}})), ['transfer', 'new'])
    assert.deepEqual(d(decideFile('download', {remote: remote()}, {conditions: {noClobber: true}})), ['transfer', 'new'])
  })

  it('--if-source-newer compares the source\'s time with the destination\'s, each way round', function () {
    const c = {conditions: {ifSourceNewer: true}}
    // upload: the local file is the source
    assert.deepEqual(d(decideFile('upload', {local: local(), remote: older}, c)), ['check', 'no state'])
    assert.deepEqual(d(decideFile('upload', {local: local(), remote: newer}, c)), ['skip', 'exists'])
    // download: the object is the source
    assert.deepEqual(d(decideFile('download', {local: local(), remote: older}, c)), ['skip', 'exists'])
    assert.deepEqual(d(decideFile('download', {local: local(), remote: newer}, c)), ['check', 'no state'])
  })

  it('conditions hold even with --force; --size-only does not', function () {
    assert.deepEqual(d(decideFile('upload', {local: local(), remote: remote()}, {force: true, conditions: {ifSizeDiffer: true}})), ['skip', 'exists'])
    assert.deepEqual(d(decideFile('upload', {local: local(), remote: remote()}, {force: true, sizeOnly: true})), ['transfer', 'forced'])
    assert.deepEqual(d(decideFile('download', {local: local(), remote: remote({etag: OTHER})}, {sizeOnly: true})), ['skip', 'same size'])
    assert.ok(skippedByFlags(decideFile('download', {local: local(), remote: remote()}, {sizeOnly: true})))
    assert.ok(!skippedByFlags(decideFile('download', {local: local(), remote: remote(), state: state()}, {})))
  })
})
