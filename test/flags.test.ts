import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {request} from 'node:http'
import {join} from 'node:path'
import {cliEnv, runCli, spawnCli, type CliResult} from './harness/cli.js'
import {harness, newBucket, s3Client} from './harness/hooks.js'
import {getObject, listKeys, putObject} from './harness/objects.js'
import {startProxy} from './harness/proxy.js'
import {scratchDirs} from './harness/scratch.js'
import {projectRoot} from './harness/servers.js'
import {seededBytes} from './harness/tree.js'
import {HeadObjectCommand} from '@aws-sdk/client-s3'

/**
 * Issue 23, "Flags and arguments where people put them": every flag takes one value per
 * occurrence wherever it stands; s5cmd's and aws's global flags before the verb; `-` in cp is
 * standard input or output.
 */

const MiB = 1024 * 1024
const scratch = scratchDirs()

/** The one line of a refused command, exit 2. */
function refused(r: CliResult, what: string): string {
  assert.equal(r.code, 2, `${what}: ${r.stderr}`)
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.length, 1, `${what}: ${r.stderr}`)
  return lines[0]
}

/** A folder with files that --exclude '*.tmp' and --exclude 'sub/*' tell apart, and one whose name starts with '-'. */
function source(): string {
  const dir = scratch('flags-src')
  mkdirSync(join(dir, 'sub'))
  for (const f of ['a.txt', 'b.tmp', 'sub/c.txt', 'sub/d.tmp', '-dash.txt']) writeFileSync(join(dir, f), f)
  return dir
}

/** Every file under a folder, relative, sorted. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, {recursive: true}) as string[]).filter(f => !['sub'].includes(f)).sort()
}

/**
 * Where a repeatable flag may stand among two arguments, and what it then selects (of
 * source()'s files): before them, between, after, repeated, with '=', a value starting with '-'.
 */
const positions: {name: string; args: (a: string, b: string) => string[]; kept: string[]}[] = [
  {name: 'before', args: (a, b) => ['--exclude', '*.tmp', a, b], kept: ['-dash.txt', 'a.txt', 'sub/c.txt']},
  {name: 'between', args: (a, b) => [a, '--exclude', '*.tmp', b], kept: ['-dash.txt', 'a.txt', 'sub/c.txt']},
  {name: 'after', args: (a, b) => [a, b, '--exclude', '*.tmp'], kept: ['-dash.txt', 'a.txt', 'sub/c.txt']},
  {name: 'repeated', args: (a, b) => ['--exclude', '*.tmp', a, '--exclude', 'sub/*', b], kept: ['-dash.txt', 'a.txt']},
  {name: 'with =', args: (a, b) => ['--exclude=*.tmp', a, b, '--include=sub/*'], kept: ['sub/c.txt']},
  {name: 'a value starting with -', args: (a, b) => ['--exclude=-*', a, b], kept: ['a.txt', 'b.tmp', 'sub/c.txt', 'sub/d.tmp']},
]

describe('flags where people put them', function () {
  describe('a repeatable flag takes one value per occurrence, in any position', function () {
    it('the repeatable flags are the ones tried here (a new one is added to this file)', function () {
      const manifest = JSON.parse(readFileSync(join(projectRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, {multiple?: boolean}>}>}
      const repeatable = Object.entries(manifest.commands).flatMap(([id, c]) => Object.entries(c.flags).filter(([, f]) => f.multiple).map(([name]) => `${id} --${name}`))
      assert.deepEqual(repeatable.sort(), [
        'bundle --exclude', 'bundle --include', 'cp --exclude', 'cp --include', 'cp --metadata', 'dashboard --allowed-host', 'download --exclude', 'download --include',
        'mv --exclude', 'mv --include', 'mv --metadata', 'pipe --metadata', 'retry --root', 'sync --exclude', 'sync --include', 'upload --exclude', 'upload --include', 'worker --root',
      ])
    })

    for (const verb of ['upload', 'sync', 'cp', 'mv', 'bundle'] as const) {
      it(`${verb}: --exclude / --include before, between and after the arguments, repeated, with =`, async function () {
        const bucket = await newBucket(`fl${verb.slice(0, 3)}`)
        for (const [i, p] of positions.entries()) {
          const src = source()
          const prefix = `p${i}/`
          const url = `s3://${bucket}/${prefix}`
          const r = await runCli([verb, ...p.args(verb === 'sync' || verb === 'bundle' ? src : `${src}/`, verb === 'bundle' ? `p${i}` : url),
            ...(verb === 'bundle' ? ['--bucket', bucket] : [])])
          assert.equal(r.code, 0, `${verb} ${p.name}: ${r.stderr}`)
          if (verb === 'bundle') {
            const list = await runCli(['list-files', `p${i}`, '--bucket', bucket, '--json'])
            assert.equal(list.code, 0, list.stderr)
            assert.deepEqual((JSON.parse(list.stdout) as {members: {name: string; type: string}[]}).members.filter(m => m.type === 'file').map(m => m.name).sort(), p.kept, `${verb} ${p.name}`)
          } else {
            assert.deepEqual([...(await listKeys(bucket, prefix)).keys()].map(k => k.slice(prefix.length)).sort(), p.kept, `${verb} ${p.name}`)
          }
          if (verb === 'mv') assert.deepEqual(filesUnder(src), ['-dash.txt', 'a.txt', 'b.tmp', 'sub/c.txt', 'sub/d.tmp'].filter(f => !p.kept.includes(f)), `mv ${p.name} moved what it copied`)
        }
      })
    }

    it('download and cp S3→local: the same positions', async function () {
      const bucket = await newBucket('fldown')
      const src = source()
      assert.equal((await runCli(['upload', src, `s3://${bucket}/all/`])).code, 0)
      for (const verb of ['download', 'cp', 'sync'] as const) {
        for (const p of positions) {
          const dst = scratch('flags-dst')
          const r = await runCli([verb, ...p.args(`s3://${bucket}/all/`, dst)])
          assert.equal(r.code, 0, `${verb} ${p.name}: ${r.stderr}`)
          assert.deepEqual(filesUnder(dst), p.kept, `${verb} ${p.name}`)
        }
      }
    })

    it('cp and pipe --metadata before, between and after the arguments, repeated, with =', async function () {
      const bucket = await newBucket('flmeta')
      const file = join(scratch('flags-meta'), 'f.txt')
      writeFileSync(file, 'meta')
      const cases: [string, string[], Record<string, string>][] = [
        ['before', ['cp', '--metadata', 'a=1', file, `s3://${bucket}/m0`], {a: '1'}],
        ['between', ['cp', file, '--metadata', 'a=1', `s3://${bucket}/m1`], {a: '1'}],
        ['after', ['cp', file, `s3://${bucket}/m2`, '--metadata', 'a=1'], {a: '1'}],
        ['repeated', ['cp', '--metadata', 'a=1', file, '--metadata', 'b=2', `s3://${bucket}/m3`], {a: '1', b: '2'}],
        ['with =', ['cp', '--metadata=a=-1', file, `s3://${bucket}/m4`], {a: '-1'}],
        ['pipe, before', ['pipe', '--metadata', 'a=1', '--metadata', 'b=2', `s3://${bucket}/m5`], {a: '1', b: '2'}],
      ]
      const c = s3Client()
      try {
        for (const [i, [name, args, metadata]] of cases.entries()) {
          const r = await runCli(args, {input: Buffer.from('piped')})
          assert.equal(r.code, 0, `${name}: ${r.stderr}`)
          const head = await c.send(new HeadObjectCommand({Bucket: bucket, Key: `m${i}`}))
          assert.deepEqual(Object.fromEntries(Object.entries(head.Metadata ?? {}).filter(([k]) => k === 'a' || k === 'b')), metadata, name)
        }
      } finally {
        c.destroy()
      }
    })

    it('worker --root, retry --root and dashboard --allowed-host take one value each: a word after the value is an argument, refused', async function () {
      const redis = harness().redis.url
      // retry's run id after --root is its argument, not a second folder: the run is looked up (and not found).
      const retry = await runCli(['retry', '--root', scratch('flags-root'), '20990101-00000000', '--redis', redis])
      assert.equal(retry.code, 2, retry.stderr)
      assert.match(retry.stderr, /20990101-00000000/)
      assert.doesNotMatch(retry.stderr, /Missing 1 required arg/)
      assert.match(refused(await runCli(['worker', '--root', scratch('flags-root'), 'extra', '--redis', redis]), 'worker'), /extra/)
      assert.match(refused(await runCli(['worker', '--root=/no/such/folder', '--root', scratch('flags-root'), '--redis', redis]), 'worker'), /\/no\/such\/folder/)
      assert.match(refused(await runCli(['dashboard', '--allowed-host', 'dash.example.com', 'extra', '--redis', redis]), 'dashboard'), /extra/)
      const dash = spawnCli(['dashboard', '--allowed-host=dash.example.com', '--redis', redis, '--allowed-host', 'ops.example.com', '--port', '0'])
      let out = ''
      dash.child.stdout!.on('data', d => { out += d })
      try {
        while (!/^dashboard: /m.test(out) && dash.child.exitCode === null) await new Promise(r => setTimeout(r, 50))
        const url = new URL(/^dashboard: (\S+)$/m.exec(out)![1])
        for (const [host, status] of [['dash.example.com', 200], ['ops.example.com', 200], ['evil.example', 403]] as const) {
          const got = await new Promise<number>((resolve, reject) => {
            const req = request({host: url.hostname, port: url.port, path: '/api/runs', headers: {Host: host}},
              res => { res.resume(); resolve(res.statusCode ?? 0) })
            req.on('error', reject)
            req.end()
          })
          assert.equal(got, status, host)
        }
      } finally {
        dash.child.kill('SIGTERM')
        await dash.done
      }
    })
  })

  describe('global flags before the verb (s5cmd, aws)', function () {
    it('--endpoint-url, --json, --log, --region, --no-sign-request, -q, -t, --max-retry before the verb apply to it', async function () {
      const bucket = await newBucket('flglob')
      await putObject(bucket, 'k.txt', Buffer.from('hello'))
      const proxy = await startProxy(harness().s3.endpoint)
      try {
        // The environment names the server directly: only the flag sends the requests through the proxy.
        const ls = await runCli(['--endpoint-url', proxy.endpoint, '--json', 'ls', `s3://${bucket}/`])
        assert.equal(ls.code, 0, ls.stderr)
        assert.equal((JSON.parse(ls.stdout.split('\n')[0]) as {key: string}).key, 'k.txt', 'one JSON line per entry')
        assert.ok(proxy.count('GET') >= 1, 'the requests went to --endpoint-url')
        const before = proxy.requests.length
        const debug = await runCli(['--endpoint-url=' + proxy.endpoint, '--log', 'debug', '--region', 'eu-flags-1', 'cat', `s3://${bucket}/k.txt`])
        assert.equal(debug.code, 0, debug.stderr)
        assert.equal(debug.stdout, 'hello')
        assert.match(debug.stderr, /GET .*k\.txt.* 200/)
        const signed = proxy.requests.slice(before)
        assert.ok(signed.length > 0 && signed.every(r => String(r.headers.authorization).includes('/eu-flags-1/s3/aws4_request')), 'signed for --region')
        const unsigned = proxy.requests.length
        const anon = await runCli(['--no-sign-request', '--endpoint-url', proxy.endpoint, 'head', `s3://${bucket}/k.txt`])
        assert.ok(proxy.requests.length > unsigned, anon.stderr)
        assert.ok(proxy.requests.slice(unsigned).every(r => r.headers.authorization === undefined), 'no signature')
      } finally {
        await proxy.stop()
      }
      const src = source()
      const up = await runCli(['-q', '-t', '2', '--max-retry', '1', '--dry-run', 'upload', src, `s3://${bucket}/dry/`])
      assert.equal(up.code, 0, up.stderr)
      assert.equal((await listKeys(bucket, 'dry/')).size, 0, '--dry-run before the verb: nothing written')
      const up2 = await runCli(['-q', '-t2', 'upload', src, `s3://${bucket}/up/`])
      assert.deepEqual([up2.code, up2.stdout], [0, ''], up2.stderr)
      assert.equal((await listKeys(bucket, 'up/')).size, 5)
      const rm = await runCli(['--dry-run', 'rm', `s3://${bucket}/k.txt`])
      assert.equal(rm.code, 0, rm.stderr)
      assert.match(rm.stdout, /would remove 1/)
      assert.equal((await getObject(bucket, 'k.txt')).toString(), 'hello')
      assert.match(refused(await runCli(['--profile', 'no-such-profile-flags', 'ls', `s3://${bucket}/`]), '--profile'), /no-such-profile-flags/)
    })

    it('a topic command (tar create), --help and help VERB after global flags; --version and --help alone', async function () {
      const help = await runCli(['--endpoint-url', 'http://127.0.0.1:9', 'ls', '--help'])
      assert.equal(help.code, 0, help.stderr)
      assert.match(help.stdout, /List buckets|s3c ls/)
      const tar = await runCli(['-q', 'tar', 'create', '--help'])
      assert.equal(tar.code, 0, tar.stderr)
      assert.match(tar.stdout, /tar create/)
      assert.match((await runCli(['--version'])).stdout, /^s3c\//)
      assert.match((await runCli(['--help'])).stdout, /ls/)
      const helpLs = await runCli(['help', 'ls'])
      assert.equal(helpLs.code, 0)
      assert.match(helpLs.stdout, /s3c ls/)
    })

    it('a global flag the verb does not take, a verb\'s own flag first, another tool\'s name, no verb: one line, exit 2', async function () {
      assert.equal(refused(await runCli(['--dry-run', 'ls']), 'ls'), 's3c: --dry-run is not a flag of ls: see s3c ls --help')
      assert.equal(refused(await runCli(['--thread-count', '4', 'cat', 's3://b/k']), 'cat'), 's3c: --thread-count is not a flag of cat: see s3c cat --help')
      assert.match(refused(await runCli(['--exclude', '*.tmp', 'sync', 'a', 's3://b/']), 'sync'), /^s3c: --exclude goes after the command \(s3c sync --exclude …\)/)
      assert.equal(refused(await runCli(['--numworkers', '4', 'ls']), 'numworkers'), 's3c: unknown flag --numworkers: s3c\'s is --thread-count; see s3c help')
      assert.equal(refused(await runCli(['--verzion']), 'verzion'), 's3c: unknown flag --verzion (did you mean --version?); see s3c help')
      assert.match(refused(await runCli(['--json']), 'json alone'), /needs a command after it/)
      assert.match(refused(await runCli(['--log']), 'log alone'), /--log needs a value/)
      const json = await runCli(['--json', '--dry-run', 'ls'])
      assert.equal(json.code, 2)
      assert.deepEqual(JSON.parse(json.stdout), {error: '--dry-run is not a flag of ls: see s3c ls --help', code: 'InvalidArgument', exitCode: 2})
    })
  })

  describe('cp with -: standard input and output', function () {
    it('a binary body over 16 MiB through standard input (a multipart upload) and standard output, byte-exact; nothing else on stdout', async function () {
      const bucket = await newBucket('flstdio')
      const body = seededBytes(23, 17 * MiB + 4321)
      const proxy = await startProxy(harness().s3.endpoint)
      try {
        const env = {AWS_ENDPOINT_URL: proxy.endpoint}
        const up = await runCli(['cp', '-', `s3://${bucket}/big.bin`, '--part-size', '5MiB', '--json'], {input: body, env})
        assert.equal(up.code, 0, up.stderr)
        assert.deepEqual([JSON.parse(up.stdout).bytes, JSON.parse(up.stdout).parts], [body.length, 4])
        assert.equal(proxy.count('PUT', q => q.query.includes('partNumber')), 4)
        assert.ok((await getObject(bucket, 'big.bin')).equals(body), 'stored byte-exact')
        const down = await runCli(['cp', `s3://${bucket}/big.bin`, '-'], {env})
        assert.equal(down.code, 0, down.stderr)
        assert.equal(down.stdoutBytes.length, body.length)
        assert.ok(down.stdoutBytes.equals(body), 'written byte-exact, nothing else on stdout')
        assert.equal(proxy.count('GET', q => q.path.endsWith('/big.bin')), 1, 'one GET')
        const json = await runCli(['cp', `s3://${bucket}/big.bin`, '-', '--json'], {env})
        assert.equal(json.code, 0, json.stderr)
        assert.deepEqual(JSON.parse(json.stdout), {command: 'cp', url: `s3://${bucket}/big.bin`, bytes: body.length,
          sha256: createHash('sha256').update(body).digest('hex')})
      } finally {
        await proxy.stop()
      }
    })

    it('a zero-byte standard input is an empty object; a small one is one PUT with the flags\' settings', async function () {
      const bucket = await newBucket('flempty')
      const empty = await runCli(['cp', '-', `s3://${bucket}/empty`], {input: Buffer.alloc(0)})
      assert.equal(empty.code, 0, empty.stderr)
      assert.equal((await listKeys(bucket)).get('empty'), 0)
      const out = await runCli(['cp', `s3://${bucket}/empty`, '-'])
      assert.deepEqual([out.code, out.stdoutBytes.length], [0, 0], out.stderr)
      const small = await runCli(['cp', '--content-type', 'text/x-flags', '-', `s3://${bucket}/small.txt`], {input: Buffer.from('small')})
      assert.equal(small.code, 0, small.stderr)
      const c = s3Client()
      try {
        assert.equal((await c.send(new HeadObjectCommand({Bucket: bucket, Key: 'small.txt'}))).ContentType, 'text/x-flags')
      } finally {
        c.destroy()
      }
    })

    it('a GET whose body ends early exits non-zero with one line; a part that fails aborts the multipart upload; stdin a folder is refused', async function () {
      const bucket = await newBucket('flshort')
      await putObject(bucket, 'obj.bin', seededBytes(5, 2 * MiB))
      const proxy = await startProxy(harness().s3.endpoint, {lie: r => (r.method === 'GET' && r.path.endsWith('/obj.bin') ? 'short' : undefined)})
      try {
        const r = await runCli(['cp', `s3://${bucket}/obj.bin`, '-', '--max-retry', '1'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        assert.notEqual(r.code, 0, 'non-zero exit')
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
        assert.ok(r.stdoutBytes.length < 2 * MiB, 'not the whole object')
        proxy.setFaults({deny: q => q.method === 'PUT' && q.query.includes('partNumber=2')})
        const up = spawnCli(['cp', '-', `s3://${bucket}/failed.bin`, '--part-size', '5MiB'], {input: seededBytes(6, 12 * MiB), env: {AWS_ENDPOINT_URL: proxy.endpoint}})
        // cp stops reading at the failure: the rest of the input meets a closed pipe, an outcome here, not an uncaught EPIPE.
        up.child.stdin!.on('error', () => undefined)
        const failed = await up.done
        assert.notEqual(failed.code, 0, failed.stderr)
        assert.equal(failed.stderr.trim().split('\n').length, 1, failed.stderr)
        assert.equal(proxy.count('DELETE', q => q.query.includes('uploadId')), 1, `the multipart upload is aborted: ${failed.stderr}`)
      } finally {
        await proxy.stop()
      }
      assert.equal((await listKeys(bucket)).has('failed.bin'), false)
      const dir = scratch('flags-stdin')
      const fd = openSync(dir, 'r')
      try {
        const code = await new Promise<{code: number | null; stderr: string}>((resolve, reject) => {
          const child = spawn(process.execPath, [join(projectRoot, 'bin', 'run.js'), 'cp', '-', `s3://${bucket}/kept`], {env: cliEnv(), stdio: [fd, 'pipe', 'pipe']})
          let stderr = ''
          child.stderr!.on('data', d => { stderr += d })
          child.on('error', reject)
          child.on('close', c => resolve({code: c, stderr}))
        })
        assert.equal(code.code, 2, code.stderr)
        assert.match(code.stderr, /standard input is a folder/)
      } finally {
        closeSync(fd)
      }
    })

    it('mv, sync, upload and download with -, - on both sides, a local path, a prefix or a selecting flag with -: one line naming what to use', async function () {
      const bucket = await newBucket('flrefuse')
      await putObject(bucket, 'k', Buffer.from('kept'))
      const dir = scratch('flags-refuse')
      const cases: [string[], RegExp][] = [
        [['mv', '-', `s3://${bucket}/k`], /^s3c: mv does not read or write "-": .*s3c cp - s3:\/\/BUCKET\/KEY/],
        [['mv', `s3://${bucket}/k`, '-'], /^s3c: mv does not read or write "-"/],
        [['cp', '-', '-'], /^s3c: cp cannot copy "-" to "-"/],
        [['cp', '-', join(dir, 'x')], /^s3c: cp with "-" needs s3:\/\/BUCKET\/KEY on the other side/],
        [['cp', `s3://${bucket}/`, '-'], /^s3c: cp with "-" streams one object/],
        [['cp', `s3://${bucket}/*`, '-'], /^s3c: cp with "-" streams one object: .*not a wildcard/],
        [['cp', '-', `s3://${bucket}/k`, '--no-clobber'], /^s3c: --no-clobber does not apply to cp with "-"/],
        [['sync', '-', `s3://${bucket}/`], /^s3c: sync needs a folder or an s3:\/\/ prefix, not "-": .*s3c cp -/],
        [['upload', '-', `s3://${bucket}/`], /^s3c: upload takes a folder and an s3:\/\/ prefix, not "-": .*s3c cp -/],
        [['download', `s3://${bucket}/`, '-'], /^s3c: download takes a folder and an s3:\/\/ prefix, not "-": .*s3c cp s3:\/\/BUCKET\/KEY -/],
      ]
      for (const [args, message] of cases) assert.match(refused(await runCli(args, {input: Buffer.from('x')}), args.join(' ')), message)
      // A line of s3c run calls the verb, which has no standard input of its own to give.
      const lines = join(dir, 'lines.txt')
      writeFileSync(lines, `cp - s3://${bucket}/k\n`)
      const run = await runCli(['run', lines])
      assert.notEqual(run.code, 0, run.stderr)
      assert.match(run.stdout + run.stderr, /only as a command of its own/)
      assert.equal((await getObject(bucket, 'k')).toString(), 'kept')
      assert.equal(existsSync(join(dir, 'x')) || existsSync(join(projectRoot, '-')), false, 'no file named -')
    })
  })
})
