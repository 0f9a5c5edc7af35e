import {Readable} from 'node:stream'
import {ExitCode, S3cError} from '../../src/base/errors.js'
import {compareKeys} from '../../src/base/keys.js'
import {
  SourceChangedError, type ListOptions, type ListPage, type ObjectAt, type ObjectStore, type RangeSource, type StorageEntry, type StreamWriteOptions, type Tree,
  type TreeName,
} from '../../src/base/storage.js'

/**
 * An in-memory storage backend for the unit tier: a Tree (src/base/storage.ts) over a map of
 * names, listed in key order, or in the order given (`unordered`, as a server that sorts by
 * locale lists). With memoryStore below, it is the recipe CONTRIBUTING.md gives for a new
 * backend ("Adding a storage backend"): a Tree (names, absent, locate) and an ObjectStore.
 */
export function memoryTree(label: string, files: Record<string, number | {size: number; etag?: string}>, opts: {unordered?: boolean; others?: TreeName[]} = {}): Tree & {absentCalls: string[]} {
  const entries: TreeName[] = Object.entries(files).map(([rel, v]) => {
    const o = typeof v === 'number' ? {size: v} : v
    return {rel, entry: {key: `${label}${rel}`, size: o.size, lastModifiedMs: 0, etag: o.etag} satisfies StorageEntry}
  })
  const all = [...entries, ...(opts.others ?? [])]
  if (!opts.unordered) all.sort((a, b) => compareKeys(a.rel, b.rel))
  const absentCalls: string[] = []
  return {
    label,
    absentCalls,
    async* names() {
      yield* all
    },
    absent: async rel => {
      absentCalls.push(rel)
      return !all.some(n => n.rel === rel)
    },
    locate: rel => `${label}${rel}`,
  }
}

interface MemoryObject {
  body: Buffer
  etag: string
  lastModifiedMs: number
}

/**
 * The same backend as an ObjectStore (src/base/storage.ts): roots (buckets) of keys held in
 * maps, listed in key order, written whole, a version told by its ETag. It passes the one
 * storage contract (test/harness/storage-contract.ts) that the local store and S3Storage pass.
 */
export function memoryStore(): ObjectStore & {roots: Map<string, Map<string, MemoryObject>>} {
  const roots = new Map<string, Map<string, MemoryObject>>()
  let version = 0
  const rootOf = (root: string) => {
    let r = roots.get(root)
    if (!r) roots.set(root, r = new Map())
    return r
  }
  const entryOf = (key: string, o: MemoryObject): StorageEntry => ({key, size: o.body.length, lastModifiedMs: o.lastModifiedMs, etag: o.etag})
  const put = (root: string, key: string, body: Buffer) => {
    const etag = `"v${++version}"`
    rootOf(root).set(key, {body, etag, lastModifiedMs: Date.now()})
    return {etag}
  }
  const store: ObjectStore & {roots: typeof roots} = {
    roots,
    async* list(root: string, prefix: string, opts: ListOptions = {}): AsyncGenerator<ListPage> {
      const keys = [...rootOf(root).keys()].filter(k => k.startsWith(prefix) && (opts.startAfter === undefined || compareKeys(k, opts.startAfter) > 0)).sort(compareKeys)
      const page: ListPage = {entries: [], prefixes: []}
      for (const key of keys) {
        const slash = opts.delimiter ? key.indexOf('/', prefix.length) : -1
        if (slash < 0) page.entries.push(entryOf(key, rootOf(root).get(key)!))
        else if (page.prefixes.at(-1) !== key.slice(0, slash + 1)) page.prefixes.push(key.slice(0, slash + 1))
      }
      if (page.entries.length + page.prefixes.length > 0) yield page
    },
    async* listObjects(root: string, prefix: string): AsyncGenerator<StorageEntry> {
      for await (const page of store.list(root, prefix)) yield* page.entries
    },
    stat: async (root, key) => {
      const o = rootOf(root).get(key)
      return o && entryOf(key, o)
    },
    async openSource(root: string, key: string): Promise<RangeSource> {
      const pinned = rootOf(root).get(key)
      const label = `mem://${root}/${key}`
      if (!pinned) throw new S3cError(`${label} does not exist`, ExitCode.usage)
      const current = () => {
        if (rootOf(root).get(key)?.etag !== pinned.etag) throw new SourceChangedError(label, false)
        return pinned.body
      }
      const src: RangeSource = {
        label, local: false, reads: 0, bytesRead: 0,
        stat: async () => ({size: pinned.body.length, etag: pinned.etag}),
        read: async (offset, length, o) => {
          const bytes = current().subarray(offset, offset + length)
          if (bytes.length < length && !o?.partial) throw new S3cError(`${label} is shorter than expected`, ExitCode.fatal)
          src.reads++
          src.bytesRead += bytes.length
          return bytes
        },
        stream: async (offset, length) => Readable.from([current().subarray(offset, offset + length)]),
        ref: async () => ({bucket: root, key, etag: pinned.etag}),
        close: async () => undefined,
      }
      return src
    },
    write: async (root, key, body) => put(root, key, Buffer.from(body)),
    async writeStream(root: string, key: string, body: AsyncIterable<Buffer | string>, opts: StreamWriteOptions = {}) {
      const chunks: Buffer[] = []
      for await (const c of body) {
        const b = typeof c === 'string' ? Buffer.from(c) : c
        chunks.push(b)
        opts.onBytes?.(b.length)
      }
      const all = Buffer.concat(chunks)
      put(root, key, all)
      return {bytes: all.length, parts: 0}
    },
    copy: async (from: ObjectAt, to: ObjectAt) => {
      const o = rootOf(from.bucket).get(from.key)
      if (!o) throw new S3cError(`mem://${from.bucket}/${from.key} does not exist`, ExitCode.usage)
      put(to.bucket, to.key, o.body)
    },
    deleteMany: async (root, keys) => {
      for (const k of keys) rootOf(root).delete(k)
      return []
    },
    close: async () => undefined,
  }
  return store
}
