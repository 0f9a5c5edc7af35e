#!/usr/bin/env node
// Installs the tool folders (tools/*/) that s3c's tests and quick start use, once: they have
// their own package.json so their binaries (a Node 22 for fauxqs) never reach s3c's own PATH.
import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'tools')
// By default only what the tests need; benchmarks name theirs (`install-tools.js cotar`).
const wanted = process.argv.length > 2 ? process.argv.slice(2) : ['fauxqs']
for (const name of readdirSync(root).filter(n => wanted.includes(n))) {
  const dir = join(root, name)
  if (!existsSync(join(dir, 'package.json'))) continue
  const stamp = join(dir, 'node_modules', '.s3c-installed')
  const lock = join(dir, 'package-lock.json')
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(lock).mtimeMs) continue
  process.stderr.write(`installing tools/${name} …\n`)
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {cwd: dir, stdio: ['ignore', 'ignore', 'inherit']})
  writeFileSync(stamp, '')
}
