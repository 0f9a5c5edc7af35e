import {compareKeys} from '../../src/base/keys.js'
import type {StorageEntry, Tree, TreeName} from '../../src/base/storage.js'

/**
 * An in-memory storage backend for the unit tier: a Tree (src/base/storage.ts) over a map of
 * names, listed in key order, or in the order given (`unordered`, as a server that sorts by
 * locale lists). It is also the recipe CONTRIBUTING.md gives for a new backend: names, absent, locate.
 */
export function memoryTree(label: string, files: Record<string, number | {size: number; etag?: string}>, opts: {unordered?: boolean; others?: TreeName[]} = {}): Tree & {absentCalls: string[]} {
  const entries: TreeName[] = Object.entries(files).map(([rel, v]) => {
    const o = typeof v === 'number' ? {size: v} : v
    return {rel, entry: {key: `${label}${rel}`, size: o.size, lastModifiedMs: 0, etag: o.etag} satisfies StorageEntry}
  })
  const all = [...entries, ...(opts.others ?? [])]
  if (!opts.unordered) all.sort((a, b) => compareKeys(a.rel, b.rel))
  const absentCalls: string[] = []
  return {
    label,
    absentCalls,
    async* names() {
      yield* all
    },
    absent: async rel => {
      absentCalls.push(rel)
      return !all.some(n => n.rel === rel)
    },
    locate: rel => `${label}${rel}`,
  }
}
