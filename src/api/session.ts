import type {Readable, Writable} from 'node:stream'
import {ExitCode, S3cError} from '../base/errors.js'
import type {RunSummary} from '../run/stats.js'
import {transferDefaults} from '../run/defaults.js'
import {openS3} from '../storage/open.js'
import type {RemoveSummary} from '../verbs/rm.js'
import type {SyncSummary} from '../verbs/sync.js'
import {ARCHIVE_KEYS, listMembers, openMember, type ArchiveOptions, type IndexedMember} from './archives.js'
import {CONNECT_KEYS, SHARED, WHERE, checkOptions, libraryCall, resolveConnection, type ConnectOptions, type Exact} from './connect.js'
import {LIST_KEYS, READ_STREAM_KEYS, REMOVE_KEYS, createReadStream, exists, glob, isDir, list, readFile, remove, stat,
  type FileEntry, type ListOptions, type ReadStreamOptions, type RemoveOptions, type StatResult} from './files.js'
import {COPY_KEYS, SYNC_KEYS, WRITE_KEYS, copy, createWriteStream, move, sync, writeFile, type CopyApiOptions, type SyncApiOptions, type WriteOptions} from './write.js'

/** What `connect()` fixes for every call: where and how to connect, and the retries. */
type ConnectionKey = typeof WHERE[number] | 's3' | 'maxRetry'
/** A call's options on a connection: its own, without the connection's. */
export type CallOptions<O> = Omit<O, ConnectionKey>

/** The library's functions bound to one connection (`connect()`); `close()` ends it. */
export interface S3cConnection {
  stat<O extends CallOptions<ConnectOptions>>(url: string, options?: Exact<O, CallOptions<ConnectOptions>>): Promise<StatResult>
  exists<O extends CallOptions<ConnectOptions>>(url: string, options?: Exact<O, CallOptions<ConnectOptions>>): Promise<boolean>
  isDir<O extends CallOptions<ConnectOptions>>(url: string, options?: Exact<O, CallOptions<ConnectOptions>>): Promise<boolean>
  list<O extends CallOptions<ListOptions>>(url: string, options?: Exact<O, CallOptions<ListOptions>>): AsyncGenerator<FileEntry>
  glob<O extends CallOptions<ConnectOptions>>(pattern: string, options?: Exact<O, CallOptions<ConnectOptions>>): AsyncGenerator<FileEntry>
  readFile<O extends CallOptions<ConnectOptions>>(url: string, options?: Exact<O, CallOptions<ConnectOptions>>): Promise<Buffer>
  createReadStream<O extends CallOptions<ReadStreamOptions>>(url: string, options?: Exact<O, CallOptions<ReadStreamOptions>>): Readable
  remove<O extends CallOptions<RemoveOptions>>(urls: string | string[], options?: Exact<O, CallOptions<RemoveOptions>>): Promise<RemoveSummary>
  writeFile<O extends CallOptions<WriteOptions>>(url: string, data: Buffer | Uint8Array | string, options?: Exact<O, CallOptions<WriteOptions>>): Promise<void>
  createWriteStream<O extends CallOptions<WriteOptions>>(url: string, options?: Exact<O, CallOptions<WriteOptions>>): Writable
  copy<O extends CallOptions<CopyApiOptions>>(src: string, dst: string, options?: Exact<O, CallOptions<CopyApiOptions>>): Promise<RunSummary>
  move<O extends CallOptions<CopyApiOptions>>(src: string, dst: string, options?: Exact<O, CallOptions<CopyApiOptions>>): Promise<RunSummary>
  sync<O extends CallOptions<SyncApiOptions>>(src: string, dst: string, options?: Exact<O, CallOptions<SyncApiOptions>>): Promise<SyncSummary>
  listMembers<O extends CallOptions<ArchiveOptions>>(bundleOrTarUrl: string, options?: Exact<O, CallOptions<ArchiveOptions>>): Promise<IndexedMember[]>
  openMember<O extends CallOptions<ArchiveOptions>>(bundleOrTarUrl: string, name: string, options?: Exact<O, CallOptions<ArchiveOptions>>): Readable
  /** Ends the connection (its keep-alive sockets); calls after it reject. */
  close(): Promise<void>
}

const callKeys = (keys: readonly string[]) => keys.filter(k => !(WHERE as readonly string[]).includes(k) && k !== 's3' && k !== 'maxRetry')

/**
 * One connection for many calls: the configuration is resolved once (as every function resolves
 * it: README "Connecting") and every call, reads, writes, copies, syncs and archives alike, goes
 * through its one client and keep-alive pool (src/storage/open.ts, `lent`). Each call takes its
 * own options but not the connection's. The pool holds as many sockets as a run may use at most
 * (threadCount, else the adaptive limit's ceiling).
 */
export async function connect<O extends ConnectOptions = ConnectOptions>(options?: Exact<O, ConnectOptions>): Promise<S3cConnection> {
  return libraryCall(async () => {
    const opts = checkOptions('connect', options, CONNECT_KEYS)
    const s3 = await resolveConnection(opts, opts.threadCount ?? transferDefaults.adaptiveMax)
    const storage = await openS3({s3, maxRetry: opts.maxRetry, signal: opts.signal})
    let closed = false
    /** A call's options checked as its own, with the connection's added. */
    const withConnection = <T>(fn: string, keys: readonly string[], call: unknown): T => {
      if (closed) throw new S3cError(`${fn}: the connection is closed`, ExitCode.usage, 'InvalidArgument')
      const own = checkOptions(fn, call as object | undefined, callKeys(keys)) as ConnectOptions
      return {s3, maxRetry: opts.maxRetry, signal: own.signal ?? opts.signal, threadCount: opts.threadCount, ...own, [SHARED]: storage} as T
    }
    /** A promise-returning call: its option errors reject (a stream's or a generator's throw, as the function's own do). */
    const later = <T>(run: () => Promise<T>): Promise<T> => libraryCall(run)
    return {
      stat: (url, o) => later(() => stat(url, withConnection('stat', CONNECT_KEYS, o))),
      exists: (url, o) => later(() => exists(url, withConnection('exists', CONNECT_KEYS, o))),
      isDir: (url, o) => later(() => isDir(url, withConnection('isDir', CONNECT_KEYS, o))),
      list: (url, o) => list(url, withConnection<ListOptions>('list', LIST_KEYS, o)),
      glob: (pattern, o) => glob(pattern, withConnection('glob', CONNECT_KEYS, o)),
      readFile: (url, o) => later(() => readFile(url, withConnection('readFile', CONNECT_KEYS, o))),
      createReadStream: (url, o) => createReadStream(url, withConnection<ReadStreamOptions>('createReadStream', READ_STREAM_KEYS, o)),
      remove: (urls, o) => later(() => remove(urls, withConnection<RemoveOptions>('remove', REMOVE_KEYS, o))),
      writeFile: (url, data, o) => later(() => writeFile(url, data, withConnection<WriteOptions>('writeFile', WRITE_KEYS, o))),
      createWriteStream: (url, o) => createWriteStream(url, withConnection<WriteOptions>('createWriteStream', WRITE_KEYS, o)),
      copy: (src, dst, o) => later(() => copy(src, dst, withConnection<CopyApiOptions>('copy', COPY_KEYS, o))),
      move: (src, dst, o) => later(() => move(src, dst, withConnection<CopyApiOptions>('move', COPY_KEYS, o))),
      sync: (src, dst, o) => later(() => sync(src, dst, withConnection<SyncApiOptions>('sync', SYNC_KEYS, o))),
      listMembers: (ref, o) => later(() => listMembers(ref, withConnection<ArchiveOptions>('listMembers', ARCHIVE_KEYS, o))),
      openMember: (ref, name, o) => openMember(ref, name, withConnection<ArchiveOptions>('openMember', ARCHIVE_KEYS, o)),
      async close() {
        if (closed) return
        closed = true
        await storage.close()
      },
    }
  })
}
