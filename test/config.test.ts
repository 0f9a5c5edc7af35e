import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {request as httpRequest} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {appendFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {putObject} from './harness/objects.js'
import {startProxy, type Proxy} from './harness/proxy.js'
import {compareTrees, makeTree} from './harness/tree.js'
import {awscliTool, findTool} from './harness/tools.js'
import {scratchDirs} from './harness/scratch.js'



/**
 * Issue 11, items 3 and 7: the endpoint, region and profile come from one resolution (flags,
 * environment, then the AWS config files as `aws configure set` and the seed how-to write them)
 * and every request path (SDK and fast path) uses it.
 */

const mk = scratchDirs()

/** The real AWS CLI writes the file, in a scratch HOME. */
function awsConfigureSet(home: string, ...args: string[]): void {
  const env: NodeJS.ProcessEnv = {...process.env, HOME: home}
  for (const k of ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_PROFILE']) delete env[k]
  execFileSync(findTool(awscliTool), ['configure', 'set', ...args], {env, stdio: ['ignore', 'ignore', 'inherit']})
}

describe('connecting: endpoints from the AWS config files reach every request path', function () {
  let proxy: Proxy
  let bucket: string
  let src: string
  let files: number
  let seq = 0
  before(async function () {
    const {s3} = harness()
    // The proxy checks signatures too: keys and region must come from the chosen profile on both paths.
    proxy = await startProxy(s3.endpoint, {auth: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region}})
    bucket = await newBucket('cfg')
    src = mk('cfgsrc')
    files = makeTree(src, {files: 12, depth: 2}).length
  })
  after(async () => { await proxy?.stop() })

  /** Nothing about S3 in the environment: all of it must come from the files in HOME. */
  function fileEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      HOME: home, AWS_CONFIG_FILE: undefined, AWS_SHARED_CREDENTIALS_FILE: undefined, AWS_ENDPOINT_URL: undefined,
      AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined,
      AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_EC2_METADATA_DISABLED: 'true', ...extra,
    }
  }

  /** A home whose [default] profile is wrong in every way (refused endpoint, unknown keys, wrong region). */
  function homeWithWrongDefault(): string {
    const home = mk('home')
    awsConfigureSet(home, 'default.endpoint_url', 'http://127.0.0.1:9')
    awsConfigureSet(home, 'default.region', 'eu-north-1')
    awsConfigureSet(home, 'aws_access_key_id', 'NOSUCHKEY')
    awsConfigureSet(home, 'aws_secret_access_key', 'nosuchsecret')
    return home
  }

  function keysFor(home: string, profile: string): void {
    const {s3} = harness()
    awsConfigureSet(home, 'aws_access_key_id', s3.accessKeyId, '--profile', profile)
    awsConfigureSet(home, 'aws_secret_access_key', s3.secretAccessKey, '--profile', profile)
    awsConfigureSet(home, 'region', s3.region, '--profile', profile)
  }

  async function roundTrip(env: Record<string, string | undefined>, args: string[] = []): Promise<void> {
    const prefix = `t${seq++}`
    proxy.reset()
    const up = await runCli(['upload', src, `s3://${bucket}/${prefix}`, '--max-retry', '0', ...args], {env})
    assert.equal(up.code, 0, up.stderr)
    assert.equal(proxy.count('PUT'), files, 'every PUT went through the configured endpoint')
    assert.ok(proxy.requests.every(r => r.status !== undefined && r.status < 300), 'every request passed the signature check')
    proxy.reset()
    const dst = mk('cfgdst')
    const down = await runCli(['download', `s3://${bucket}/${prefix}`, dst, '--max-retry', '0', ...args], {env})
    assert.equal(down.code, 0, down.stderr)
    assert.equal(proxy.count('GET', r => !r.query.includes('list-type')), files, 'every GET went through the configured endpoint')
    assert.ok(proxy.count('GET', r => r.query.includes('list-type')) >= 1)
    assert.deepEqual(compareTrees(src, dst), [])
  }

  /** The same result whether the profile is chosen by --profile or by AWS_PROFILE. */
  async function bothWays(home: string, profile: string): Promise<void> {
    await roundTrip(fileEnv(home), ['--profile', profile])
    await roundTrip(fileEnv(home, {AWS_PROFILE: profile}))
  }

  it('[default] endpoint_url (aws configure set default.endpoint_url)', async function () {
    const home = mk('home')
    keysFor(home, 'default')
    awsConfigureSet(home, 'default.endpoint_url', proxy.endpoint)
    await roundTrip(fileEnv(home))
  })

  it('[profile x] endpoint_url, by --profile x and by AWS_PROFILE=x', async function () {
    const home = homeWithWrongDefault()
    keysFor(home, 'x')
    awsConfigureSet(home, 'profile.x.endpoint_url', proxy.endpoint)
    await bothWays(home, 'x')
  })

  it('[services s3-local] with services = s3-local in the profile, by --profile and AWS_PROFILE', async function () {
    const home = homeWithWrongDefault()
    keysFor(home, 'x')
    awsConfigureSet(home, 'profile.x.services', 's3-local')
    // awscli 2.9 cannot write a services section (`configure set services.…` lands in [default]): by hand.
    appendFileSync(join(home, '.aws', 'config'), `[services s3-local]\ns3 =\n  endpoint_url = ${proxy.endpoint}\n`)
    await bothWays(home, 'x')
  })

  it('nested s3 = / endpoint_url in ~/.aws/config (aws configure set default.s3.endpoint_url), [default] and [profile x]', async function () {
    const home = mk('home')
    keysFor(home, 'default')
    awsConfigureSet(home, 'default.s3.endpoint_url', proxy.endpoint)
    await roundTrip(fileEnv(home))
    const other = homeWithWrongDefault()
    keysFor(other, 'x')
    awsConfigureSet(other, 'profile.x.s3.endpoint_url', proxy.endpoint)
    await bothWays(other, 'x')
  })

  it('nested s3= / endpoint_url in ~/.aws/credentials, as the seed how-to writes it', async function () {
    const {s3} = harness()
    const profile = (name: string) => `[${name}]\nregion=${s3.region}\naws_access_key_id=${s3.accessKeyId}\naws_secret_access_key=${s3.secretAccessKey}\n` +
      `s3=\n endpoint_url=${proxy.endpoint}\ns3api=\n endpoint_url=${proxy.endpoint}\n payload_signing_enabled=true\n`
    const home = mk('home')
    mkdirSync(join(home, '.aws'))
    writeFileSync(join(home, '.aws', 'credentials'), profile('default'))
    await roundTrip(fileEnv(home))
    const other = homeWithWrongDefault()
    appendFileSync(join(other, '.aws', 'credentials'), profile('x'))
    await bothWays(other, 'x')
  })

  it('a profile that does not exist: exit 2 naming it, nothing sent', async function () {
    const home = homeWithWrongDefault()
    proxy.reset()
    for (const how of [{args: ['--profile', 'nosuch'], env: {}}, {args: [], env: {AWS_PROFILE: 'nosuch'}}]) {
      const r = await runCli(['upload', src, `s3://${bucket}/never`, '--endpoint-url', proxy.endpoint, ...how.args], {env: fileEnv(home, how.env)})
      assert.equal(r.code, 2, r.stderr)
      assert.equal(r.stderr, `s3c: AWS profile "nosuch" not found in ${join(home, '.aws', 'config')} or ${join(home, '.aws', 'credentials')}: check --profile / AWS_PROFILE\n`)
    }
    assert.equal(proxy.count(), 0)
  })

  it('a profile without credentials: exit 3, the message names the profile', async function () {
    const home = mk('home')
    awsConfigureSet(home, 'profile.x.endpoint_url', proxy.endpoint)
    const r = await runCli(['upload', src, `s3://${bucket}/never`, '--profile', 'x'], {env: fileEnv(home)})
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, /^s3c: no AWS credentials for profile "x" \(looked in .*\.aws\/credentials and .*\.aws\/config\): [^\n]+\n$/)
  })

  it('--no-path-style with a 127.0.0.1 endpoint: one warning, path-style used, the files arrive', async function () {
    proxy.reset()
    const prefix = `nps${seq++}`
    const r = await runCli(['upload', src, `s3://${bucket}/${prefix}`, '--endpoint-url', proxy.endpoint, '--no-path-style', '--max-retry', '0'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stderr.split('\n').filter(l => /path-style/.test(l)),
      [`s3c: warning: --no-path-style is ignored: virtual-hosted addressing (bucket.host) cannot work with ${proxy.endpoint} (an IP address or localhost); using path-style`])
    assert.equal(proxy.count('PUT', p => p.path.startsWith(`/${bucket}/${prefix}/`)), files)
  })
})

describe('messages (issue 11 item 7)', function () {
  it('download-single of a FIFO in a tar: "is a FIFO", not "is a other entry"', async function () {
    const dir = mk('fifo')
    execFileSync('mkfifo', [join(dir, 'pipe')])
    writeFileSync(join(dir, 'plain.txt'), 'x\n')
    const tarPath = join(mk('fifotar'), 'f.tar')
    execFileSync('tar', ['-cf', tarPath, '-C', dir, 'pipe', 'plain.txt'])
    const bucket = await newBucket('fifo')
    await putObject(bucket, 'f.tar', readFileSync(tarPath))
    const env = {S3C_CACHE_DIR: mk('cache')}
    assert.equal((await runCli(['index', `s3://${bucket}/f.tar`], {env})).code, 0)
    const r = await runCli(['download-single', `s3://${bucket}/f.tar`, 'pipe', '--out', join(mk('out'), 'pipe')], {env})
    assert.equal(r.code, 2, r.stderr)
    // The index knows the tar type: the line names it exactly (no "a other entry").
    assert.equal(r.stderr, 's3c: "pipe" is a FIFO, not a file: nothing to download\n')
  })
})

describe('connecting: https endpoints and AWS_CA_BUNDLE', function () {
  it('a self-signed endpoint is trusted through AWS_CA_BUNDLE (or the profile\'s ca_bundle); an unreadable bundle is one line, exit 2', async function () {
    const dir = mk('ca')
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {encoding: 'utf8'})
    assert.equal(gen.status, 0, gen.stderr)
    // TLS in front of the test server: every request of both paths (SDK and fast path) goes through it.
    const target = new URL(harness().s3.endpoint)
    let requests = 0
    const server = createHttpsServer({key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem'))}, (req, res) => {
      requests++
      const up = httpRequest({host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers}, r => {
        res.writeHead(r.statusCode ?? 502, r.headers)
        r.pipe(res)
      })
      up.on('error', () => res.destroy())
      req.pipe(up)
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const endpoint = `https://127.0.0.1:${(server.address() as {port: number}).port}`
    try {
      const bucket = await newBucket('ca')
      const src = mk('casrc')
      makeTree(src, {files: 20, depth: 2})
      const home = mk('cahome')
      const base = {AWS_ENDPOINT_URL: endpoint, HOME: home, AWS_CONFIG_FILE: undefined, AWS_SHARED_CREDENTIALS_FILE: undefined}
      const withEnv = await runCli(['upload', src, `s3://${bucket}/env`, '--json'], {env: {...base, AWS_CA_BUNDLE: join(dir, 'cert.pem')}})
      assert.equal(withEnv.code, 0, withEnv.stderr)
      assert.equal(JSON.parse(withEnv.stdout).filesDone, 20)
      mkdirSync(join(home, '.aws'))
      writeFileSync(join(home, '.aws', 'config'), `[default]\nca_bundle = ${join(dir, 'cert.pem')}\n`)
      const dest = mk('cadest')
      const fromProfile = await runCli(['download', `s3://${bucket}/env`, dest], {env: {...base, AWS_CA_BUNDLE: undefined}})
      assert.equal(fromProfile.code, 0, fromProfile.stderr)
      assert.deepEqual(compareTrees(src, dest), [])
      assert.ok(requests >= 40, `every request went through TLS (${requests})`)
      const missing = await runCli(['upload', src, `s3://${bucket}/x`], {env: {...base, AWS_CA_BUNDLE: join(dir, 'nope.pem')}})
      assert.equal(missing.code, 2, missing.stderr)
      assert.equal(missing.stderr, `s3c: the CA bundle "${join(dir, 'nope.pem')}" (AWS_CA_BUNDLE or ca_bundle) cannot be read (ENOENT): give a PEM file of trusted certificates\n`)
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })
})
