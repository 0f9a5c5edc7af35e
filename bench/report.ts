import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const file = join(fileURLToPath(import.meta.url), '..', '..', '..', 'docs', 'BENCHMARKS.md')

/**
 * Replaces (or appends) the section between `<!-- NAME:start -->` and `<!-- NAME:end -->`.
 * BENCH_DOC=0 leaves the file alone (a smoke run at small sizes must not replace measured numbers).
 */
export function writeBenchSection(name: string, body: string): void {
  if (process.env.BENCH_DOC === '0') {
    process.stderr.write(`BENCH_DOC=0: docs/BENCHMARKS.md left as it is (section "${name}" not written)\n`)
    return
  }
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const section = `${start}\n${body}\n${end}`
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nEach section is written by its `npm run bench:*` script.\n\n'
  writeFileSync(file, old.includes(start) ? old.replace(new RegExp(`${start}[\\s\\S]*${end}`), section) : `${old}\n${section}\n`)
}
