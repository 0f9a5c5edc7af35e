/** Trees of small files for the benches: distinct content, named so a walk and a listing agree on order. */
import {randomBytes} from 'node:crypto'
import {mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

/** `files` files of `size(i)` bytes in folders of `perFolder`, named so the walk and the listing agree on order. */
export function makeTree(dir: string, files: number, perFolder: number, size: (i: number) => number): void {
  const payload = randomBytes(64 * 1024)
  for (let i = 0; i < files; i++) {
    const folder = join(dir, `d${String(Math.floor(i / perFolder)).padStart(4, '0')}`)
    if (i % perFolder === 0) mkdirSync(folder, {recursive: true})
    // Distinct content per file (the first 8 bytes carry the index): no tool can dedupe.
    const s = size(i)
    const buf = Buffer.alloc(s)
    payload.copy(buf, 0, (i * 8) % 4096, (i * 8) % 4096 + s)
    if (s >= 8) buf.writeBigUInt64BE(BigInt(i), 0)
    writeFileSync(join(folder, `f${String(i % perFolder).padStart(5, '0')}.bin`), buf)
  }
}

export function countFiles(dir: string): number {
  try {
    return readdirSync(dir, {recursive: true, withFileTypes: true}).filter(e => e.isFile()).length
  } catch {
    return 0
  }
}
