import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {harness, newBucket} from './harness/hooks.js'
import {projectRoot} from './harness/servers.js'

/**
 * Issue 13, "Done means": the packed package (`npm pack`) installs into a scratch project and its
 * API works from plain ESM JavaScript, and its types from TypeScript (`tsc --noEmit`, strict).
 * The API grows (src/api/: readFile, stat, list, copy…): the script reports which of those names
 * the package has and exercises the ones it has.
 */

/** The file-level names of the library API (issue 13); each is exercised when the package exports it. */
const API_NAMES = ['readFile', 'writeFile', 'createReadStream', 'createWriteStream', 'stat', 'exists', 'isDir', 'list', 'glob', 'copy', 'move', 'remove', 'sync', 'openMember', 'listMembers', 'connect']

const USE_MJS = `
import * as s3c from 's3c'
import {upload, download, resolveS3Config, parseS3Url, transferDefaults, S3cError, ExitCode} from 's3c'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

const [bucket, work] = process.argv.slice(2)
const out = {present: {}}
const src = join(work, 'src')
mkdirSync(join(src, 'sub'), {recursive: true})
writeFileSync(join(src, 'a.txt'), 'hello from a plain .mjs file\\n')
writeFileSync(join(src, 'sub', 'b.txt'), 'b\\n')

// Configured as the CLI is: the environment (AWS_ENDPOINT_URL, keys, region) and an options object.
const s3 = await resolveS3Config({}, 8)
const base = {...transferDefaults, s3, force: false, checksum: false, dryRun: false}
const up = await upload({...base, location: parseS3Url('s3://' + bucket + '/lib/'), localFolder: src})
out.upload = {done: up.filesDone, failed: up.filesFailed}
const dst = join(work, 'dst')
const down = await download({...base, location: parseS3Url('s3://' + bucket + '/lib/'), localFolder: dst})
out.download = {done: down.filesDone, failed: down.filesFailed, a: readFileSync(join(dst, 'a.txt'), 'utf8')}
out.errors = {S3cError: typeof S3cError, usage: ExitCode.usage}

const text = b => Buffer.from(b).toString('utf8')
const url = key => 's3://' + bucket + '/' + key
for (const name of ${JSON.stringify(API_NAMES)}) out.present[name] = typeof s3c[name]
if (typeof s3c.writeFile === 'function') {
  await s3c.writeFile(url('api/w.txt'), 'written by writeFile\\n')
  out.writeFile = true
}
if (typeof s3c.readFile === 'function') out.readFile = text(await s3c.readFile(url('lib/a.txt')))
if (typeof s3c.stat === 'function') out.statSize = (await s3c.stat(url('lib/a.txt'))).size
if (typeof s3c.list === 'function') {
  const seen = []
  for await (const entry of s3c.list(url('lib/'), {recursive: true})) seen.push(JSON.stringify(entry))
  out.list = seen.join('\\n')
}
if (typeof s3c.exists === 'function') {
  out.exists = [await s3c.exists(url('lib/a.txt')), await s3c.exists(url('lib/none.txt'))]
  out.missingCode = await s3c.readFile(url('lib/none.txt')).catch(e => e.code)
}
if (typeof s3c.copy === 'function') {
  await s3c.copy(url('lib/a.txt'), url('api/copied.txt'))
  out.copied = true
}
// DeleteObjects, through the AWS SDK's client: its construction is where the SDK would print its Node-version notice.
if (typeof s3c.remove === 'function') out.removed = (await s3c.remove(url('api/w.txt'))).removed
console.log(JSON.stringify(out))
`

const USE_TS = `
import {upload, resolveS3Config, parseS3Url, transferDefaults, stat, writeFile, connect, S3cError, type ErrorCode, type RunSummary, type S3Config, type UploadOptions} from 's3c'

async function main(): Promise<number> {
  const s3: S3Config = await resolveS3Config({'endpoint-url': 'http://127.0.0.1:9000', 'no-sign-request': true, log: 'debug'}, 8)
  const options: UploadOptions = {...transferDefaults, s3, location: parseS3Url('s3://bucket/prefix/'), localFolder: '.', force: false, checksum: false, dryRun: true}
  const summary: RunSummary = await upload(options)
  // @ts-expect-error: a summary's counts are numbers (were the types missing or any, this directive would be the error)
  const wrong: string = summary.filesDone
  // One options shape for every function, exact: a misspelled option in a variable is an error too (issue 23).
  const conn = {endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', pathStyle: true}
  const misspelled = {endpointUrl: 'http://127.0.0.1:9000', region: 'us-east-1'}
  await stat('s3://bucket/key', conn)
  await writeFile('s3://bucket/key', 'x', conn)
  // @ts-expect-error: endpointUrl is not an option (endpoint is)
  await stat('s3://bucket/key', misspelled)
  // @ts-expect-error: the write functions take the same options
  await writeFile('s3://bucket/key', 'x', misspelled)
  // @ts-expect-error: a misspelling written inline
  await stat('s3://bucket/key', {endpont: 'http://127.0.0.1:9000'})
  // @ts-expect-error: connect() takes the same options, exact
  await connect(misspelled)
  const c = await connect(conn)
  // @ts-expect-error: a call on a connection takes its own options, not the connection's
  await c.stat('s3://bucket/key', {endpoint: 'http://127.0.0.1:9001'})
  // @ts-expect-error: nor a misspelled one of its own
  await c.writeFile('s3://bucket/key', 'x', {contentTyp: 'text/plain'})
  const code: ErrorCode | undefined = (await c.exists('s3://bucket/key').catch((e: S3cError) => e.code)) === true ? undefined : 'NotFound'
  await c.close()
  return summary.filesFailed + wrong.length + (code ? 1 : 0)
}
void main
`

describe('the npm package', function () {
  let work: string
  let project: string
  let bucket: string
  before(async function () {
    this.timeout(180_000)
    work = mkdtempSync(join(tmpdir(), 's3c-package-'))
    project = join(work, 'project')
    mkdirSync(project)
    bucket = await newBucket('package')
    // dist/ is fresh (npm test builds it first): pack without running prepare again.
    execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], {cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit']})
    const tarball = readdirSync(work).find(f => f.endsWith('.tgz'))
    assert.ok(tarball, 'npm pack wrote a tarball')
    writeFileSync(join(project, 'package.json'), JSON.stringify({name: 's3c-scratch', private: true, type: 'module'}))
    // The npm cache has every dependency (this project installed them); the registry only when it does not.
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel', 'error', join(work, tarball)],
      {cwd: project, stdio: ['ignore', 'pipe', 'inherit']})
  })
  after(() => { if (work) rmSync(work, {recursive: true, force: true}) })

  it('installs with its command, declarations and the files it needs (no tests, no sources of tests)', function () {
    const pkg = join(project, 'node_modules', 's3c')
    const files = readdirSync(pkg, {recursive: true}).map(String)
    for (const f of ['bin/run.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'oclif.manifest.json', 'README.md'])
      assert.ok(files.includes(f), f)
    assert.deepEqual(files.filter(f => f.startsWith('dist/test') || f.startsWith('test')), [])
    const version = execFileSync(join(project, 'node_modules', '.bin', 's3c'), ['--version'], {encoding: 'utf8'})
    assert.match(version, /^s3c\/\d+\.\d+\.\d+ /)
  })

  it('plain ESM JavaScript imports s3c and moves files with it against the S3 server', function () {
    const {s3} = harness()
    writeFileSync(join(project, 'use.mjs'), USE_MJS)
    const env: NodeJS.ProcessEnv = {
      ...process.env, AWS_ENDPOINT_URL: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region,
    }
    // Nothing that would hide a notice of the AWS SDK: the package must not print one into the program (issue 23).
    for (const k of ['AWS_PROFILE', 'AWS_ENDPOINT_URL_S3', 'S3_ENDPOINT_URL', 'AWS_SESSION_TOKEN', 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'NODE_NO_WARNINGS']) delete env[k]
    const run = spawnSync(process.execPath, ['use.mjs', bucket, join(work, 'run')], {cwd: project, encoding: 'utf8', env})
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stderr, '', 'the program\'s stderr holds nothing of the library\'s')
    const stdout = run.stdout
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown> & {present: Record<string, string>}
    assert.deepEqual(out.upload, {done: 2, failed: 0})
    assert.deepEqual(out.download, {done: 2, failed: 0, a: 'hello from a plain .mjs file\n'})
    assert.deepEqual(out.errors, {S3cError: 'function', usage: 2})
    for (const name of API_NAMES) assert.ok(['function', 'undefined'].includes(out.present[name]), `${name} is ${out.present[name]}`)
    const has = (name: string) => out.present[name] === 'function'
    if (has('writeFile')) assert.equal(out.writeFile, true)
    if (has('readFile')) assert.equal(out.readFile, 'hello from a plain .mjs file\n')
    if (has('stat')) assert.equal(out.statSize, 'hello from a plain .mjs file\n'.length)
    if (has('list')) assert.match(String(out.list), /sub\/b\.txt/)
    if (has('copy')) assert.equal(out.copied, true)
    if (has('remove') && has('writeFile')) assert.equal(out.removed, 1)
    if (has('exists')) assert.deepEqual([out.exists, out.missingCode], [[true, false], 'NotFound'])
  })

  it('TypeScript type-checks a file using the declarations (tsc --noEmit, strict), and the README\'s library examples as written', function () {
    writeFileSync(join(project, 'use.ts'), USE_TS)
    const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8')
    const library = readme.slice(readme.indexOf('\n## Library\n'), readme.indexOf('\n## ', readme.indexOf('\n## Library\n') + 1))
    const examples = [...library.matchAll(/```ts\n([\s\S]*?)```/g)].map(m => m[1])
    assert.ok(examples.length > 0, 'the README\'s Library section has TypeScript examples')
    examples.forEach((code, i) => writeFileSync(join(project, `readme-${i}.ts`), code))
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true,
        // Node's own types from this project (a consumer has @types/node of its own).
        typeRoots: [join(projectRoot, 'node_modules', '@types')], types: ['node'],
      },
      files: ['use.ts', ...examples.map((_, i) => `readme-${i}.ts`)],
    }))
    const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc')
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], {cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
    } catch (error) {
      assert.fail(`tsc --noEmit failed:\n${(error as {stdout?: string}).stdout}`)
    }
  })
})
