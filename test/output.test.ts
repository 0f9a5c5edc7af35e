import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, spawnCli, type CliResult} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {putObject} from './harness/objects.js'
import {startProxy, type Proxy} from './harness/proxy.js'
import {projectRoot} from './harness/servers.js'
import {makeTree} from './harness/tree.js'
import {waitFor} from './harness/wait.js'

/** The whole of stdout is one JSON object (not an array, not one object per line), ending in one newline. */
function oneJsonObject(stdout: string): Record<string, unknown> {
  assert.match(stdout, /^\{.*\}\n$/s, `stdout is not one JSON object: ${JSON.stringify(stdout.slice(0, 300))}`)
  const value = JSON.parse(stdout) as unknown
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value))
  return value as Record<string, unknown>
}

/** Every command's name as oclif finds it in dist/src/commands (`tar/create.js` is `tar create`). */
function commandNames(): string[] {
  const root = join(projectRoot, 'dist', 'src', 'commands')
  const names: string[] = []
  for (const e of readdirSync(root, {withFileTypes: true, recursive: true})) {
    if (!e.isFile() || !e.name.endsWith('.js')) continue
    const rel = join(e.parentPath, e.name).slice(root.length + 1).replace(/\.js$/, '')
    names.push(rel.replace(/\/index$/, '').replaceAll('/', ' '))
  }
  return names.sort()
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}

interface Case {
  /** args for a successful run; `tag` keeps the --json and the -q run apart (bundle ids, folders). */
  ok(tag: string): string[]
  /** what the --json object of a success must say */
  check(json: Record<string, unknown>): void
  /** args of a failing run, and its exit code */
  fail(): string[]
  failCode: number
  env?: () => Record<string, string>
  /** the failing run's environment (default: env) */
  failEnv?: () => Record<string, string>
  /** for the commands that run until stopped (dashboard, worker): start, wait, SIGTERM */
  run?(args: string[], env: Record<string, string>): Promise<CliResult>
}

describe('--json and -q on every command', function () {
  const dirs: string[] = []
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-out-${name}-`)); dirs.push(d); return d }
  let bucket: string
  let src: string
  let proxy: Proxy
  const missing = `s3c-missing-${process.pid}`
  const FILES = 12
  const cache = () => ({S3C_CACHE_DIR: mk('cache')})
  const redisEnv = () => ({S3C_REDIS_URL: harness().redis.url})
  /** Runs of `upload --redis` with one failed file each, for `retry` to send again. */
  const failedRuns = new Map<string, string>()
  /** Empty buckets for `rb` to remove (one for the --json run, one for -q). */
  const emptyBuckets = new Map<string, string>()

  /** A worker for the distributed runs `retry` needs (the `worker` case runs its own). */
  async function withWorker<T>(endpoint: string, fn: () => Promise<T>): Promise<T> {
    const worker = spawnCli(['worker', '--stalled-seconds', '2'], {env: {AWS_ENDPOINT_URL: endpoint, S3C_REDIS_URL: harness().redis.url}})
    try {
      return await fn()
    } finally {
      worker.child.kill('SIGTERM')
      await worker.done
    }
  }

  before(async function () {
    bucket = await newBucket('out')
    src = mk('src')
    makeTree(src, {files: FILES, depth: 2})
    assert.equal((await runCli(['upload', src, `s3://${bucket}/up`])).code, 0)
    assert.equal((await runCli(['bundle', src, 'fixed', '--bucket', bucket], {env: cache()})).code, 0)
    const tarPath = join(mk('tar'), 'plain.tar')
    execFileSync('tar', ['--format=pax', '-cf', tarPath, '-C', src, '.'])
    await putObject(bucket, 'plain.tar', readFileSync(tarPath))
    // Two distributed runs with one failed file each (one for the --json retry, one for -q).
    proxy = await startProxy(harness().s3.endpoint, {alwaysFail: p => p.includes('flaky')})
    const flaky = mk('flaky')
    writeFileSync(join(flaky, 'flaky.txt'), 'fails until retried\n')
    writeFileSync(join(flaky, 'fine.txt'), 'fine\n')
    await withWorker(proxy.endpoint, async () => {
      for (const tag of ['json', 'quiet']) {
        const r = await runCli(['upload', flaky, `s3://${bucket}/retry-${tag}`, '--max-retry', '0'], {env: {...redisEnv(), AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.equal(r.code, 1, r.stderr)
        failedRuns.set(tag, /run (\d{8}-[0-9a-f]{8})/.exec(r.stderr)![1])
      }
    })
    proxy.setFaults({})
    for (const tag of ['json', 'quiet']) emptyBuckets.set(tag, await newBucket(`out-rb-${tag}`))
  })
  after(async () => {
    await proxy?.stop()
    for (const d of dirs) rmSync(d, {recursive: true, force: true})
  })

  const summaryOf = (files: number) => (j: Record<string, unknown>) => {
    assert.equal(j.filesDone, files)
    assert.equal(j.filesFailed, 0)
  }

  const cases: Record<string, Case> = {
    cp: {
      ok: tag => ['cp', `s3://${bucket}/up/`, `s3://${bucket}/cp-${tag}/`], check: summaryOf(FILES),
      fail: () => ['cp', `s3://${missing}/x`, `s3://${bucket}/cp-fail/`], failCode: 3,
    },
    mv: {
      ok: tag => {
        const from = mk(`mv-${tag}`)
        makeTree(from, {files: FILES, depth: 2})
        return ['mv', from, `s3://${bucket}/mv-${tag}/`]
      },
      check: summaryOf(FILES),
      fail: () => ['mv', `s3://${bucket}/up/`, `s3://${missing}/x/`], failCode: 3,
    },
    sync: {
      ok: tag => ['sync', `s3://${bucket}/up/`, `s3://${bucket}/sync-${tag}/`, '--delete'],
      check: j => {
        summaryOf(FILES)(j)
        assert.equal(j.deleted, 0)
      },
      fail: () => ['sync', src, `s3://${missing}/x/`], failCode: 3,
    },
    pipe: {
      ok: tag => ['pipe', `s3://${bucket}/pipe-${tag}`], check: j => assert.equal(j.bytes, 6),
      fail: () => ['pipe', `s3://${missing}/x`], failCode: 3,
      run: (args, env) => runCli(args, {env, input: Buffer.from('piped\n')}),
    },
    run: {
      ok: tag => {
        const file = join(mk(`run-${tag}`), 'commands.txt')
        writeFileSync(file, `# one line\ncp s3://${bucket}/up/ s3://${bucket}/run-${tag}/\n`)
        return ['run', file]
      },
      check: j => assert.deepEqual([j.lines, j.failed], [1, 0]),
      fail: () => ['run', '/nonexistent/commands.txt'], failCode: 2,
    },
    upload: {
      ok: tag => ['upload', src, `s3://${bucket}/u-${tag}`], check: summaryOf(FILES),
      fail: () => ['upload', src, `s3://${missing}/x`], failCode: 3,
    },
    download: {
      ok: tag => ['download', `s3://${bucket}/up`, join(mk('dl'), tag)], check: summaryOf(FILES),
      fail: () => ['download', `s3://${missing}/x`, mk('dlfail')], failCode: 3,
    },
    bundle: {
      ok: tag => ['bundle', src, `b-${tag}`, '--bucket', bucket],
      check: j => {
        assert.equal(j.bundle, 'b-json')
        assert.equal(j.tar, `s3://${bucket}/b-json/bundle.tar`)
        assert.equal(j.filesDone, FILES)
      },
      fail: () => ['bundle', src, 'b', '--bucket', missing], failCode: 3, env: cache,
    },
    'download-single': {
      ok: tag => ['download-single', 'fixed', readdirSync(src).find(n => n.endsWith('.txt'))!, '--bucket', bucket, '--out', join(mk('ds'), tag)],
      check: j => {
        assert.match(String(j.path), /\/json$/)
        assert.equal(typeof j.bytes, 'number')
      },
      fail: () => ['download-single', 'fixed', 'a.txt', '--bucket', missing, '--out', join(tmpdir(), 'never')], failCode: 3, env: cache,
    },
    'download-all': {
      ok: tag => ['download-all', 'fixed', join(mk('da'), tag), '--bucket', bucket], check: summaryOf(FILES),
      fail: () => ['download-all', 'fixed', mk('dafail'), '--bucket', missing], failCode: 3, env: cache,
    },
    'list-files': {
      ok: () => ['list-files', 'fixed', '--bucket', bucket],
      check: j => {
        const members = j.members as {name: string; type: string}[]
        assert.equal(members.filter(m => m.type === 'file').length, FILES)
        assert.ok(members.every(m => typeof m.name === 'string'))
      },
      fail: () => ['list-files', 'fixed', '--bucket', missing], failCode: 3, env: cache,
    },
    index: {
      ok: () => ['index', `s3://${bucket}/plain.tar`], check: j => assert.ok(Number(j.members) > FILES),
      fail: () => ['index', `s3://${missing}/plain.tar`], failCode: 3,
    },
    'tar create': {
      ok: tag => ['tar', 'create', '-f', `s3://${bucket}/tc-${tag}.tar`, `s3://${bucket}/up/`, '--no-toc'], check: summaryOf(FILES),
      fail: () => ['tar', 'create', '-f', `s3://${missing}/a.tar`, `s3://${missing}/up/`], failCode: 3,
    },
    'tar list': {
      ok: () => ['tar', 'list', '-f', `s3://${bucket}/plain.tar`],
      check: j => assert.ok((j.members as {name: string}[]).some(m => m.name.endsWith('.txt'))),
      fail: () => ['tar', 'list', '-f', `s3://${missing}/plain.tar`], failCode: 3,
    },
    'tar extract': {
      ok: tag => ['tar', 'extract', '-f', `s3://${bucket}/plain.tar`, '-C', join(mk('tx'), tag)], check: summaryOf(FILES),
      fail: () => ['tar', 'extract', '-f', `s3://${missing}/plain.tar`, '-C', mk('txfail')], failCode: 3,
    },
    retry: {
      ok: tag => ['retry', failedRuns.get(tag)!],
      check: j => {
        assert.equal(j.filesFailed, 0)
        assert.equal(j.filesDone, 2, 'the counts add up over the tries of a run: fine.txt, then flaky.txt')
      },
      fail: () => ['retry', 'no-such-run'], failCode: 2, env: redisEnv,
      run: (args, env) => withWorker(proxy.endpoint, () => runCli(args, {env: {...env, AWS_ENDPOINT_URL: proxy.endpoint}})),
    },
    ls: {
      // ls --json prints one object per line (NDJSON): one object listed is one line.
      ok: () => ['ls', `s3://${bucket}/up/${readdirSync(src).find(n => n.endsWith('.txt'))}`], check: j => assert.match(String(j.key), /^up\/.*\.txt$/),
      fail: () => ['ls', `s3://${missing}/`], failCode: 2,
    },
    cat: {
      ok: () => ['cat', `s3://${bucket}/plain.tar`], check: j => assert.match(String(j.sha256), /^[0-9a-f]{64}$/),
      fail: () => ['cat', `s3://${bucket}/no-such-key`], failCode: 2,
    },
    head: {
      ok: () => ['head', `s3://${bucket}/plain.tar`], check: j => assert.equal(typeof j.size, 'number'),
      fail: () => ['head', `s3://${bucket}/no-such-key`], failCode: 2,
    },
    du: {
      ok: () => ['du', `s3://${bucket}/up/`], check: j => assert.equal(j.count, FILES),
      fail: () => ['du', `s3://${bucket}/nothing-here/`], failCode: 2,
    },
    mb: {
      ok: tag => ['mb', `s3://s3c-out-mb-${tag}-${process.pid}-${Date.now().toString(36)}`], check: j => assert.match(String(j.bucket), /^s3c-out-mb-json-/),
      fail: () => ['mb', `s3://${bucket}`], failCode: 2,
    },
    rb: {
      ok: tag => ['rb', `s3://${emptyBuckets.get(tag)}`], check: j => assert.equal(j.bucket, emptyBuckets.get('json')),
      fail: () => ['rb', `s3://${bucket}`], failCode: 2,
    },
    presign: {
      ok: () => ['presign', `s3://${bucket}/plain.tar`, '--expire', '5m'], check: j => assert.match(String(j.url), /X-Amz-Signature=/),
      fail: () => ['presign', `s3://${bucket}/plain.tar`, '--expire', '8d'], failCode: 2,
    },
    rm: {
      ok: tag => ['rm', `s3://${bucket}/rm-${tag}`], check: j => assert.equal(j.removed, 1),
      fail: () => ['rm', `s3://${bucket}`], failCode: 2,
    },
    cleanup: {
      ok: () => ['cleanup', `s3://${bucket}/nothing-left/`],
      check: j => assert.equal(j.temporaryObjects, 0),
      fail: () => ['cleanup', `s3://${missing}/x`], failCode: 3,
    },
    runs: {
      ok: () => ['runs'], check: j => assert.ok((j.runs as {runId: string}[]).some(r => r.runId === failedRuns.get('json'))),
      fail: () => ['runs'], failCode: 2, env: redisEnv, failEnv: () => ({}),
    },
    status: {
      ok: () => ['status', failedRuns.get('json')!], check: j => assert.equal(j.runId, failedRuns.get('json')),
      fail: () => ['status', 'no-such-run'], failCode: 2, env: redisEnv,
    },
    dashboard: {
      ok: () => ['dashboard'], check: j => assert.match(String(j.url), /^http:\/\/127\.0\.0\.1:\d+\/$/),
      fail: () => ['dashboard'], failCode: 2, env: redisEnv, failEnv: () => ({}),
      async run(args, env) {
        if (!env.S3C_REDIS_URL) return runCli(args, {env})
        const port = await freePort()
        const d = spawnCli([...args, '--port', String(port)], {env})
        let exited = false
        void d.done.then(() => { exited = true })
        await waitFor(async () => exited || (await fetch(`http://127.0.0.1:${port}/api/runs`).catch(() => undefined))?.ok === true)
        d.child.kill('SIGTERM')
        return d.done
      },
    },
    worker: {
      ok: () => ['worker', '--stalled-seconds', '2'], check: j => assert.equal(j.filesDone, 2),
      fail: () => ['worker'], failCode: 2, env: redisEnv, failEnv: () => ({}),
      async run(args, env) {
        if (!env.S3C_REDIS_URL) return runCli(args, {env})
        // The worker under test is the only one: the upload ends once it has run the jobs.
        const w = spawnCli(args, {env})
        const tree = mk('wsrc')
        writeFileSync(join(tree, 'a.txt'), 'a\n')
        writeFileSync(join(tree, 'b.txt'), 'b\n')
        const upload = spawnCli(['upload', tree, `s3://${bucket}/w-${args.join('')}`, '-q'], {env})
        // A worker that exits at once (a flag it does not know) would leave the upload waiting forever.
        const first = await Promise.race([upload.done.then(() => 'upload'), w.done.then(() => 'worker')])
        if (first === 'worker') upload.child.kill('SIGTERM')
        const up = await upload.done
        if (first === 'upload') assert.equal(up.code, 0, up.stderr)
        w.child.kill('SIGTERM')
        return w.done
      },
    },
  }

  it('the table below covers every command', function () {
    assert.deepEqual(Object.keys(cases).sort(), commandNames())
  })

  for (const [name, c] of Object.entries(cases)) {
    const run = (args: string[], failing = false) => {
      const env = (failing ? c.failEnv ?? c.env : c.env)?.() ?? {}
      return c.run ? c.run(args, env) : runCli(args, {env})
    }

    it(`${name} --json: one JSON object on stdout, on success and on failure ({error, exitCode})`, async function () {
      const ok = await run([...c.ok('json'), '--json'])
      assert.equal(ok.code, 0, ok.stderr)
      c.check(oneJsonObject(ok.stdout))
      const bad = await run([...c.fail(), '--json'], true)
      assert.equal(bad.code, c.failCode, bad.stderr)
      const err = oneJsonObject(bad.stdout)
      assert.equal(err.exitCode, c.failCode)
      assert.equal(typeof err.error, 'string')
      assert.doesNotMatch(String(err.error), /\n/)
    })

    it(`${name} -q: nothing on stdout or stderr on success; only the error line on failure`, async function () {
      const ok = await run([...c.ok('quiet'), '-q'])
      assert.equal(ok.code, 0, ok.stderr)
      assert.equal(ok.stdout, '')
      assert.equal(ok.stderr, '')
      const bad = await run([...c.fail(), '-q'], true)
      assert.equal(bad.code, c.failCode, bad.stderr)
      assert.equal(bad.stdout, '')
      assert.match(bad.stderr, /^s3c: [^\n]+\n$/)
    })
  }

  it('--json on a flag error prints {error, exitCode: 2}; the failed files of a run are in the object and on stderr', async function () {
    const flag = await runCli(['upload', src, `s3://${bucket}/x`, '--no-such-flag', '--json'])
    assert.equal(flag.code, 2)
    const flagError = oneJsonObject(flag.stdout)
    assert.deepEqual({...flagError, error: undefined}, {command: 'upload', error: undefined, code: 'InvalidArgument', exitCode: 2})
    assert.match(String(flagError.error), /^unknown flag --no-such-flag( \(did you mean [^)]+\?\)|; see s3c upload --help)$/)
    assert.equal(flag.stderr, `s3c upload: ${flagError.error}\n`)
    const tooMany = await runCli(['list-files', 'a', 'b', 'c', '--json'])
    assert.equal(tooMany.code, 2)
    assert.match(String(oneJsonObject(tooMany.stdout).error), /^Unexpected argument: c/)

    proxy.setFaults({alwaysFail: p => p.includes('flaky')})
    try {
      const flaky = mk('flaky2')
      writeFileSync(join(flaky, 'flaky.txt'), 'x\n')
      writeFileSync(join(flaky, 'fine.txt'), 'y\n')
      const r = await runCli(['upload', flaky, `s3://${bucket}/f2`, '--max-retry', '0', '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 1)
      const j = oneJsonObject(r.stdout)
      assert.equal(j.filesDone, 1)
      assert.equal(j.filesFailed, 1)
      assert.match(JSON.stringify(j.failures), /f2\/flaky\.txt/)
      assert.match(r.stderr, /failed: f2\/flaky\.txt: InternalError/)
    } finally {
      proxy.setFaults({})
    }
  })

  it('--json when S3 stops a run that had started: the error, the exit code and the counts so far', async function () {
    // The listing passes, then every PUT is refused: a fatal error in the middle of the run.
    proxy.setFaults({deny: r => r.method === 'PUT'})
    try {
      const r = await runCli(['upload', src, `s3://${bucket}/denied`, '--json'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 3, r.stderr)
      const j = oneJsonObject(r.stdout)
      assert.equal(j.command, 'upload')
      assert.equal(j.exitCode, 3)
      assert.match(String(j.error), /AccessDenied|access denied/i)
      assert.equal(j.filesDone, 0)
      assert.ok(Array.isArray(j.failures))
      assert.match(r.stderr, /^s3c: .*(AccessDenied|access denied)/im)
    } finally {
      proxy.setFaults({})
    }
  })

  it('download-single --stdout --json is refused: standard output carries the data', async function () {
    const r = await runCli(['download-single', 'fixed', 'x', '--bucket', bucket, '--stdout', '--json'], {env: cache()})
    assert.equal(r.code, 2)
    assert.match(String(oneJsonObject(r.stdout).error), /--json.*--stdout/)
  })

  it('--dry-run --json: the plan inside the one object', async function () {
    const r = await runCli(['upload', src, `s3://${bucket}/dry`, '--dry-run', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const j = oneJsonObject(r.stdout)
    assert.equal((j.plan as string[]).length, FILES)
    assert.ok((j.plan as string[]).every(l => /^upload .* -> s3:\/\//.test(l)))
  })
})
