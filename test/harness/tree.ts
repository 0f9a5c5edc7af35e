import {createHash} from 'node:crypto'
import {mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, openSync, writeSync, closeSync} from 'node:fs'
import {join, relative} from 'node:path'

/** A seeded byte generator, so trees are the same on every run. */
export function seededBytes(seed: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    buf[i] = x & 0xff
  }
  return buf
}

const NAME_PARTS = ['plain', 'with space', 'héllo wörld ✓', '日本語', 'a#b', 'q?x', 'pct%20', 'p+l', 'amp&', 'eq=1', 'Ünïcödé ✈']

export interface TreeSpec {
  files: number
  /** Levels of folders (the deepest files sit this many folders down). */
  depth: number
  /** Path relative to the root and size of extra big files. */
  big?: {rel: string; size: number}[]
}

/** Writes a deep tree with 0-byte files, spaces, unicode and #?%+&= in names; returns the relative paths. */
export function makeTree(root: string, spec: TreeSpec): string[] {
  const rels: string[] = []
  for (let i = 0; i < spec.files; i++) {
    const level = i % (spec.depth + 1)
    const dirs: string[] = []
    for (let d = 0; d < level; d++) dirs.push(`${NAME_PARTS[(i + d) % NAME_PARTS.length]} d${d}-${(i >> 4) % 3}`)
    const name = `${NAME_PARTS[i % NAME_PARTS.length]} ${i}.txt`
    const rel = [...dirs, name].join('/')
    const size = i % 7 === 0 ? 0 : (i * 997) % 20000
    mkdirSync(join(root, ...dirs), {recursive: true})
    writeFileSync(join(root, rel), seededBytes(i + 1, size))
    rels.push(rel)
  }
  for (const b of spec.big ?? []) {
    const path = join(root, b.rel)
    mkdirSync(join(path, '..'), {recursive: true})
    const fd = openSync(path, 'w')
    const chunk = 1 << 20
    for (let off = 0, n = 0; off < b.size; off += chunk, n++) writeSync(fd, seededBytes(7919 + n, Math.min(chunk, b.size - off)))
    closeSync(fd)
    rels.push(b.rel)
  }
  return rels
}

/** Relative path → sha256 of every file under root. */
export function hashTree(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, {withFileTypes: true})) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else out.set(relative(root, p), createHash('sha256').update(readFileSync(p)).digest('hex'))
    }
  }
  walk(root)
  return out
}

/** Differences between two trees: missing, extra and changed files (empty when byte-identical). */
export function compareTrees(expected: string, actual: string): string[] {
  const a = hashTree(expected)
  const b = hashTree(actual)
  const diffs: string[] = []
  for (const [rel, h] of a) {
    if (!b.has(rel)) diffs.push(`missing: ${rel}`)
    else if (b.get(rel) !== h) diffs.push(`content differs: ${rel}`)
  }
  for (const rel of b.keys()) if (!a.has(rel)) diffs.push(`extra: ${rel}`)
  return diffs
}

export function mtimeOf(path: string): number {
  return statSync(path).mtimeMs
}
