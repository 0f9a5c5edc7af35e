import {parseS3} from '../base/location.js'
import type {S3Store} from '../base/storage.js'
import {matchingObjects, noMatchError} from './expand.js'

export interface DuGroup {
  storageClass: string
  count: number
  size: number
}

export interface DuResult {
  source: string
  count: number
  size: number
  /** By storage class, largest first. */
  groups: DuGroup[]
}

/**
 * `s3c du URL`: the objects' count and bytes, from the listing alone. A plain s3://b/name counts
 * the object `name` and everything under `name/`; wildcards as ls. Nothing found (but in a
 * bucket's root) is an error, exit 2, as for ls.
 */
export async function diskUsage(s3: S3Store, url: string): Promise<DuResult> {
  const p = parseS3(url)
  const groups = new Map<string, DuGroup>()
  let count = 0
  let size = 0
  for await (const o of matchingObjects(s3, p, 'objectOrFolder')) {
    count++
    size += o.size
    const cls = o.storageClass ?? 'STANDARD'
    const g = groups.get(cls) ?? {storageClass: cls, count: 0, size: 0}
    g.count++
    g.size += o.size
    groups.set(cls, g)
  }
  if (count === 0 && p.kind !== 'bucket') throw noMatchError(url)
  return {source: url, count, size, groups: [...groups.values()].sort((a, b) => b.size - a.size)}
}
