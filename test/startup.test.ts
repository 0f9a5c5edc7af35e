import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
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

/** The modules each file of the CLI's bundle holds (esbuild's metafile, written by scripts/bundle.js), as absolute paths. */
function bundleInputs(): Map<string, string[]> {
  const meta = JSON.parse(readFileSync(join(projectRoot, 'dist/bundle/meta.json'), 'utf8')) as {outputs: Record<string, {inputs: Record<string, unknown>}>}
  return new Map(Object.entries(meta.outputs).map(([file, o]) => [pathToFileURL(join(projectRoot, file)).href, Object.keys(o.inputs).map(i => join(projectRoot, i))]))
}

/**
 * The modules `s3c ARGS` loads: the URLs it resolves, recorded by test/harness/import-trace.js,
 * with each file of the bundle standing for the modules it holds.
 */
function modulesLoadedBy(args: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const inputs = bundleInputs()
  return resolvedBy(args, env).flatMap(u => inputs.get(u) ?? [u])
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

  it('s3c --version and --help load no command module, no AWS SDK, no BullMQ', function () {
    for (const args of [['--version'], ['--help'], ['upload', '--help'], ['version'], ['help'], ['help', 'upload']]) {
      const loaded = modulesLoadedBy(args)
      assert.ok(loaded.some((u) => u.includes('@oclif/core')), 'the trace sees the modules')
      const heavy = loaded.filter((u) => /\/dist\/src\/commands\/|@aws-sdk\/client-s3|\/bullmq\/|\/ioredis\/|\/express\//.test(u))
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
        assert.ok(loaded.some((u) => u.includes('/dist/src/commands/')), 'the trace sees the command')
        const heavy = loaded.filter((u) => /@aws-sdk\/|\/bullmq\/|\/ioredis\/|\/express\/|\/cli-progress\/|\/undici\/|\/dist\/src\/jobs\/handlers|\/dist\/src\/run\/session/.test(u))
        assert.deepEqual(heavy, [], `s3c ${args.join(' ')} loaded`)
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
