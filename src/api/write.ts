import {mkdir, open, rename, unlink} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import {PassThrough, Readable, Writable} from 'node:stream'
import {randomBytes} from 'node:crypto'
import {transferDefaults} from '../run/defaults.js'
import type {TransferOptions} from '../run/session.js'
import type {RunSummary} from '../run/stats.js'
import type {CopySettings} from '../jobs/types.js'
import {checkObjectSettings, type ObjectSettings} from '../base/storage.js'
import {resolveS3Config, type S3Config} from '../s3/config.js'
import {parseLocation, parseS3Url} from '../base/location.js'
import {cp} from '../verbs/cp.js'
import {mv} from '../verbs/mv.js'
import {pipeToS3} from '../verbs/pipe.js'
import {sync as syncVerb, type SyncSummary} from '../verbs/sync.js'
import {ExitCode, S3cError} from '../base/errors.js'

/**
 * The write side of the library: local paths and s3:// URLs alike. Configuration as the CLI's:
 * the environment and the AWS profile files, or these options (the CLI's flags by other names).
 */
export interface ConnectOptions {
  endpointUrl?: string
  region?: string
  profile?: string
  pathStyle?: boolean
  /** Retries per request (--max-retry). */
  maxRetry?: number
  /** Requests in flight, fixed (--thread-count); absent: found by measuring, as the CLI does. */
  threadCount?: number
  /** An S3 configuration already resolved (resolveS3Config): the options above are then not read. */
  s3?: S3Config
  signal?: AbortSignal
}

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

async function s3Of(o: ConnectOptions): Promise<S3Config> {
  return o.s3 ?? resolveS3Config({'endpoint-url': o.endpointUrl, region: o.region, profile: o.profile, 'path-style': o.pathStyle}, o.threadCount ?? transferDefaults.threadCount)
}

async function transferOf(o: ConnectOptions & {dryRun?: boolean; redisUrl?: string; include?: string[]; exclude?: string[]; onPlan?: (l: string) => void;
  checksum?: boolean; force?: boolean}): Promise<Omit<TransferOptions, 'location'>> {
  return {
    s3: await s3Of(o), threadCount: o.threadCount ?? transferDefaults.threadCount, adaptive: o.threadCount === undefined, maxRetry: o.maxRetry ?? transferDefaults.maxRetry,
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
  let fh: Awaited<ReturnType<typeof open>> | undefined
  return new Writable({
    async construct(done) {
      try {
        await mkdir(dirname(abs), {recursive: true})
        fh = await open(tmp, 'w')
        done()
      } catch (error) {
        done(error as Error)
      }
    },
    async write(chunk: Buffer, _enc, done) {
      try {
        await fh!.write(chunk)
        done()
      } catch (error) {
        done(error as Error)
      }
    },
    async final(done) {
      try {
        await fh!.close()
        await rename(tmp, abs)
        done()
      } catch (error) {
        done(error as Error)
      }
    },
    async destroy(error, done) {
      await fh?.close().catch(() => undefined)
      // Destroyed before it ended, with or without an error: nothing half-written stays (after
      // 'finish' the temporary name is gone already).
      await unlink(tmp).catch(() => undefined)
      done(error)
    },
  })
}

/**
 * A stream into a file or an object. To S3 it is `s3c pipe`'s machinery: parts cut as bytes come,
 * a few in flight, one PUT when the whole stream is small; 'finish' is emitted once the object
 * exists, and an error (or destroy) aborts the upload.
 */
export function createWriteStream(url: string, opts: WriteOptions = {}): Writable {
  if (parseLocation(url).type !== 's3') return localWriteStream(url)
  const target = objectOf(url)
  const feed = new PassThrough({highWaterMark: 1 << 20})
  let done: Promise<unknown> | undefined
  const start = () => done ??= (async () => pipeToS3(feed, target, {
    s3: await s3Of(opts), maxRetry: opts.maxRetry ?? transferDefaults.maxRetry, partSize: opts.partSize, signal: opts.signal,
    settings: {contentType: opts.contentType, metadata: opts.metadata, storageClass: opts.storageClass},
  }))()
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      const p = start()
      p.catch(() => undefined)
      if (feed.write(chunk)) cb()
      else feed.once('drain', () => cb())
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
        feed.destroy(error ?? new S3cError(`the stream to ${url} was destroyed before it ended: nothing was stored`, ExitCode.usage))
        if (done) {
          done.then(() => cb(error), () => cb(error))
          return
        }
      }
      cb(error)
    },
  })
}

/** Writes a whole file or object (to S3: one PUT, or a multipart upload when large). */
export async function writeFile(url: string, data: Buffer | Uint8Array | string, opts: WriteOptions = {}): Promise<void> {
  const body = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const stream = createWriteStream(url, opts)
  await new Promise<void>((resolvePromise, reject) => {
    stream.once('error', reject)
    stream.once('finish', () => resolvePromise())
    Readable.from([body]).pipe(stream)
  })
}

/** `s3c cp` as a function: the same summary as `cp --json`. */
export async function copy(src: string, dst: string, opts: CopyApiOptions = {}): Promise<RunSummary> {
  return cp({...await transferOf(opts), source: src, destination: dst, settings: settingsOf(opts), flatten: opts.flatten,
    conditions: {noClobber: opts.noClobber, ifSizeDiffer: opts.ifSizeDiffer, ifSourceNewer: opts.ifSourceNewer}})
}

/** `s3c mv` as a function: each source removed once its copy is complete. */
export async function move(src: string, dst: string, opts: CopyApiOptions = {}): Promise<RunSummary> {
  return mv({...await transferOf(opts), source: src, destination: dst, settings: settingsOf(opts), flatten: opts.flatten,
    conditions: {noClobber: opts.noClobber, ifSizeDiffer: opts.ifSizeDiffer, ifSourceNewer: opts.ifSourceNewer}})
}

/** `s3c sync` as a function: the same summary as `sync --json` (with `deleted`). */
export async function sync(src: string, dst: string, opts: SyncApiOptions = {}): Promise<SyncSummary> {
  return syncVerb({...await transferOf(opts), source: src, destination: dst, delete: opts.delete, sizeOnly: opts.sizeOnly,
    exactTimestamps: opts.exactTimestamps, storageClass: opts.storageClass})
}
