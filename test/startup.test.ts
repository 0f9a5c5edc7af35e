import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative, sep} from 'node:path'
import {pathToFileURL} from 'node:url'
import {projectRoot} from './harness/servers.js'
import {cliEnv, runCli} from './harness/cli.js'
import {newBucket} from './harness/hooks.js'

/** Command ids as oclif derives them from dist/src/commands (folders are topics, index.js is the topic itself). */
function commandIds(dir: string): string[] {
  const ids: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      if (e.isDirectory()) walk(join(d, e.name))
      else if (e.name.endsWith('.js')) {
        const rel = relative(dir, join(d, e.name)).slice(0, -3).split(sep)
        if (rel.at(-1) === 'index') rel.pop()
        ids.push(rel.join(':'))
      }
    }
  }
  walk(dir)
  return ids.sort()
}

interface Metafile {
  inputs: Record<string, {imports: {path: string; kind: string; external?: boolean}[]}>
  outputs: Record<string, {inputs: Record<string, unknown>}>
}
/** esbuild's metafiles of the CLI's bundle (scripts/bundle.js): cli.cjs and the lazily loaded SDK files. */
const bundleMeta = (): {cli: Metafile; lazy: Metafile} => JSON.parse(readFileSync(join(projectRoot, 'dist/bundle/meta.json'), 'utf8')) as {cli: Metafile; lazy: Metafile}

/**
 * What `s3c ARGS` loads, recorded by test/harness/import-trace.js: the files it resolves and
 * requires, each file of the bundle's lazy/ folder standing for the modules it holds, and
 * `s3c:<command>` for each command of cli.cjs it evaluates.
 */
function modulesLoadedBy(args: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const {lazy} = bundleMeta()
  const inputs = new Map(Object.entries(lazy.outputs).map(([file, o]) => [pathToFileURL(join(projectRoot, file)).href, Object.keys(o.inputs).map(i => join(projectRoot, i))]))
  return resolvedBy(args, env).flatMap(u => inputs.get(u) ?? [u])
}

/** The modules `dist/src/MODULE` imports statically, directly or not, in cli.cjs (evaluated with it: esbuild evaluates import() and require targets when called). */
function staticImportsOf(module: string): string[] {
  const {cli} = bundleMeta()
  const seen = new Set<string>()
  const walk = (p: string) => {
    if (seen.has(p)) return
    seen.add(p)
    for (const i of cli.inputs[p]?.imports ?? []) if (i.kind === 'import-statement') walk(i.path)
  }
  walk(`dist/src/${module}`)
  return [...seen]
}

/** The module URLs `s3c ARGS` resolves. */
function resolvedBy(args: string[], env: NodeJS.ProcessEnv): string[] {
  const dir = mkdtempSync(join(tmpdir(), 's3c-trace-'))
  const trace = join(dir, 'trace')
  try {
    execFileSync(process.execPath, ['--import', join(projectRoot, 'dist/test/harness/import-trace.js'), join(projectRoot, 'bin/run.js'), ...args],
      {env: {...env, S3C_IMPORT_TRACE: trace}, stdio: ['ignore', 'pipe', 'pipe']})
    return readFileSync(trace, 'utf8').split('\n').filter(Boolean)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

describe('start-up', function () {
  it('oclif.manifest.json lists exactly the built commands (a stale manifest would hide a command)', function () {
    const manifest = JSON.parse(readFileSync(join(projectRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    assert.deepEqual(Object.keys(manifest.commands).sort(), commandIds(join(projectRoot, 'dist/src/commands')))
  })

  it('s3c --version and --help evaluate no command of the bundle and load no AWS SDK, no BullMQ', function () {
    for (const args of [['--version'], ['--help'], ['upload', '--help'], ['version'], ['help'], ['help', 'upload']]) {
      const loaded = modulesLoadedBy(args)
      assert.ok(loaded.some((u) => u.endsWith('/bin/run.js')), 'the trace sees the modules')
      const heavy = loaded.filter((u) => /^s3c:(?!HelpClass$|commandNotFound$)|@aws-sdk\/client-s3|\/bullmq\/|\/ioredis\/|\/express\//.test(u))
      assert.deepEqual(heavy, [], `s3c ${args.join(' ')} loaded`)
    }
  })

  it('cat, head, download-single and list-files load no AWS SDK client, BullMQ, ioredis, cli-progress or job handlers (the fast path alone)', async function () {
    const bucket = await newBucket('startup')
    const dir = mkdtempSync(join(tmpdir(), 's3c-startup-'))
    try {
      writeFileSync(join(dir, 'a.txt'), 'hello')
      const made = await runCli(['bundle', dir, 'b1', '--bucket', bucket])
      assert.equal(made.code, 0, made.stderr)
      const env = cliEnv()
      for (const args of [
        ['cat', `s3://${bucket}/b1/bundle.tar`, '--range', '0-9'], ['head', `s3://${bucket}/b1/bundle.tar`],
        ['download-single', 'b1', 'a.txt', '--bucket', bucket, '--stdout'], ['list-files', 'b1', '--bucket', bucket],
      ]) {
        const loaded = modulesLoadedBy(args, env)
        assert.deepEqual(loaded.filter(u => u.startsWith('s3c:')), [`s3c:${args[0]}`], 'the command alone is evaluated')
        const heavy = loaded.filter((u) => /@aws-sdk\/|\/bullmq\/|\/ioredis\/|\/express\/|\/cli-progress\/|\/undici\//.test(u))
        assert.deepEqual(heavy, [], `s3c ${args.join(' ')} loaded`)
        // Inside cli.cjs a module is evaluated with the modules it imports statically; import() waits for a use.
        const imports = staticImportsOf(`commands/${args[0]}.js`)
        assert.ok(imports.includes('dist/src/s3/fast.js'), 'the static imports are seen')
        assert.deepEqual(imports.filter(p => /jobs\/(handlers|registry)|run\/session|node_modules\/(p-retry|mime-types)\//.test(p)), [], `s3c ${args[0]} imports`)
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('the job kinds load node-tar and the tar handlers only for their first job (onFirstJob)', function () {
    const imports = staticImportsOf('jobs/registry.js')
    assert.ok(imports.includes('dist/src/jobs/upload.js'), 'the static imports are seen')
    assert.deepEqual(imports.filter(p => /jobs\/(tar-part|tar-copy|extract)\.js|node_modules\/tar\//.test(p)), [])
  })

  it('the code cache: written by the first run beside the bundle, refused and written again when it does not fit', function () {
    // A copy of the package: every s3c started from the checkout (another suite running at the same
    // time, a bench) reads and writes the checkout's cache, and would change it under this test.
    const dir = packageCopy()
    try {
      const bundleDir = join(dir, 'dist/bundle')
      const caches = () => readdirSync(bundleDir).filter(f => f.endsWith('.cache'))
      assert.deepEqual(caches(), [], 'the copy starts without a cache')
      const version = () => execFileSync(process.execPath, [join(dir, 'bin/run.js'), '--version'], {encoding: 'utf8'})
      assert.match(version(), /^s3c\//)
      const [cache] = caches()
      assert.ok(cache, 'a cache file')
      const written = readFileSync(join(bundleDir, cache))
      assert.ok(written.length > 100_000, `${written.length} bytes`)
      writeFileSync(join(bundleDir, cache), 'not a code cache')
      assert.match(version(), /^s3c\//)
      assert.ok(readFileSync(join(bundleDir, cache)).length > 100_000, 'written again')
      assert.deepEqual(caches(), [cache])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('the code cache belongs to one bundle: a cache made for another bundle of the same length is never used', function () {
    // A copy of the package, so that the project's own bundle and cache stay as they are.
    const dir = packageCopy()
    try {
      const cli = join(dir, 'dist/bundle/cli.cjs')
      const built = readFileSync(cli, 'utf8')
      const header = /^\/\/ s3c-bundle [0-9a-f]{64}\n/.exec(built)
      assert.ok(header, 'the bundle names its content on its first line')
      // Another build of the same length (an upgrade that keeps it): its version line says NODE-.
      const body = built.slice(header[0].length).replace('node-${process.version}', 'NODE-${process.version}')
      assert.notEqual(body, built.slice(header[0].length))
      const other = `// s3c-bundle ${createHash('sha256').update(body).digest('hex')}\n${body}`
      assert.equal(other.length, built.length)
      const version = () => execFileSync(process.execPath, [join(dir, 'bin/run.js'), '--version'], {encoding: 'utf8'})
      writeFileSync(cli, other)
      assert.match(version(), / NODE-v/)
      assert.match(version(), / NODE-v/, 'from its own cache')
      writeFileSync(cli, built)
      assert.match(version(), / node-v/, 'the other bundle\'s cache was not used')
      assert.match(version(), / node-v/)
      assert.equal(readdirSync(join(dir, 'dist/bundle')).filter(f => f.endsWith('.cache')).length, 2, 'a cache per bundle')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

/** The package's bin, bundle (without its code caches) and manifest in a folder of their own; node_modules linked. */
function packageCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3c-cache-'))
  mkdirSync(join(dir, 'bin'))
  for (const f of ['package.json', 'oclif.manifest.json', 'bin/run.js']) cpSync(join(projectRoot, f), join(dir, f))
  cpSync(join(projectRoot, 'dist/bundle'), join(dir, 'dist/bundle'), {recursive: true, filter: f => !f.endsWith('.cache')})
  symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'))
  return dir
}
