import type {S3Store, Tree, TreeName} from '../base/storage.js'
import {folderPrefix} from '../base/location.js'

/** The objects under a prefix as a Tree (src/base/storage.ts): names relative to `prefix` ('' or ending with '/'). */
export function s3Tree(s3: S3Store, bucket: string, prefix: string): Tree {
  const base = folderPrefix(prefix)
  return {
    label: `s3://${bucket}/${base}`,
    async* names(): AsyncGenerator<TreeName> {
      // A page at a time (listObjects would add an async step per key, ~0.1 s per 100,000 keys).
      for await (const page of s3.listObjectPages(bucket, base)) for (const o of page) {
        const rel = o.key.slice(base.length)
        if (rel === '') continue
        // Folder markers ("dir/" keys, 0 bytes) are how consoles show folders, not files; one
        // that holds data is a name no file can have: passed over, and said so.
        if (!rel.endsWith('/')) yield {rel, entry: o}
        else if (o.size > 0) yield {rel, entry: o, other: {reason: 'key ends with "/" and holds data', failed: false, folder: false}}
      }
    },
    absent: async rel => !(await s3.head(bucket, base + rel)),
    locate: rel => base + rel,
  }
}
