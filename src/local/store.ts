import {constants} from 'node:fs'
import {copyFile, lstat, rename, unlink} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import {describeError, ExitCode, S3cError} from '../base/errors.js'
import type {CopyOptions, ListOptions, ListPage, ObjectAt, ObjectStore, RangeSource, StorageEntry, StreamWriteOptions} from '../base/storage.js'
import {fsPath} from './fs-path.js'
import {ensureSafeDir, LocalPathError, localPathFor, tempPathFor, withTempFile, writeFileSafely} from './safe-path.js'
import {localSource} from './storage.js'
import {isProblem, walkLocal} from './walk.js'

/*
 * The local filesystem as an ObjectStore (src/base/storage.ts): a root is a folder, a key the
 * '/'-separated path of a regular file under it, in s3c's spelling of names
 * (src/local/fs-path.ts). Listed by the walk (src/local/walk.ts: S3's byte order, links not
 * followed: a link, a folder or a special file is no object); written by a temporary name and a
 * rename, never through a link (src/local/safe-path.ts), so a reader sees the old file or the
 * new one; copied with copyFile the same way; removed with unlink. A key no file can have (`a//b`,
 * `../x`, one ending with '/') is refused as S3 would never be asked for it.
 */

const PAGE = 1000

function pathOf(root: string, key: string): string {
  const path = localPathFor(resolve(root), key)
  if (!path) throw new LocalPathError(`"${key}" cannot be a file under ${root}: empty, "." or ".." segments, or a trailing "/"`)
  return path
}

/** The files under root whose keys start with `prefix`, in key order (the walk starts at the folder the prefix is in). */
async function* filesUnder(root: string, prefix: string, startAfter?: string): AsyncGenerator<StorageEntry> {
  const base = resolve(root)
  const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1)
  const start = folder ? localPathFor(base, folder.slice(0, -1)) : base
  if (!start || !(await lstat(fsPath(start)).catch(() => undefined))?.isDirectory()) return
  for await (const e of walkLocal(start)) {
    if (isProblem(e) || e.type !== 'file') continue
    const key = folder + e.rel
    if (!key.startsWith(prefix) || (startAfter !== undefined && Buffer.compare(Buffer.from(key), Buffer.from(startAfter)) <= 0)) continue
    yield {key, size: e.size, lastModifiedMs: Number(BigInt(e.mtimeNs) / 1_000_000n), mtimeNs: e.mtimeNs}
  }
}

/** The local store. It holds nothing open: every call opens what it needs. */
export function localStore(): ObjectStore {
  const store: ObjectStore = {
    async* list(root: string, prefix: string, opts: ListOptions = {}): AsyncGenerator<ListPage> {
      let page: ListPage = {entries: [], prefixes: []}
      let lastFolder: string | undefined
      for await (const e of filesUnder(root, prefix, opts.startAfter)) {
        const slash = opts.delimiter ? e.key.indexOf('/', prefix.length) : -1
        if (slash >= 0) {
          // One level only: the folder below, once (the walk gives its files one after another).
          const folder = e.key.slice(0, slash + 1)
          if (lastFolder !== folder) page.prefixes.push(folder)
          lastFolder = folder
        } else page.entries.push(e)
        if (page.entries.length + page.prefixes.length >= PAGE) {
          yield page
          page = {entries: [], prefixes: []}
        }
      }
      if (page.entries.length + page.prefixes.length > 0) yield page
    },
    async* listObjects(root: string, prefix: string): AsyncGenerator<StorageEntry> {
      yield* filesUnder(root, prefix)
    },
    async stat(root: string, key: string): Promise<StorageEntry | undefined> {
      const path = localPathFor(resolve(root), key)
      const st = path ? await lstat(fsPath(path), {bigint: true}).catch(() => undefined) : undefined
      if (!st?.isFile()) return undefined
      return {key, size: Number(st.size), lastModifiedMs: Number(st.mtimeNs / 1_000_000n), mtimeNs: String(st.mtimeNs)}
    },
    async openSource(root: string, key: string): Promise<RangeSource> {
      const path = pathOf(root, key)
      const missing = () => new S3cError(`${path} does not exist`, ExitCode.usage)
      if (!(await store.stat(root, key))) throw missing()
      return localSource(path, {missing})
    },
    async write(root: string, key: string, body: Buffer): Promise<{etag?: string}> {
      const base = resolve(root)
      await writeFileSafely(base, pathOf(base, key), body)
      return {}
    },
    async writeStream(root: string, key: string, body: AsyncIterable<Buffer | string>, opts: StreamWriteOptions = {}): Promise<{bytes: number; parts: number}> {
      const base = resolve(root)
      let bytes = 0
      await withTempFile(base, pathOf(base, key), async fh => {
        for await (const chunk of body) {
          const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
          await fh.write(buf)
          bytes += buf.length
          opts.onBytes?.(buf.length)
        }
      })
      return {bytes, parts: 0}
    },
    async copy(from: ObjectAt, to: ObjectAt, _opts?: CopyOptions): Promise<void> {
      const source = pathOf(from.bucket, from.key)
      const base = resolve(to.bucket)
      const target = pathOf(base, to.key)
      ensureSafeDir(base, dirname(target))
      const tmp = tempPathFor(target)
      try {
        await copyFile(fsPath(source), fsPath(tmp), constants.COPYFILE_EXCL)
        await rename(fsPath(tmp), fsPath(target))
      } catch (error) {
        await unlink(fsPath(tmp)).catch(() => undefined)
        throw error
      }
    },
    async deleteMany(root: string, keys: string[]): Promise<{key: string; error: string}[]> {
      const failures: {key: string; error: string}[] = []
      for (const key of keys) {
        try {
          await unlink(fsPath(pathOf(root, key)))
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          if (code !== 'ENOENT' && code !== 'ENOTDIR') failures.push({key, error: describeError(error)})
        }
      }
      return failures
    },
    close: async () => undefined,
  }
  return store
}
