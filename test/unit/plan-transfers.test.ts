import assert from 'node:assert/strict'
import {compareKeys} from '../../src/base/keys.js'
import type {StorageEntry, TreeName} from '../../src/base/storage.js'
import type {LocalStat, StateEntry} from '../../src/state/state.js'
import {planDownload, planUpload, transferHints, type FilePlan, type PlannedFile, type UploadPlanInput} from '../../src/state/plan.js'

/*
 * upload's and download's planners (src/state/plan.ts) against in-memory listings: no server, no
 * file. Each test gives the source's names, what the destination holds and the stored state, and
 * reads the decisions.
 */

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

const MS = 1_700_000_000_000
/** A local file's entry as the local tree gives it. */
const file = (rel: string, size: number, mtimeMs = MS, ino = '7'): TreeName =>
  ({rel, entry: {key: rel, size, lastModifiedMs: mtimeMs, mtimeNs: String(BigInt(mtimeMs) * 1_000_000n), ino, ctimeNs: String(BigInt(mtimeMs) * 1_000_000n)}})
const object = (key: string, size: number, etag = `"e-${key}"`, lastModifiedMs = MS): StorageEntry => ({key, size, etag, lastModifiedMs})
const sorted = <T>(items: T[], key: (x: T) => string) => [...items].sort((a, b) => compareKeys(key(a), key(b)))
const localOf = (n: TreeName): LocalStat => ({size: n.entry!.size, mtimeNs: n.entry!.mtimeNs!, ino: n.entry!.ino, ctimeNs: n.entry!.ctimeNs})
/** The state entry a run that left the pair in sync would have written. */
const recorded = (o: StorageEntry, n: TreeName): StateEntry => ({key: o.key, size: o.size, etag: o.etag!.replaceAll('"', ''), lastModifiedMs: o.lastModifiedMs, local: localOf(n)})

function upload(names: TreeName[], remote: UploadPlanInput['remote'], opts: Partial<Parameters<typeof planUpload>[1]> = {}, state: StateEntry[] = [], extra: Partial<UploadPlanInput> = {}) {
  return collect(planUpload({
    local: {names: sorted(names, n => n.rel), locate: rel => `/data/${rel}`},
    remote: Array.isArray(remote) ? sorted(remote as StorageEntry[], o => o.key) : remote,
    state: state.length > 0 ? {items: (async function* () { yield* sorted(state, e => e.key) })()} : undefined,
    ...extra,
  }, {prefix: 'p/', ...opts}))
}

const brief = (plans: FilePlan[]) => plans.map(p => p.kind === 'problem' ? `${p.key} ${p.status}: ${p.reason}` : `${p.key} ${p.decision.action} (${p.decision.reason})`)

describe('planUpload and planDownload, in memory', function () {
  describe('planUpload', function () {
    it('a new file is sent, an unchanged one (by the state) is skipped with no request, a changed size is sent', async function () {
      const same = file('same', 4)
      const out = await upload([file('new', 4), same, file('grown', 9)],
        [object('p/same', 4), object('p/grown', 4)], {}, [recorded(object('p/same', 4), same)])
      assert.deepEqual(brief(out), ['p/grown transfer (size differs)', 'p/new transfer (new)', 'p/same skip (unchanged)'])
      const s = out[2] as PlannedFile
      assert.equal(s.path, '/data/same')
      assert.equal(s.state?.key, 'p/same')
    })

    it('same size without a state is checked; with --checksum the check compares content', async function () {
      assert.deepEqual(brief(await upload([file('a', 4)], [object('p/a', 4)])), ['p/a check (no state)'])
      const out = await upload([file('a', 4)], [object('p/a', 4)], {checksum: true})
      assert.deepEqual(brief(out), ['p/a check (checksum)'])
      assert.deepEqual(transferHints((out[0] as PlannedFile).decision, 'checksum'), {compare: 'checksum', expectSha256: undefined})
    })

    it('a file replaced in place (same size and mtime, another inode) with a recorded digest is compared by it', async function () {
      const was = file('a', 4, MS, '1')
      const entry = {...recorded(object('p/a', 4), was), sha256: 'ab'.repeat(32)}
      const out = await upload([file('a', 4, MS, '2')], [object('p/a', 4)], {}, [entry])
      assert.deepEqual(brief(out), ['p/a compare (local replaced)'])
      assert.deepEqual(transferHints((out[0] as PlannedFile).decision, 'mtime'), {compare: undefined, expectSha256: 'ab'.repeat(32)})
    })

    it('--force sends everything, listed or not', async function () {
      assert.deepEqual(brief(await upload([file('a', 4)], [object('p/a', 4)], {force: true})), ['p/a transfer (forced)'])
      assert.deepEqual(brief(await upload([file('a', 4)], 'unlisted', {force: true})), ['p/a transfer (forced)'])
    })

    it('not listed (one file, no conditions): the job checks; an empty destination: everything is new', async function () {
      assert.deepEqual(brief(await upload([file('a', 4)], 'unlisted')), ['p/a check (no state)'])
      assert.deepEqual(brief(await upload([file('a', 4)], 'empty')), ['p/a transfer (new)'])
    })

    it('one file with conditions: the object is looked up (a HEAD) only for a file the plan keeps', async function () {
      const asked: string[] = []
      const lookup = async (key: string) => {
        asked.push(key)
        return object(key, 4)
      }
      const one = (opts: Partial<Parameters<typeof planUpload>[1]>) => upload([file('a.txt', 4)], {lookup}, {single: {key: 'p/one'}, conditions: {noClobber: true}, ...opts})
      assert.deepEqual(brief(await one({})), ['p/one skip (exists)'])
      assert.deepEqual(brief(await one({exclude: ['*.txt']})), [])
      assert.deepEqual(brief(await one({only: new Set(['p/other'])})), [])
      assert.deepEqual(asked, ['p/one'])
    })

    it('-n keeps what exists, --if-size-differ keeps the same size, --if-source-newer keeps a newer object', async function () {
      const names = [file('a', 4), file('b', 5, MS + 10_000)]
      const remote = [object('p/a', 4), object('p/b', 4, '"x"', MS)]
      assert.deepEqual(brief(await upload(names, remote, {conditions: {noClobber: true}})), ['p/a skip (exists)', 'p/b skip (exists)'])
      assert.deepEqual(brief(await upload(names, remote, {conditions: {ifSizeDiffer: true}})), ['p/a skip (exists)', 'p/b transfer (size differs)'])
      // a: the object is as new as the file (kept); b: the file is newer (sent, by size).
      assert.deepEqual(brief(await upload(names, remote, {conditions: {ifSourceNewer: true}})), ['p/a skip (exists)', 'p/b transfer (size differs)'])
      // Nothing at the destination: conditions keep nothing.
      assert.deepEqual(brief(await upload([file('c', 1)], [], {conditions: {noClobber: true}})), ['p/c transfer (new)'])
    })

    it('--size-only skips the same size and sends another', async function () {
      assert.deepEqual(brief(await upload([file('a', 4), file('b', 5)], [object('p/a', 4), object('p/b', 4)], {sizeOnly: true})),
        ['p/a skip (same size)', 'p/b transfer (size differs)'])
    })

    it('problems pass through in key order with their reasons: links, unreadable folders, the reserved state key', async function () {
      const names: TreeName[] = [
        file('a', 1),
        {rel: 'link', other: {reason: 'symlink', failed: false, folder: false}},
        {rel: 'locked', other: {reason: 'cannot read folder (EACCES); what it holds was not walked', failed: true, folder: true}},
        file('s3c-state', 1),
      ]
      const out = await upload(names, [], {isState: key => key === 'p/s3c-state'})
      assert.deepEqual(brief(out), [
        'p/a transfer (new)',
        'p/link skipped: symlink',
        'p/locked/ failed: cannot read folder (EACCES); what it holds was not walked',
        'p/s3c-state skipped: reserved for s3c state',
      ])
      assert.equal(out[1].path, '/data/link')
      assert.equal((out[1] as {bytes: number}).bytes, 0)
    })

    it('a wildcard that matches nothing is the given error once the source is read', async function () {
      await assert.rejects(upload([], [], {noMatch: () => new Error('no file matches')}), /no file matches/)
      // A name it did meet (even a problem) is a match.
      assert.equal((await upload([{rel: 'l', other: {reason: 'symlink', failed: false, folder: false}}], [], {noMatch: () => new Error('none')})).length, 1)
    })

    it('keys come in UTF-8 byte order, non-ASCII names included, and join their objects', async function () {
      // UTF-16 order would put '\u{1F600}' (a surrogate pair) before '\uFF21'; UTF-8 bytes put it after.
      const rels = ['\uFF21', '\u{1F600}', 'z', 'é', 'e']
      const out = await upload(rels.map(r => file(r, 3)), rels.map(r => object(`p/${r}`, 3)))
      assert.deepEqual(out.map(p => p.key), ['p/e', 'p/z', 'p/é', 'p/\uFF21', 'p/\u{1F600}'])
      assert.ok(out.every(p => p.kind === 'file' && p.decision.action === 'check'))
    })

    it('an object (or a state entry) without a local file gives no decision', async function () {
      const a = file('a', 1)
      const out = await upload([a], [object('p/a', 1), object('p/only-remote', 1)], {}, [recorded(object('p/a', 1), a), recorded(object('p/gone', 1), file('gone', 1))])
      assert.deepEqual(brief(out), ['p/a skip (unchanged)'])
    })

    it('--include / --exclude select files; s3c retry keeps the keys it names; --flatten keeps base names', async function () {
      assert.deepEqual(brief(await upload([file('a.txt', 1), file('b.log', 1)], [], {include: ['*.txt']})), ['p/a.txt transfer (new)'])
      assert.deepEqual(brief(await upload([file('a', 1), file('b', 1)], [], {only: new Set(['p/b'])})), ['p/b transfer (new)'])
      assert.deepEqual(brief(await upload([file('d/x', 1)], [], {flatten: true})), ['p/x transfer (new)'])
    })

    it('a listing out of key order falls back: the rest is decided against the whole listing, without the state', async function () {
      const a = file('a', 1)
      const b = file('b', 2)
      let told = ''
      const out = await collect(planUpload({
        local: {names: [a, b], locate: rel => `/data/${rel}`},
        // Out of byte order, as a server that sorts by locale lists.
        remote: [object('p/b', 2), object('p/a', 1)],
        state: {items: (async function* () { yield recorded(object('p/a', 1), a); yield recorded(object('p/b', 2), b) })()},
        fallback: error => {
          told = error.message
          return [object('p/a', 1), object('p/b', 2)]
        },
      }, {prefix: 'p/'}))
      assert.match(told, /not in S3 key order/)
      // Every file is still decided once; after the fallback, same size is checked (no state).
      assert.deepEqual(out.map(p => p.key), ['p/a', 'p/b'])
      assert.ok(out.some(p => p.kind === 'file' && p.decision.reason === 'no state' && p.remote?.size === p.entry.size))
    })
  })

  describe('planDownload', function () {
    const objects = (files: StorageEntry[], others: TreeName[] = []) =>
      ({names: sorted([...files.map(o => ({rel: o.key.slice(2), entry: o})), ...others], n => n.rel)})

    async function download(remote: StorageEntry[], locals: Record<string, LocalStat>, opts: Partial<Parameters<typeof planDownload>[1]> = {}, others: TreeName[] = [], state: StateEntry[] = []) {
      return collect(planDownload({
        remote: objects(remote, others), localAt: path => locals[path],
        state: state.length > 0 ? {items: (async function* () { yield* sorted(state, e => e.key) })()} : undefined,
      }, {root: '/t', ...opts}))
    }
    const stat = (size: number, mtimeMs = MS): LocalStat => ({size, mtimeNs: String(BigInt(mtimeMs) * 1_000_000n)})

    it('new, same size (checked), another size, forced, unchanged by the state', async function () {
      const unchanged = object('p/u', 3)
      const out = await download([object('p/new', 1), object('p/same', 2), object('p/other', 2), unchanged],
        {'/t/same': stat(2), '/t/other': stat(5), '/t/u': stat(3)}, {},
        [], [{key: 'p/u', size: 3, etag: 'e-p/u', lastModifiedMs: MS, local: stat(3)}])
      assert.deepEqual(brief(out), ['p/new transfer (new)', 'p/other transfer (size differs)', 'p/same check (no state)', 'p/u skip (unchanged)'])
      assert.equal((out[0] as PlannedFile).path, '/t/new')
      assert.deepEqual(brief(await download([object('p/same', 2)], {'/t/same': stat(2)}, {force: true})), ['p/same transfer (forced)'])
    })

    it('conditions and --size-only decide against the local file', async function () {
      assert.deepEqual(brief(await download([object('p/a', 2)], {'/t/a': stat(2)}, {conditions: {noClobber: true}})), ['p/a skip (exists)'])
      assert.deepEqual(brief(await download([object('p/a', 2)], {'/t/a': stat(3)}, {conditions: {ifSizeDiffer: true}})), ['p/a transfer (size differs)'])
      assert.deepEqual(brief(await download([object('p/a', 2, '"x"', MS)], {'/t/a': stat(2, MS + 5000)}, {conditions: {ifSourceNewer: true}})), ['p/a skip (exists)'])
      assert.deepEqual(brief(await download([object('p/a', 2)], {'/t/a': stat(2)}, {sizeOnly: true})), ['p/a skip (same size)'])
    })

    it('problems: a key with data ending in "/", a key outside the target, a file that cannot be written', async function () {
      const out = await collect(planDownload({
        remote: objects([object('p/../up', 1), object('p/blocked', 1)], [{rel: 'dir/', entry: object('p/dir/', 5), other: {reason: 'key ends with "/" and holds data', failed: false, folder: false}}]),
        localAt: path => {
          if (path.endsWith('blocked')) throw new Error('a symlink is in the way')
          return undefined
        },
      }, {root: '/t'}))
      assert.deepEqual(out.map(p => p.kind === 'problem' ? `${p.key} ${p.status} ${p.bytes}` : p.key), ['p/../up failed 1', 'p/blocked failed 1', 'p/dir/ skipped 5'])
      assert.match(String((out[0] as {reason: string}).reason), /would be written outside \/t/)
      assert.match(String((out[1] as {error: Error}).error.message), /symlink is in the way/)
    })

    it('a state entry without an object, and the reserved state keys, give no decision; a wildcard matching nothing fails', async function () {
      const out = await download([object('p/a', 1), object('p/s3c-state', 1)], {}, {isState: k => k === 'p/s3c-state'}, [],
        [{key: 'p/gone', size: 1, etag: 'x', local: stat(1)}])
      assert.deepEqual(brief(out), ['p/a transfer (new)'])
      await assert.rejects(download([], {}, {noMatch: () => new Error('no object matches')}), /no object matches/)
    })

    it('keys in UTF-8 byte order; --flatten writes base names', async function () {
      const out = await download([object('p/\u{1F600}', 1), object('p/\uFF21', 1), object('p/d/z', 1)], {}, {flatten: true})
      assert.deepEqual(out.map(p => p.key), ['p/d/z', 'p/\uFF21', 'p/\u{1F600}'])
      assert.equal((out[0] as PlannedFile).path, '/t/z')
    })
  })
})
