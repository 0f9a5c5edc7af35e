import {close as closeCb, mkdirSync, openSync, unlinkSync, write as writeCb} from 'node:fs'
import {rename, unlink} from 'node:fs/promises'
import {promisify} from 'node:util'
import {dirname, resolve} from 'node:path'
import {PassThrough, Readable, Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {randomBytes} from 'node:crypto'
import {transferDefaults} from '../run/defaults.js'
import type {TransferOptions} from '../run/session.js'
import type {RunSummary} from '../run/stats.js'
import type {CopySettings} from '../jobs/types.js'
import {checkObjectSettings, type ObjectSettings} from '../base/storage.js'
import {parseLocation, parseS3Url} from '../base/location.js'
import {cp} from '../verbs/cp.js'
import {mv} from '../verbs/mv.js'
import {pipeToS3} from '../verbs/pipe.js'
import {sync as syncVerb, type SyncSummary} from '../verbs/sync.js'
import {ExitCode, S3cError} from '../base/errors.js'
import {CONNECT_KEYS, checkOptions, lentOf, libraryCall, libraryError, optionKeys, resolveConnection, type ConnectOptions, type Exact} from './connect.js'

const write = promisify(writeCb)
const close = promisify(closeCb)

/*
 * The write side of the library: local paths and s3:// URLs alike, connected by the options of
 * src/api/connect.ts (else the CLI's configuration).
 */

export interface WriteOptions extends ConnectOptions {
  contentType?: string
  metadata?: Record<string, string>
  storageClass?: string
  /** S3: the size of the first parts of a large write (≥ 5 MiB). */
  partSize?: number
}

/** cp's options; what the new objects get is ObjectSettings (content type, metadata, class, encryption, ACL). */
export interface CopyApiOptions extends ConnectOptions, ObjectSettings {
  include?: string[]
  exclude?: string[]
  flatten?: boolean
  noClobber?: boolean
  ifSizeDiffer?: boolean
  ifSourceNewer?: boolean
  dryRun?: boolean
  /** Run the jobs on BullMQ workers (`s3c worker`) through this Redis. */
  redisUrl?: string
  onPlan?: (line: string) => void
}

export interface SyncApiOptions extends ConnectOptions {
  include?: string[]
  exclude?: string[]
  delete?: boolean
  sizeOnly?: boolean
  exactTimestamps?: boolean
  checksum?: boolean
  force?: boolean
  dryRun?: boolean
  storageClass?: string
  redisUrl?: string
  onPlan?: (line: string) => void
}

export const WRITE_KEYS = optionKeys<WriteOptions>()(...CONNECT_KEYS as (keyof ConnectOptions)[], 'contentType', 'metadata', 'storageClass', 'partSize')
export const COPY_KEYS = optionKeys<CopyApiOptions>()(...CONNECT_KEYS as (keyof ConnectOptions)[], 'contentType', 'metadata', 'storageClass', 'sse', 'sseKmsKeyId', 'acl',
  'include', 'exclude', 'flatten', 'noClobber', 'ifSizeDiffer', 'ifSourceNewer', 'dryRun', 'redisUrl', 'onPlan')
export const SYNC_KEYS = optionKeys<SyncApiOptions>()(...CONNECT_KEYS as (keyof ConnectOptions)[], 'include', 'exclude', 'delete', 'sizeOnly', 'exactTimestamps', 'checksum',
  'force', 'dryRun', 'storageClass', 'redisUrl', 'onPlan')

const s3Of = (o: ConnectOptions) => resolveConnection(o, o.threadCount ?? transferDefaults.threadCount)

async function transferOf(o: ConnectOptions & {dryRun?: boolean; redisUrl?: string; include?: string[]; exclude?: string[]; onPlan?: (l: string) => void;
  checksum?: boolean; force?: boolean}): Promise<Omit<TransferOptions, 'location'>> {
  return {
    s3: await s3Of(o), lent: lentOf(o), threadCount: o.threadCount ?? transferDefaults.threadCount, adaptive: o.threadCount === undefined, maxRetry: o.maxRetry ?? transferDefaults.maxRetry,
    multipartThreshold: transferDefaults.multipartThreshold, partSize: transferDefaults.partSize, force: o.force ?? false, checksum: o.checksum ?? false,
    dryRun: o.dryRun ?? false, include: o.include, exclude: o.exclude, redisUrl: o.redisUrl, onPlan: o.onPlan, signal: o.signal,
  }
}

function settingsOf(o: {contentType?: string; metadata?: Record<string, string>; storageClass?: string; sse?: string; sseKmsKeyId?: string; acl?: string}): CopySettings {
  const settings = {replace: o.metadata !== undefined || o.contentType !== undefined, contentType: o.contentType, metadata: o.metadata, storageClass: o.storageClass,
    sse: o.sse, sseKmsKeyId: o.sseKmsKeyId, acl: o.acl}
  checkObjectSettings(settings)
  return settings
}

function objectOf(url: string): {bucket: string; key: string} {
  const {bucket, prefix: key} = parseS3Url(url)
  if (!key || key.endsWith('/')) throw new S3cError(`${url} names no object: give s3://bucket/key`, ExitCode.usage)
  return {bucket, key}
}

/** A local file written under a temporary name in its folder and renamed when complete: nobody sees it half-written. */
function localWriteStream(path: string): Writable {
  const abs = resolve(path)
  const tmp = `${abs}.s3c-tmp-${randomBytes(6).toString('hex')}`
  let fd: number | undefined
  const closeFd = async () => {
    const open = fd
    fd = undefined
    if (open !== undefined) await close(open)
  }
  return new Writable({
    construct(done) {
      // Opened at once, not after an await: a destroy() always finds the file there to remove,
      // so a pipeline() that rejects (it does not wait for destroy) leaves no temporary file.
      try {
        mkdirSync(dirname(abs), {recursive: true})
        fd = openSync(tmp, 'w')
        done()
      } catch (error) {
        done(libraryError(error))
      }
    },
    async write(chunk: Buffer, _enc, done) {
      try {
        for (let at = 0; at < chunk.length;) at += (await write(fd!, chunk, at, chunk.length - at)).bytesWritten
        done()
      } catch (error) {
        done(libraryError(error))
      }
    },
    async final(done) {
      try {
        await closeFd()
        await rename(tmp, abs)
        done()
      } catch (error) {
        done(libraryError(error))
      }
    },
    async destroy(error, done) {
      // Destroyed before it ended, with or without an error: nothing half-written stays (after
      // 'finish' the temporary name is gone already). Removed at once, before the file is closed:
      // a pipeline() rejects without waiting for this, and whoever it tells looks at the folder.
      let gone = false
      try {
        unlinkSync(tmp)
        gone = true
      } catch {
        // not there, or a system that cannot remove an open file: after closing it
      }
      await closeFd().catch(() => undefined)
      if (!gone) await unlink(tmp).catch(() => undefined)
      done(error)
    },
  })
}

/**
 * A stream into a file or an object. To S3 it is `s3c pipe`'s machinery: parts cut as bytes come,
 * a few in flight, one PUT when the whole stream is small; 'finish' is emitted once the object
 * exists. A failure (or destroy) aborts the upload and is the stream's 'error' at once, so a
 * pipeline() into it rejects. Bad options throw here, as node:fs's do.
 */
export function createWriteStream<O extends WriteOptions = WriteOptions>(url: string, options?: Exact<O, WriteOptions>): Writable {
  const opts = checkOptions('createWriteStream', options, WRITE_KEYS)
  if (parseLocation(url).type !== 's3') return localWriteStream(url)
  const target = objectOf(url)
  const feed = new PassThrough({highWaterMark: 1 << 20})
  let done: Promise<unknown> | undefined
  let failure: Error | undefined
  const start = () => done ??= (async () => pipeToS3(feed, target, {
    s3: await s3Of(opts), lent: lentOf(opts), maxRetry: opts.maxRetry ?? transferDefaults.maxRetry, partSize: opts.partSize, signal: opts.signal,
    settings: {contentType: opts.contentType, metadata: opts.metadata, storageClass: opts.storageClass},
  }))().catch(error => {
    // The upload failed (and was aborted): the writer learns it now, not from a 'drain' of the
    // feed that nobody reads any more (a pipeline() would never settle).
    failure ??= libraryError(error)
    feed.destroy()
    out.destroy(failure)
    throw failure
  })
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      start().catch(() => undefined)
      if (failure) return cb(failure)
      if (feed.write(chunk)) return cb()
      const go = () => {
        feed.off('drain', go)
        feed.off('close', go)
        cb(failure)
      }
      feed.on('drain', go)
      feed.on('close', go)
    },
    final(cb) {
      const p = start()
      feed.end()
      p.then(() => cb(), error => cb(error as Error))
    },
    destroy(error, cb) {
      // Destroyed before 'finish', with or without an error: the upload is aborted now, not left
      // waiting for bytes that will never come (after 'finish' the object exists: nothing to do).
      if (!feed.writableFinished) {
        feed.destroy(error ?? new S3cError(`the stream to ${url} was destroyed before it ended: nothing was stored`, ExitCode.usage, 'Aborted'))
        if (done) {
          done.then(() => cb(error), () => cb(error))
          return
        }
      }
      cb(error)
    },
  })
  return out
}

/** Writes a whole file or object (to S3: one PUT, or a multipart upload when large). */
export function writeFile<O extends WriteOptions = WriteOptions>(url: string, data: Buffer | Uint8Array | string, options?: Exact<O, WriteOptions>): Promise<void> {
  return libraryCall(async () => {
    const body = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    await pipeline(Readable.from([body]), createWriteStream(url, checkOptions('writeFile', options, WRITE_KEYS) as WriteOptions))
  })
}

/** `s3c cp` as a function: the same summary as `cp --json`. */
export function copy<O extends CopyApiOptions = CopyApiOptions>(src: string, dst: string, options?: Exact<O, CopyApiOptions>): Promise<RunSummary> {
  return libraryCall(async () => {
    const opts = checkOptions('copy', options, COPY_KEYS)
    return cp({...await transferOf(opts), source: src, destination: dst, settings: settingsOf(opts), flatten: opts.flatten,
      conditions: {noClobber: opts.noClobber, ifSizeDiffer: opts.ifSizeDiffer, ifSourceNewer: opts.ifSourceNewer}})
  })
}

/** `s3c mv` as a function: each source removed once its copy is complete. */
export function move<O extends CopyApiOptions = CopyApiOptions>(src: string, dst: string, options?: Exact<O, CopyApiOptions>): Promise<RunSummary> {
  return libraryCall(async () => {
    const opts = checkOptions('move', options, COPY_KEYS)
    return mv({...await transferOf(opts), source: src, destination: dst, settings: settingsOf(opts), flatten: opts.flatten,
      conditions: {noClobber: opts.noClobber, ifSizeDiffer: opts.ifSizeDiffer, ifSourceNewer: opts.ifSourceNewer}})
  })
}

/** `s3c sync` as a function: the same summary as `sync --json` (with `deleted`). */
export function sync<O extends SyncApiOptions = SyncApiOptions>(src: string, dst: string, options?: Exact<O, SyncApiOptions>): Promise<SyncSummary> {
  return libraryCall(async () => {
    const opts = checkOptions('sync', options, SYNC_KEYS)
    return syncVerb({...await transferOf(opts), source: src, destination: dst, delete: opts.delete, sizeOnly: opts.sizeOnly,
      exactTimestamps: opts.exactTimestamps, storageClass: opts.storageClass})
  })
}
