import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative, sep} from 'node:path'
import {projectRoot} from './harness/servers.js'

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

/** The module URLs `s3c ARGS` resolves, recorded by test/harness/import-trace.js. */
function modulesLoadedBy(args: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 's3c-trace-'))
  const trace = join(dir, 'trace')
  try {
    execFileSync(process.execPath, ['--import', join(projectRoot, 'dist/test/harness/import-trace.js'), join(projectRoot, 'bin/run.js'), ...args],
      {env: {...process.env, S3C_IMPORT_TRACE: trace}, stdio: ['ignore', 'pipe', 'pipe']})
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
})
