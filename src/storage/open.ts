import {fatalToUserError} from '../base/errors.js'
import {resolve} from 'node:path'
import type {LocalPath, S3Url} from '../base/location.js'
import {retryPolicy, type RetryPolicy} from '../base/retry.js'
import {isLocalSource, sourceName, type ObjectStore, type RangeSource, type S3Store, type SourceRef, type Tree} from '../base/storage.js'
import {localSource} from '../local/storage.js'
import {localStore} from '../local/store.js'
import {localTree} from '../local/tree.js'
import type {S3Config} from '../s3/config.js'
import {S3Storage} from '../s3/storage.js'
import {s3Tree} from '../s3/tree.js'

/*
 * The storage backends, chosen by location: the one place that knows which implementation of
 * src/base/storage.ts's interfaces a parsed location (src/base/location.ts) gets, and the one
 * place verbs, commands, the library, runners and workers get a store from. A new backend is its
 * own folder plus a case here and in the location parser (CONTRIBUTING.md, "Adding a storage
 * backend"); .dependency-cruiser.cjs refuses an import of a backend from verbs/, commands/,
 * cli/, api/ and index.ts.
 */

/** The tree a folder or prefix location names (a prefix is listed as a folder: `a/b` lists `a/b/`). */
export function treeAt(loc: Pick<S3Url, 'type' | 'bucket' | 'key'> | Pick<LocalPath, 'type' | 'path'>, s3: S3Store, opts: {followSymlinks?: boolean} = {}): Tree {
  return loc.type === 's3' ? s3Tree(s3, loc.bucket, loc.key) : localTree(resolve(loc.path), opts)
}

/**
 * One S3 connection (the one client factory, src/s3/client.ts) with this retry policy and signal;
 * `listConcurrency`: listing requests in flight at most (the run's --thread-count). `lent`: a
 * connection the caller keeps open (the library's connect()): a view of it is used instead of a
 * new one (one client, one pool of sockets for every call), and closing the view leaves it open.
 */
export async function openStore(config: S3Config, retry: RetryPolicy, signal?: AbortSignal, listConcurrency?: number, lent?: S3Store): Promise<S3Store> {
  if (lent) return lent.with({retry, signal, listConcurrency, lent: true})
  return S3Storage.open(config, retry, signal, listConcurrency)
}

/** The local filesystem as a store: a root is a folder, a key the '/'-separated path under it (src/local/store.ts). */
export function openLocalStore(): ObjectStore {
  return localStore()
}

/** A connection's settings once resolved: the CLI's (cli/options.ts readOptions) or the library's (api/connect.ts). */
export interface Connection {
  s3: S3Config
  /** Retries per request for retryable failures (default 10, as the CLI's --max-retry). */
  maxRetry?: number
  /** Stops the requests of the call. */
  signal?: AbortSignal
  /** Listing requests in flight at most (a run's --thread-count; default: the store's own). */
  listConcurrency?: number
  /** A connection the caller keeps open (the library's connect()): used, never closed (openStore). */
  lent?: S3Store
}

/** Opens one connection for one call (closed by `withS3`). */
export async function openS3(c: Connection): Promise<S3Store> {
  return openStore(c.s3, retryPolicy(c.maxRetry ?? 10), c.signal, c.listConcurrency, c.lent)
}

/** Runs `fn` on a connection and closes it after: the commands of one request or a few (ls, cat, mb…) and the library. */
export async function withS3<T>(c: Connection, fn: (s3: S3Store) => Promise<T>, opts: {userErrors?: boolean} = {}): Promise<T> {
  const s3 = await openS3(c)
  try {
    return await fn(s3)
  } catch (error) {
    // userErrors: an S3 error becomes the one-line message naming the endpoint, as a run's are.
    throw opts.userErrors ? fatalToUserError(error, {endpoint: s3.endpointLabel}) : error
  } finally {
    await s3.close()
  }
}

/** A local file as a range source (a local tar), pinned to its size and mtime (src/local/storage.ts). */
export {localSource}

/** A source from job data: the version the planner saw (a local file that changed since fails its reads). */
export async function openSourceRef(ref: SourceRef, s3: S3Store | undefined): Promise<RangeSource> {
  if (isLocalSource(ref)) return localSource(ref.path, {expect: {size: ref.size, mtimeUs: ref.mtimeUs}})
  if (!s3) throw new Error(`${sourceName(ref)}: an S3 source needs an S3 connection`)
  return s3.source(ref)
}
