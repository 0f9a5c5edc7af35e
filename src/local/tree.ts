import {lstat} from 'node:fs/promises'
import {join} from 'node:path'
import type {Tree, TreeName} from '../base/storage.js'
import type {WalkFilter} from '../base/filter.js'
import {fsPath} from './fs-path.js'
import {isProblem, walkLocal} from './walk.js'

/**
 * A local folder as a Tree (src/base/storage.ts), by the walk (src/local/walk.ts: S3's key
 * order, links not followed unless asked). `root` is absolute; a missing folder has no names.
 */
export function localTree(root: string, opts: {followSymlinks?: boolean} = {}): Tree {
  return {
    label: root,
    async* names(filter: WalkFilter = {}): AsyncGenerator<TreeName> {
      if (!(await lstat(fsPath(root)).catch(() => undefined))) return
      for await (const e of walkLocal(root, {include: filter.include, exclude: filter.exclude, pattern: filter.pattern, followSymlinks: opts.followSymlinks})) {
        if (isProblem(e)) yield {rel: e.rel, other: {reason: e.reason, failed: e.type === 'failed', folder: e.dir}}
        else if (e.type === 'file') yield {rel: e.rel, entry: {key: e.rel, size: e.size, lastModifiedMs: Number(BigInt(e.mtimeNs) / 1_000_000n), mtimeNs: e.mtimeNs, ino: e.ino, ctimeNs: e.ctimeNs}}
        else yield {rel: e.rel, other: {reason: e.type, failed: false, folder: e.type === 'dir'}}
      }
    },
    absent: async rel => !(await lstat(fsPath(join(root, rel))).catch(() => undefined)),
    // As the walk spells paths (a root of '/' has no trailing slash doubled).
    locate: rel => `${root.endsWith('/') ? root.slice(0, -1) : root}/${rel}`,
  }
}
