import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli, type CliResult} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {startProxy, type Proxy} from './harness/proxy.js'
import {compareTrees, makeTree, seededBytes} from './harness/tree.js'
import {projectRoot} from './harness/servers.js'
import {resolveS3Config} from '../src/s3/config.js'

/**
 * Issue 13, "Global": --no-sign-request, --request-payer and --log on every S3 command, applied
 * by both request paths (the SDK client: listings, multipart; the fast path: small GET/PUT/HEAD);
 * unknown commands and flags in one line with the nearest valid ones; help, version, completion.
 */

const MiB = 1024 * 1024
const dirs: string[] = []
after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
function mk(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `s3c-globals-${name}-`))
  dirs.push(d)
  return d
}

/** A tree that takes both request paths: small files (fast path PUT/GET) and a multipart file (SDK). */
function makeSource(): string {
  const src = mk('src')
  makeTree(src, {files: 6, depth: 2})
  mkdirSync(join(src, 'big'), {recursive: true})
  writeFileSync(join(src, 'big', 'six.bin'), seededBytes(6, 6 * MiB))
  return src
}
const multipart = ['--multipart-threshold', '5MiB', '--part-size', '5MiB']

/** What a run sent: requests of the SDK path (listing, multipart) and of the fast path (small objects) are all there. */
function assertBothPaths(proxy: Proxy): void {
  assert.ok(proxy.count('GET', r => r.query.includes('list-type=2')) >= 1, 'a listing (SDK)')
  assert.ok(proxy.count('POST', r => r.query.includes('uploads')) >= 1, 'a multipart upload (SDK)')
  assert.ok(proxy.count('PUT', r => !r.query.includes('partNumber')) >= 6, 'small PUTs (fast path)')
  assert.ok(proxy.count('GET', r => r.query === '' && !r.path.endsWith('six.bin')) >= 6, 'small GETs (fast path)')
}

/** Upload then download of the source through the proxy with the given flags. */
async function roundTrip(proxy: Proxy, url: string, src: string, flags: string[], env: Record<string, string | undefined> = {}): Promise<{up: CliResult; down: CliResult; dst: string}> {
  const e = {AWS_ENDPOINT_URL: proxy.endpoint, ...env}
  const up = await runCli(['upload', src, url, ...multipart, ...flags], {env: e})
  const dst = mk('dst')
  const down = await runCli(['download', url, dst, ...flags], {env: e})
  return {up, down, dst}
}

describe('global S3 flags', function () {
  let src: string
  let bucket: string
  before(async function () {
    src = makeSource()
    bucket = await newBucket('globals')
  })

  it('every S3 command takes --no-sign-request, --request-payer and --log (one declaration, cli/flags.ts)', function () {
    const manifest = JSON.parse(readFileSync(join(projectRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
    const s3Commands = Object.entries(manifest.commands).filter(([, c]) => 'endpoint-url' in c.flags)
    assert.ok(s3Commands.length >= 10)
    for (const [id, c] of s3Commands)
      for (const flag of ['no-sign-request', 'request-payer', 'log']) assert.ok(flag in c.flags, `${id} --${flag}`)
  })

  it('--no-sign-request: no credentials needed, and no request on either path carries Authorization or X-Amz-Security-Token', async function () {
    const home = mk('anon-home')
    // No keys anywhere (a session token alone must not be sent either); no instance metadata lookups.
    const env = {
      HOME: home, AWS_CONFIG_FILE: join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: 'not-to-be-sent', AWS_EC2_METADATA_DISABLED: 'true',
    }
    const proxy = await startProxy(harness().s3.endpoint)
    try {
      const signed = await runCli(['upload', src, `s3://${bucket}/anon-refused`], {env: {...env, AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(signed.code, 3, signed.stderr)
      assert.match(signed.stderr, /no AWS credentials/)
      proxy.reset()

      const {up, down, dst} = await roundTrip(proxy, `s3://${bucket}/anon`, src, ['--no-sign-request'], env)
      if (harness().s3.local) {
        // fauxqs serves anyone; a real server refuses anonymous writes to a private bucket (exit 3), but sees the same unsigned requests.
        assert.equal(up.code, 0, up.stderr)
        assert.equal(down.code, 0, down.stderr)
        assert.deepEqual(compareTrees(src, dst), [])
        assertBothPaths(proxy)
      } else {
        assert.ok(up.code === 0 || up.code === 3, up.stderr)
      }
      assert.ok(proxy.requests.length > 0)
      for (const r of proxy.requests) {
        assert.equal(r.headers.authorization, undefined, `${r.method} ${r.path}?${r.query} is signed`)
        assert.equal(r.headers['x-amz-security-token'], undefined, `${r.method} ${r.path}?${r.query} carries a token`)
      }
    } finally {
      await proxy.stop()
    }
  })

  it('--request-payer requester: every request on both paths carries x-amz-request-payer: requester, signed', async function () {
    const {s3} = harness()
    // On fauxqs the proxy checks the signatures itself (fauxqs does not); a real server checks its own.
    const proxy = await startProxy(s3.endpoint, s3.local ? {auth: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region}} : {})
    try {
      const {up, down, dst} = await roundTrip(proxy, `s3://${bucket}/payer`, src, ['--request-payer', 'requester'])
      assert.equal(up.code, 0, up.stderr)
      assert.equal(down.code, 0, down.stderr)
      assert.deepEqual(compareTrees(src, dst), [])
      assertBothPaths(proxy)
      for (const r of proxy.requests) {
        assert.equal(r.headers['x-amz-request-payer'], 'requester', `${r.method} ${r.path}?${r.query}`)
        assert.match(String(r.headers.authorization), /SignedHeaders=[^,]*x-amz-request-payer/, `${r.method} ${r.path}?${r.query}`)
      }
      proxy.reset()
      const bad = await runCli(['upload', src, `s3://${bucket}/t`, '--request-payer', 'owner'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /^s3c upload: Expected --request-payer=owner to be one of: requester; see s3c upload --help\n$/)
      assert.equal(proxy.requests.length, 0)
    } finally {
      await proxy.stop()
    }
  })

  it('--log debug: one line per request as it goes (method, URL, status, ms), and no secret ever', async function () {
    const {s3} = harness()
    const token = 's3c-session-token-that-must-not-be-printed'
    const proxy = await startProxy(s3.endpoint)
    try {
      const line = /^s3c: request: (GET|PUT|POST|HEAD|DELETE) http:\/\/127\.0\.0\.1:\d+\/\S+ \d{3} \d+ ms$/
      const env = s3.local ? {AWS_SESSION_TOKEN: token} : {}
      const e = {AWS_ENDPOINT_URL: proxy.endpoint, ...env}
      const up = await runCli(['upload', src, `s3://${bucket}/log`, ...multipart, '--log', 'debug', '-q'], {env: e})
      assert.equal(up.code, 0, up.stderr)
      const upLines = up.stderr.split('\n').filter(Boolean)
      assert.equal(upLines.length, proxy.requests.length, up.stderr)
      for (const l of upLines) assert.match(l, line)
      // Each request the server saw is a line: same method, path and status.
      const seen = proxy.requests.map(r => `${r.method} ${r.path} ${r.status}`).sort()
      const logged = upLines.map(l => {
        const [, method, url, status] = /^s3c: request: (\S+) (\S+) (\d+) /.exec(l)!
        return `${method} ${decodeURIComponent(new URL(url).pathname)} ${status}`
      }).sort()
      assert.deepEqual(logged, seen)
      assert.ok(upLines.some(l => / PUT .* 200 /.test(l)) && upLines.some(l => / POST \S*\?uploads\b/.test(l)))
      const signatures = proxy.requests.map(r => /Signature=([0-9a-f]+)/.exec(String(r.headers.authorization))?.[1]).filter((s): s is string => !!s)
      assert.ok(signatures.length > 0)

      proxy.reset()
      const dst = mk('log-dst')
      const down = await runCli(['download', `s3://${bucket}/log`, dst, '--log', 'debug'], {env: e})
      assert.equal(down.code, 0, down.stderr)
      assert.equal(down.stderr.split('\n').filter(l => line.test(l)).length, proxy.requests.length)
      for (const r of proxy.requests) signatures.push(/Signature=([0-9a-f]+)/.exec(String(r.headers.authorization))![1])

      for (const out of [up.stderr, down.stderr, down.stdout]) {
        assert.ok(!out.includes(s3.secretAccessKey), 'the secret key')
        assert.ok(!out.includes(token), 'the session token')
        assert.doesNotMatch(out, /authorization|signature|credential|x-amz-security-token/i)
        for (const sig of signatures) assert.ok(!out.includes(sig), 'a signature')
      }
    } finally {
      await proxy.stop()
    }
  })

  it('--log info: only the requests that failed; --log error: no warnings', async function () {
    const proxy = await startProxy(harness().s3.endpoint, {alwaysFail: p => p.endsWith('/flaky.txt')})
    try {
      const dir = mk('flaky')
      writeFileSync(join(dir, 'flaky.txt'), 'x\n')
      writeFileSync(join(dir, 'fine.txt'), 'y\n')
      const r = await runCli(['upload', dir, `s3://${bucket}/info`, '--max-retry', '1', '--log', 'info', '-q'], {env: {AWS_ENDPOINT_URL: proxy.endpoint}})
      assert.equal(r.code, 1, r.stderr)
      const lines = r.stderr.split('\n').filter(l => l.startsWith('s3c: request'))
      assert.equal(lines.length, 2, r.stderr)
      for (const l of lines) assert.match(l, /^s3c: request failed: PUT http:\/\/127\.0\.0\.1:\d+\/\S+\/info\/flaky\.txt 500 \d+ ms$/)
    } finally {
      await proxy.stop()
    }
    // The one warning of the endpoint resolution, with and without --log error.
    const warnings: string[] = []
    const flags = {'endpoint-url': 'http://127.0.0.1:9', 'path-style': false}
    const env = {HOME: mk('warn-home')}
    await resolveS3Config(flags, 8, env, w => warnings.push(w))
    assert.equal(warnings.length, 1)
    const quiet = await resolveS3Config({...flags, log: 'error'}, 8, env, w => warnings.push(w))
    assert.equal(warnings.length, 1)
    assert.equal(quiet.logLevel, 'error')
    await assert.rejects(resolveS3Config({log: 'loud'}, 8, env), /--log "loud" is not one of error, warn, info, debug/)
  })
})

describe('unknown commands and flags; help, version, completion', function () {
  const oneLine = (r: CliResult) => {
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^[^\n]+\n$/, 'one line')
    return r.stderr.trimEnd()
  }
  const manifest = () => Object.keys((JSON.parse(readFileSync(join(projectRoot, 'oclif.manifest.json'), 'utf8')) as {commands: object}).commands)

  it('an unknown command is one line naming it and the nearest commands, exit 2 (no "lss:s3://b/")', async function () {
    assert.equal(oneLine(await runCli(['uplod', 's3://b/x'])), 's3c: unknown command "uplod" (did you mean upload?); see s3c help')
    const lss = oneLine(await runCli(['lss', 's3://b/']))
    assert.match(lss, /^s3c: unknown command "lss"( \(did you mean [^)]+\?\))?; see s3c help$/)
    if (manifest().includes('ls')) assert.match(lss, /did you mean ls\b/)
    assert.equal(oneLine(await runCli(['down', 'x'])), 's3c: unknown command "down" (did you mean download, download-all or download-single?); see s3c help')
    assert.equal(oneLine(await runCli(['tar', 'craete', 'x'])), 's3c: unknown command "tar craete" (did you mean tar create?); see s3c help tar')
    assert.equal(oneLine(await runCli(['tar', 's3://b/x.tar'])), 's3c: "tar" needs a command before "s3://b/x.tar": tar create, tar extract or tar list; see s3c help tar')
    assert.match(oneLine(await runCli(['s3://b/'])), /^s3c: "s3:\/\/b\/" is not a command: give the command first/)
    assert.equal(oneLine(await runCli(['xyzzyplugh'])), 's3c: unknown command "xyzzyplugh"; see s3c help')
    const json = await runCli(['uplod', '--json'])
    assert.equal(json.code, 2)
    assert.deepEqual(JSON.parse(json.stdout), {error: 'unknown command "uplod" (did you mean upload?); see s3c help', code: 'InvalidArgument', exitCode: 2})
  })

  it('s3c help with an unknown command is the same one line, exit 2 (not oclif\'s "Command lss not found")', async function () {
    const lss = oneLine(await runCli(['help', 'lss']))
    assert.match(lss, /^s3c: unknown command "lss"( \(did you mean [^)]+\?\))?; see s3c help$/)
    if (manifest().includes('ls')) assert.match(lss, /did you mean ls\b/)
    assert.equal(oneLine(await runCli(['help', 'uplod'])), 's3c: unknown command "uplod" (did you mean upload?); see s3c help')
    assert.equal(oneLine(await runCli(['help', 'tar', 'craete'])), 's3c: unknown command "tar craete" (did you mean tar create?); see s3c help tar')
    assert.equal(oneLine(await runCli(['help', 'xyzzyplugh'])), 's3c: unknown command "xyzzyplugh"; see s3c help')
    const topic = await runCli(['help', 'tar'])
    assert.equal(topic.code, 0, topic.stderr)
    assert.match(topic.stdout, /tar create/)
  })

  it('an unknown flag is one line with the nearest flags, exit 2, without the usage', async function () {
    assert.equal(oneLine(await runCli(['upload', '--fooo'])), 's3c upload: unknown flag --fooo (did you mean --force?)')
    assert.equal(oneLine(await runCli(['download', 's3://b/x', '--dryrun', '--thred-count=3'])),
      's3c download: unknown flags --dryrun (did you mean --dry-run?), --thred-count (did you mean --thread-count?)')
    assert.equal(oneLine(await runCli(['upload', '--no-sign'])), 's3c upload: unknown flag --no-sign (did you mean --no-sign-request?)')
    assert.equal(oneLine(await runCli(['upload', '--xyzzyplugh'])), 's3c upload: unknown flag --xyzzyplugh; see s3c upload --help')
    assert.equal(oneLine(await runCli(['list-files', 'a', 'b', 'c'])), 's3c list-files: Unexpected argument: c; see s3c list-files --help')
    assert.equal(oneLine(await runCli(['upload', '--log', 'loud'])), 's3c upload: Expected --log=loud to be one of: error, warn, info, debug; see s3c upload --help')
    assert.equal(oneLine(await runCli(['--verzion'])), 's3c: unknown flag --verzion (did you mean --version?); see s3c help')
  })

  it('s3c help, s3c help upload and s3c version', async function () {
    const help = await runCli(['help'])
    assert.equal(help.code, 0, help.stderr)
    for (const c of ['upload', 'download', 'list-files', 'tar', 'version', 'autocomplete']) assert.match(help.stdout, new RegExp(`^  ${c}\\s`, 'm'), c)
    const upload = await runCli(['help', 'upload'])
    assert.equal(upload.code, 0, upload.stderr)
    assert.match(upload.stdout, /\$ s3c upload /)
    for (const flag of ['--no-sign-request', '--request-payer', '--log']) assert.ok(upload.stdout.includes(flag), flag)
    const version = await runCli(['version'])
    const flag = await runCli(['--version'])
    assert.equal(version.code, 0)
    assert.equal(version.stdout, flag.stdout)
    assert.match(version.stdout, /^s3c\/\d+\.\d+\.\d+ /)
  })

  it('s3c autocomplete bash prints the setup, and the bash completion it installs completes commands and flags', async function () {
    const home = mk('completion')
    const env = {HOME: home, XDG_CACHE_HOME: join(home, '.cache'), SHELL: '/bin/bash'}
    const setup = await runCli(['autocomplete', 'bash'], {env})
    assert.equal(setup.code, 0, setup.stderr)
    assert.match(setup.stdout, /s3c autocomplete script bash/)
    const script = await runCli(['autocomplete', 'script', 'bash'], {env})
    assert.equal(script.code, 0, script.stderr)
    const complete = (...words: string[]) => execFileSync('bash', ['-c', [
      script.stdout,
      `COMP_WORDS=(${words.map(w => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMP_LINE='${words.join(' ')}'`,
      '_s3c_autocomplete; echo "${COMPREPLY[*]}"',
    ].join('\n')], {env: {...process.env, ...env}, encoding: 'utf8'}).trim()
    assert.equal(complete('s3c', 'upl'), 'upload')
    assert.equal(complete('s3c', 'upload', '--no-s'), '--no-sign-request')
    assert.equal(complete('s3c', 'tar', ''), 'create extract list')
  })
})
