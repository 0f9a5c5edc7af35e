#!/usr/bin/env node
// Bundles the CLI after each build (tsc's output, dist/src, is the input) into dist/bundle, for
// start-up time (docs/DESIGN.md, "Start-up"):
// - dist/bundle/cli.cjs: oclif, every command, the help class and the hook in one CommonJS file.
//   bin/run.js compiles it with a V8 code cache kept beside it, so a run neither reads ~400
//   files nor parses and compiles what it ran last time. Each command, and each module the code
//   imports with import(), is evaluated when first used (esbuild's lazy wrappers).
// - dist/bundle/lazy/: the AWS SDK's packages, which s3c imports with import() on first use
//   (multipart, deletes, buckets, credentials chains, presigning): ES modules, their shared code
//   in chunks, kept out of cli.cjs so that a command that never needs them never parses them.
// - BullMQ, ioredis, express and bull-board (--redis, `s3c worker`, `s3c dashboard`) and
//   cli-progress load from node_modules when used, as Node loads them.
// The library (dist/src/index.js) is not bundled: a project importing s3c bundles it its own way.
// dist/bundle/meta.json (esbuild's metafiles) says which modules each file holds and how each
// module imports the others (test/startup.test.ts).
import {createHash} from 'node:crypto'
import {readdirSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'dist', 'src')
const out = join(root, 'dist', 'bundle')
rmSync(out, {recursive: true, force: true})

/** Packages s3c imports with import() that stay out of cli.cjs: file names under dist/bundle/lazy. */
const LAZY = {
  '@aws-sdk/client-s3': 'aws-sdk-client-s3',
  '@aws-sdk/credential-providers': 'aws-sdk-credential-providers',
  '@smithy/core': 'smithy-core',
  '@smithy/core/config': 'smithy-core-config',
  '@smithy/node-http-handler': 'smithy-node-http-handler',
  '@smithy/signature-v4': 'smithy-signature-v4',
}
/** Packages left to Node's own loading (long-running or distributed commands; CommonJS builds). */
const FROM_NODE_MODULES = /^(bullmq|ioredis|express|@bull-board\/.*|cli-progress|typescript)$/

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // ES module builds first (the AWS SDK's dist-es, as AWS advises for bundling).
  mainFields: ['module', 'main'],
  metafile: true,
  logLevel: 'warning',
}

const lazy = await build({
  ...common,
  entryPoints: Object.entries(LAZY).map(([name, file]) => ({in: `lazy:${name}`, out: file})),
  outdir: join(out, 'lazy'),
  format: 'esm',
  splitting: true,
  // CommonJS code inside the SDK's packages calls require() for Node's modules: an ES module has none.
  banner: {js: "import {createRequire as __s3cRequire} from 'node:module'; const require = __s3cRequire(import.meta.url);"},
  plugins: [{
    name: 's3c-lazy-entries',
    setup(b) {
      b.onResolve({filter: /^lazy:/}, a => ({path: a.path.slice(5), namespace: 'lazy'}))
      b.onLoad({filter: /.*/, namespace: 'lazy'}, a => ({contents: `export * from '${a.path}'`, resolveDir: root, loader: 'js'}))
    },
  }],
})

// The entry of cli.cjs: the commands as getters, so oclif's lookup of one command evaluates that
// command's modules only. S3C_IMPORT_TRACE (test/startup.test.ts) records each one evaluated.
const commands = readdirSync(join(src, 'commands'), {recursive: true}).map(String).filter(f => f.endsWith('.js')).sort()
// As oclif names them: folders are topics, a folder's index.js is the topic itself.
const commandId = f => {
  const parts = f.slice(0, -3).split('/')
  if (parts.length > 1 && parts.at(-1) === 'index') parts.pop()
  return parts.join(':')
}
const entry = `
const {execute} = require('@oclif/core')
const trace = process.env.S3C_IMPORT_TRACE
const onFirstUse = (target, name, load) => Object.defineProperty(target, name, {enumerable: true, get() {
  if (trace) require('node:fs').appendFileSync(trace, 's3c:' + name + '\\n')
  return load()
}})
const COMMANDS = {}
${commands.map(f => `onFirstUse(COMMANDS, ${JSON.stringify(commandId(f))}, () => require('./commands/${f}').default)`).join('\n')}
exports.COMMANDS = COMMANDS
onFirstUse(exports, 'HelpClass', () => require('./cli/help.js').default)
onFirstUse(exports, 'commandNotFound', () => require('./hooks/command-not-found.js').default)
exports.run = () => execute({dir: __s3cModuleUrl})
`
const cli = await build({
  ...common,
  stdin: {contents: entry, resolveDir: src, sourcefile: 'cli-entry.cjs', loader: 'js'},
  outfile: join(out, 'cli.cjs'),
  format: 'cjs',
  // import.meta.url in s3c's modules (the I/O thread's file, createRequire) is the bundle's URL.
  define: {'import.meta.url': '__s3cModuleUrl'},
  write: false,
  plugins: [{
    name: 's3c-externals',
    setup(b) {
      b.onResolve({filter: /.*/}, a => {
        if (Object.hasOwn(LAZY, a.path)) return {path: `./lazy/${LAZY[a.path]}.js`, external: true}
        if (FROM_NODE_MODULES.test(a.path)) return {path: a.path, external: true}
        return undefined
      })
    },
  }],
})
// bin/run.js runs cli.cjs as a vm.Script (for the code cache), where import() has no loader: each
// import() goes through the one bin/run.js provides (plain `require` of cli.cjs: Node's own).
// A relative specifier is resolved against cli.cjs. The preamble is added after the rewrite.
let code = cli.outputFiles[0].text
let rewritten = 0
code = code.replace(/(?<![\w$.'"`])import\(/g, () => (rewritten++, '__s3cImport('))
const preamble = `const __s3cModuleUrl = require('node:url').pathToFileURL(__filename).href;
const __s3cImport = specifier => (globalThis[Symbol.for('s3c.import')] ?? (s => import(s)))(/^\\.\\.?\\//.test(specifier) ? new URL(specifier, __s3cModuleUrl).href : specifier);
`
code = code.replace(/^("use strict";\n)?/, m => m + preamble)
// The first line names the content (SHA-256 of the rest): bin/run.js keys the V8 code cache by it,
// so a cache made for another bundle is never used (V8 checks only the source's length).
code = `// s3c-bundle ${createHash('sha256').update(code).digest('hex')}\n${code}`
writeFileSync(join(out, 'cli.cjs'), code)

const rel = p => relative(root, p)
writeFileSync(join(out, 'meta.json'), JSON.stringify({cli: cli.metafile, lazy: lazy.metafile}))
console.log(`dist/bundle: ${rel(join(out, 'cli.cjs'))} (${(code.length / 1e6).toFixed(1)} MB, ${rewritten} import() through bin/run.js), ${Object.keys(lazy.metafile.outputs).length} files in lazy/`)
