#!/bin/sh
":" //; case "$NODE_OPTIONS" in *heap-growing-percent*) g= ;; *) g=--heap-growing-percent=20 ;; esac; exec node --max-semi-space-size=4 $g "$0" "$@"
// Started as a program (`s3c`, npm's bin link, ./bin/run.js), the shell line above re-runs this
// file under Node with two V8 flags (docs/DESIGN.md, "Memory"), which V8 reads best at start-up:
// - --max-semi-space-size=4 (MiB, the young generation; Node's default is 16): a run's garbage is
//   mostly short-lived, and a young generation a quarter the size lowers the peak RSS by ~25 MiB
//   at the same speed;
// - --heap-growing-percent=20: V8's default growth lets the heap reach 4-5x the live heap before
//   collecting; growing it by 20% at a time keeps the peak near 140 MiB (175-200 MiB by default,
//   50,000 files) for ~5% more CPU. NODE_OPTIONS may say otherwise.
// A plain `#!/usr/bin/env -S node …` would need an env with -S, which BusyBox (Alpine) may lack.
// For Node, that line is a string and a comment. `node bin/run.js` gets the second flag below
// (node:v8 is loaded only then: it costs start-up time).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
const growth = /heap-growing-percent/
if (!process.execArgv.some(a => growth.test(a)) && !growth.test(process.env.NODE_OPTIONS ?? '')) (await import('node:v8')).default.setFlagsFromString('--heap-growing-percent=20')
// The CLI: dist/bundle/cli.cjs (scripts/bundle.js, built by `npm run build`), compiled with a V8
// code cache kept beside it (docs/DESIGN.md, "Start-up"): a run parses and compiles only what the
// last run that wrote the cache did not. The cache belongs to one bundle (the SHA-256 of its
// content, which scripts/bundle.js writes on its first line: V8 itself checks only the source's
// length, and would run the code a cache of another bundle holds), one Node version and set of
// flags (V8 refuses any other; then it is written again, replacing the file whole); a bundle
// without that line gets no cache; a folder that cannot be written just means no cache.
// S3C_CODE_CACHE=0 turns it off.
import {closeSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeSync} from 'node:fs'
import Module, {createRequire} from 'node:module'
import {dirname} from 'node:path'
import {Script} from 'node:vm'
const bundle = realpathSync(new URL('../dist/bundle/cli.cjs', import.meta.url))
// cli.cjs's import() calls come here (a vm.Script has no module loader of its own).
globalThis[Symbol.for('s3c.import')] = specifier => import(specifier)
const source = readFileSync(bundle, 'utf8')
const content = /^\/\/ s3c-bundle ([0-9a-f]{64})\n/.exec(source)?.[1]
let hash = 0x811c9dc5
for (const c of `${process.version} ${process.arch} ${process.execArgv.join(' ')}`) hash = Math.imul(hash ^ c.charCodeAt(0), 0x01000193) >>> 0
const cacheFile = `${bundle}.${content?.slice(0, 16)}-${hash.toString(16)}.cache`
const useCache = process.env.S3C_CODE_CACHE !== '0' && content !== undefined
let cached
if (useCache) try { cached = readFileSync(cacheFile) } catch {}
const script = new Script(Module.wrap(source), {filename: bundle, cachedData: cached})
if (useCache && (!cached || script.cachedDataRejected)) {
  process.once('exit', () => {
    const temporary = `${cacheFile}.${process.pid}`
    let fd
    try {
      fd = openSync(temporary, 'wx')
    } catch {
      return // a folder that cannot be written: no cache, and no time spent making one (~30 ms)
    }
    try {
      try {
        writeSync(fd, script.createCachedData())
      } finally {
        closeSync(fd)
      }
      renameSync(temporary, cacheFile)
    } catch {
      rmSync(temporary, {force: true})
    }
  })
}
// A module like require's own, in require's cache: oclif finds the commands by requiring this file.
const require = createRequire(bundle)
const cli = new Module(bundle)
cli.filename = bundle
require.cache[bundle] = cli
script.runInThisContext().call(cli.exports, cli.exports, require, cli, bundle, dirname(bundle))
cli.loaded = true
await cli.exports.run()
