import assert from 'node:assert/strict'
import {Readable} from 'node:stream'
import {ExitCode, S3cError} from '../../src/base/errors.js'
import {compareKeys} from '../../src/base/keys.js'
import {SourceChangedError, type ListOptions, type ObjectStore} from '../../src/base/storage.js'
import {collect, readAll} from './collect.js'

/**
 * The one storage contract: the same cases against every implementation of ObjectStore
 * (src/base/storage.ts). The unit tier runs it against the in-memory store
 * (test/unit/memory-tree.ts) and the local store (test/unit/storage-contract.test.ts); the
 * end-to-end tier against S3Storage on the test server (test/storage-contract.test.ts). A new
 * backend runs it too (CONTRIBUTING.md, "Adding a storage backend"). Starts nothing itself.
 */
export interface ContractSubject {
  store: ObjectStore
  /** A fresh, empty root (a bucket, a folder) for one case. */
  newRoot(): Promise<string>
  /**
   * The server lists in its own order rather than UTF-8 byte order (fauxqs sorts by locale):
   * listings are then compared as sets, and the byte order is left to the servers that keep it.
   */
  unorderedListing?: boolean
}

/** Keys a folder can hold as files (no key is both a file and a folder), in UTF-8 byte order: '-' < '/' < '0', upper case first, é after ASCII. */
const KEYS = ['A.txt', 'a-b.txt', 'a/b.txt', 'a/c/d.txt', 'a0.txt', 'b.txt', 'z~.txt', 'é.txt']

const bodyOf = (key: string) => Buffer.from(`body of ${key}\n`)

export function storageContract(name: string, subject: () => ContractSubject): void {
  describe(`storage contract: ${name}`, function () {
    this.timeout(60_000)
    let s: ContractSubject
    let store: ObjectStore
    let root: string
    const ordered = (keys: string[]) => s.unorderedListing ? [...keys].sort(compareKeys) : keys
    const seed = async () => {
      for (const k of KEYS) await store.write(root, k, bodyOf(k))
    }
    const listKeys = async (prefix: string, opts?: ListOptions) => {
      const pages = await collect(store.list(root, prefix, opts))
      return {keys: ordered(pages.flatMap(p => p.entries.map(e => e.key))), prefixes: ordered(pages.flatMap(p => p.prefixes))}
    }

    beforeEach(async () => {
      s = subject()
      store = s.store
      root = await s.newRoot()
    })

    it('lists every object under a prefix in UTF-8 byte order, recursively', async () => {
      await seed()
      assert.deepEqual(ordered((await collect(store.listObjects(root, ''))).map(e => e.key)), KEYS)
      assert.deepEqual(ordered((await collect(store.listObjects(root, 'a'))).map(e => e.key)), ['a-b.txt', 'a/b.txt', 'a/c/d.txt', 'a0.txt'])
      assert.deepEqual(ordered((await collect(store.listObjects(root, 'a/'))).map(e => e.key)), ['a/b.txt', 'a/c/d.txt'])
      assert.deepEqual((await listKeys('')).keys, KEYS)
      assert.deepEqual(await collect(store.listObjects(root, 'nothing/')), [])
      const sizes = await collect(store.listObjects(root, 'b'))
      assert.deepEqual(sizes.map(e => [e.key, e.size]), [['b.txt', bodyOf('b.txt').length]])
    })

    it('lists one level by delimiter: objects, and the folders below once each', async () => {
      await seed()
      assert.deepEqual(await listKeys('', {delimiter: '/'}), {keys: ['A.txt', 'a-b.txt', 'a0.txt', 'b.txt', 'z~.txt', 'é.txt'], prefixes: ['a/']})
      assert.deepEqual(await listKeys('a/', {delimiter: '/'}), {keys: ['a/b.txt'], prefixes: ['a/c/']})
    })

    it('lists from a key on (startAfter)', async function () {
      // Where a listing resumes depends on the server's order: only a byte-order listing can be checked.
      if (s.unorderedListing) this.skip()
      await seed()
      assert.deepEqual((await listKeys('', {startAfter: 'a/b.txt'})).keys, ['a/c/d.txt', 'a0.txt', 'b.txt', 'z~.txt', 'é.txt'])
      assert.deepEqual((await listKeys('a', {startAfter: 'a0.txt'})).keys, [])
    })

    it('stats an object, and nothing where there is none', async () => {
      await store.write(root, 'dir/x.bin', Buffer.from('12345'))
      const st = await store.stat(root, 'dir/x.bin')
      assert.equal(st?.key, 'dir/x.bin')
      assert.equal(st?.size, 5)
      assert.ok(st!.lastModifiedMs > 0)
      assert.equal(await store.stat(root, 'dir/missing.bin'), undefined)
      assert.equal(await store.stat(root, 'nothing/at/all'), undefined)
    })

    it('reads ranges and streams of the version it opened', async () => {
      const body = Buffer.from('0123456789abcdefghij')
      await store.write(root, 'r.bin', body)
      const src = await store.openSource(root, 'r.bin')
      try {
        assert.equal((await src.stat()).size, 20)
        assert.deepEqual(await src.read(5, 5), Buffer.from('56789'))
        assert.deepEqual(await src.read(15, 10, {partial: true}), Buffer.from('fghij'))
        assert.deepEqual(await readAll(await src.stream(2, 4)), Buffer.from('2345'))
        // Replaced meanwhile: a read gives the bytes of the version opened, or fails as changed; never the new bytes.
        await store.write(root, 'r.bin', Buffer.from('ABCDEFGHIJKLMNOPQRST'))
        const after = await src.read(0, 4).catch(error => error as Error)
        if (after instanceof Error) assert.ok(after instanceof SourceChangedError, String(after))
        else assert.deepEqual(after, Buffer.from('0123'))
      } finally {
        await src.close()
      }
    })

    it('refuses to open what does not exist, exit code 2', async () => {
      await assert.rejects(store.openSource(root, 'missing.bin'), (error: unknown) => error instanceof S3cError && error.exitCode === ExitCode.usage)
    })

    it('writes small objects whole, a second write replacing the first', async () => {
      await store.write(root, 'w/one.txt', Buffer.from('first'))
      await store.write(root, 'w/one.txt', Buffer.from('second, longer'))
      const src = await store.openSource(root, 'w/one.txt')
      try {
        assert.deepEqual(await src.read(0, 14), Buffer.from('second, longer'))
      } finally {
        await src.close()
      }
      assert.deepEqual((await collect(store.listObjects(root, 'w/'))).map(e => e.key), ['w/one.txt'])
      await store.write(root, 'w/empty', Buffer.alloc(0))
      assert.equal((await store.stat(root, 'w/empty'))?.size, 0)
    })

    it('writes a stream, and a stream that fails replaces nothing', async () => {
      let seen = 0
      const written = await store.writeStream(root, 's/stream.txt', Readable.from([Buffer.from('abc'), 'def', Buffer.from('ghi')]), {onBytes: n => { seen += n }})
      assert.equal(written.bytes, 9)
      assert.equal(seen, 9)
      assert.equal((await store.stat(root, 's/stream.txt'))?.size, 9)
      async function* failing() {
        yield Buffer.from('partial')
        throw new Error('the input broke')
      }
      await assert.rejects(store.writeStream(root, 's/stream.txt', failing()), /the input broke/)
      await assert.rejects(store.writeStream(root, 's/new.txt', failing()), /the input broke/)
      assert.equal((await store.stat(root, 's/stream.txt'))?.size, 9)
      assert.equal(await store.stat(root, 's/new.txt'), undefined)
      assert.deepEqual((await collect(store.listObjects(root, 's/'))).map(e => e.key), ['s/stream.txt'])
    })

    it('copies an object where the backend copies, the source left as it was', async function () {
      if (!store.copy) this.skip()
      await store.write(root, 'c/src.txt', Buffer.from('copied bytes'))
      const other = await s.newRoot()
      await store.copy!({bucket: root, key: 'c/src.txt'}, {bucket: root, key: 'c/deep/dst.txt'})
      await store.copy!({bucket: root, key: 'c/src.txt'}, {bucket: other, key: 'elsewhere.txt'})
      for (const [r, k] of [[root, 'c/src.txt'], [root, 'c/deep/dst.txt'], [other, 'elsewhere.txt']]) {
        const src = await store.openSource(r, k)
        try {
          assert.deepEqual(await src.read(0, 12), Buffer.from('copied bytes'), k)
        } finally {
          await src.close()
        }
      }
    })

    it('removes many keys at once; a key that is not there is no failure', async () => {
      await seed()
      const failures = await store.deleteMany(root, ['a/b.txt', 'b.txt', 'é.txt', 'never/was.txt'])
      assert.deepEqual(failures, [])
      assert.deepEqual(ordered((await collect(store.listObjects(root, ''))).map(e => e.key)), ['A.txt', 'a-b.txt', 'a/c/d.txt', 'a0.txt', 'z~.txt'])
      assert.equal(await store.stat(root, 'b.txt'), undefined)
      assert.deepEqual(await store.deleteMany(root, []), [])
    })
  })
}
