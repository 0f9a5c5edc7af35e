import {ExitCode, FatalError, S3cError, fatalToUserError} from '../base/errors.js'
import type {StorageEntry, S3Store} from '../base/storage.js'
import {parseS3, type S3Url} from '../base/location.js'

/*
 * What an s3:// argument of the everyday verbs (ls, du, rm, cat, head, …) names, by one rule:
 *   s3://b            the bucket (every object in it)
 *   s3://b/dir/       everything under the prefix (it ends with "/")
 *   s3://b/logs/*.gz  the keys the wildcard matches (base/wildcard.ts: * crosses "/"), listed
 *                     recursively from the text before the first wildcard only
 *   s3://b/key        that one key
 * (src/base/location.ts parses them).
 */

/** An s3:// URL that must name one object (cat, head, presign). */
export function parseObjectUrl(url: string, verb: string): {bucket: string; key: string} {
  const p = parseS3(url)
  if (p.kind !== 'key') throw new S3cError(`${verb} needs one object, not ${p.kind === 'wildcard' ? 'a wildcard' : p.kind === 'prefix' ? 'a folder' : 'a bucket'}: give s3://bucket/key`, ExitCode.usage)
  return {bucket: p.bucket, key: p.key}
}

/**
 * The one-line error of a read verb: a missing bucket is bad input here (exit 2: the user named
 * it), everything else S3 refused is exit 3 as for every command.
 */
export function userError(error: unknown, bucket: string, s3: S3Store): S3cError {
  const original = error instanceof FatalError ? error.original : error
  if (original instanceof S3cError) return original
  if ((original as Error)?.name === 'NoSuchBucket')
    return new S3cError(`bucket "${bucket}" does not exist at ${s3.endpointLabel}: check the name (s3c ls lists the buckets)`, ExitCode.usage, 'NoSuchBucket')
  return fatalToUserError(error, {bucket, endpoint: s3.endpointLabel})
}

/** The bucket is missing, or the key is: which one, as one line (a HEAD's 404 does not tell). */
export async function missingObjectError(s3: S3Store, bucket: string, key: string): Promise<S3cError> {
  if (!await s3.bucketExists(bucket).catch(() => true))
    return new S3cError(`bucket "${bucket}" does not exist at ${s3.endpointLabel}: check the name (s3c ls lists the buckets)`, ExitCode.usage, 'NoSuchBucket')
  return new S3cError(`s3://${bucket}/${key} does not exist: check the key (s3c ls s3://${bucket}/${key.slice(0, key.lastIndexOf('/') + 1)})`, ExitCode.usage, 'NotFound')
}

/**
 * The objects an argument names, in key order, one listing (a plain key is not listed: `asKey`
 * decides whether it is taken as it is (rm: S3 deletes idempotently) or as the object plus
 * everything under `key/` (du)).
 */
export async function* matchingObjects(s3: S3Store, p: S3Url, plainKey: 'asKey' | 'objectOrFolder'): AsyncGenerator<StorageEntry> {
  try {
    switch (p.kind) {
      case 'bucket':
      case 'prefix':
        yield* s3.listObjects(p.bucket, p.key)
        return
      case 'wildcard':
        for await (const o of s3.listObjects(p.bucket, p.pattern!.listPrefix)) if (p.pattern!.matches(o.key)) yield o
        return
      case 'key':
        if (plainKey === 'asKey') {
          yield {key: p.key, size: 0, lastModifiedMs: 0}
          return
        }
        for await (const o of s3.listObjects(p.bucket, p.key)) if (o.key === p.key || o.key.startsWith(`${p.key}/`)) yield o
    }
  } catch (error) {
    throw userError(error, p.bucket, s3)
  }
}

/** One line for an argument that matched nothing (exit 2). */
export function noMatchError(url: string): S3cError {
  return new S3cError(`no object matches ${url}: check the prefix or wildcard (s3c ls shows what is there)`, ExitCode.usage, 'NotFound')
}
