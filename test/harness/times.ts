import {execFileSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {seededBytes} from './tree.js'

/** Fractions of a second at or near half a millisecond: the ones the old ms rounding got wrong. */
export const HALF_MS_FRACTIONS = ['0015', '1235', '4445', '5555', '9995', '0005', '3335', '7775', '1234995', '123500001', '2224999', '6665']

/** Files of 1 B … 4 KiB whose times have those fractions (touch -d @T.xxx5). */
export function halfMsTree(root: string): string[] {
  const rels: string[] = []
  HALF_MS_FRACTIONS.forEach((f, i) => {
    const rel = i % 3 === 0 ? `sub/f${i}.txt` : `f${i}.txt`
    const path = join(root, rel)
    mkdirSync(join(path, '..'), {recursive: true})
    writeFileSync(path, seededBytes(i + 1, 1 + i * 300))
    execFileSync('touch', ['-d', `@${1700000000 + i * 1000}.${f}`, path])
    rels.push(rel)
  })
  return rels
}
