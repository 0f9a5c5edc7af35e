#!/usr/bin/env node
// Bundles the CLI after each build (tsc's output, dist/src, is the input) into dist/bundle:
// one entry for oclif's start (cli/main.js), one per command, the help class and the hook, with
// the code they share in chunks, and every dynamic import (the AWS SDK, BullMQ, the dashboard,
// the tar handlers) in chunks of its own that load when used. Node then reads a few dozen files
// at start instead of ~400 (oclif and its dependencies are ~300 of them): ~20 ms less for
// `s3c --version`, ~50-80 ms less for `ls` and `cp` (docs/DESIGN.md, "Start-up").
// The library (dist/src/index.js) is not bundled: a project importing s3c bundles it its own way.
// dist/bundle/meta.json (esbuild's metafile) says which modules each file holds (test/startup.test.ts).
import {readdirSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'dist', 'src')
const out = join(root, 'dist', 'bundle')
const commands = readdirSync(join(src, 'commands'), {recursive: true}).map(String).filter(f => f.endsWith('.js')).map(f => join(src, 'commands', f))
rmSync(out, {recursive: true, force: true})
const result = await build({
  entryPoints: [join(src, 'cli', 'main.js'), join(src, 'cli', 'help.js'), join(src, 'hooks', 'command-not-found.js'), ...commands],
  outbase: src,
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // ES module builds first (the AWS SDK's dist-es, as AWS advises for bundling): a dynamic import()
  // of a CommonJS build would give only a default export, where Node gives the named ones too.
  mainFields: ['module', 'main'],
  // oclif and other CommonJS packages call require(): an ES module has none, so each file makes one.
  banner: {js: "import {createRequire as __s3cRequire} from 'node:module'; const require = __s3cRequire(import.meta.url);"},
  // oclif asks for TypeScript only to run a plugin's .ts sources (development); s3c ships JavaScript.
  external: ['typescript'],
  metafile: true,
  logLevel: 'warning',
})
writeFileSync(join(out, 'meta.json'), JSON.stringify(result.metafile))
console.log(`dist/bundle: ${Object.keys(result.metafile.outputs).length} files`)
