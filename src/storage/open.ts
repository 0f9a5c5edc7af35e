import {resolve} from 'node:path'
import type {LocalPath, S3Url} from '../base/location.js'
import type {Tree} from '../base/storage.js'
import {localTree} from '../local/tree.js'
import type {S3Storage} from '../s3/storage.js'
import {s3Tree} from '../s3/tree.js'

/*
 * The storage backends, chosen by location: the one place that knows which implementation of
 * src/base/storage.ts's interfaces a parsed location (src/base/location.ts) gets. A new backend
 * is its own folder plus a case here and in the location parser.
 */

/** The tree a folder or prefix location names (a prefix is listed as a folder: `a/b` lists `a/b/`). */
export function treeAt(loc: Pick<S3Url, 'type' | 'bucket' | 'key'> | Pick<LocalPath, 'type' | 'path'>, s3: S3Storage, opts: {followSymlinks?: boolean} = {}): Tree {
  return loc.type === 's3' ? s3Tree(s3, loc.bucket, loc.key) : localTree(resolve(loc.path), opts)
}
