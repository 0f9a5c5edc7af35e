import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, rmSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {cliEnv, runCli} from './harness/cli.js'
import {harness} from './harness/hooks.js'
import {scratchDirs} from './harness/scratch.js'
import {projectRoot} from './harness/servers.js'

/**
 * Issue 23, "Done means": the README's commands are run as written. Every ```sh block of
 * README.md runs here, in order, with bash -euo pipefail, in one scratch folder, with `s3c` on
 * the PATH (a link to bin/run.js) and the harness's S3 server in the environment the README's
 * "Connecting" tells the user to set (AWS_ENDPOINT_URL and keys); each must exit 0.
 *
 * A block's README comment (the line above its fence) may say how it runs:
 * - `<!-- run in the clone -->`: in the project folder (npm run local, npm pack). npm installs
 *   globally into a scratch prefix, from the npm cache (the suite installed every dependency), and
 *   runs no scripts: `npm pack`'s prepare would build the dist/ that `npm test` has just built.
 * - `<!-- run with redis://127.0.0.1:6379 pointed at the test's own Redis -->`: that address is
 *   replaced by the harness's Redis (free port), the one change made to any command.
 * - `<!-- not run: REASON -->`: skipped, and kept few (MAX_NOT_RUN): a clone from the repository's
 *   address, the user's own server and keys, a dashboard that serves until stopped, Docker, and
 *   the test suite itself.
 */

const MAX_NOT_RUN = 5
const LOCAL_REDIS = 'redis://127.0.0.1:6379'
/** The buckets the README's examples make (they are the user's names, so a run starts and ends without them). */
const BUCKETS = ['my-bucket', 'scratch-bucket']

interface Block {line: number; code: string; note: string}

function readmeBlocks(): Block[] {
  const lines = readFileSync(join(projectRoot, 'README.md'), 'utf8').split('\n')
  const out: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue
    const end = lines.indexOf('```', i + 1)
    assert.ok(end > i, `README.md line ${i + 1}: a sh block that does not end`)
    const note = /^<!-- (.*) -->$/.exec(lines[i - 1] ?? '')?.[1] ?? ''
    out.push({line: i + 1, code: lines.slice(i + 1, end).join('\n') + '\n', note})
    i = end
  }
  return out
}

function bash(code: string, cwd: string, env: NodeJS.ProcessEnv, ms: number): Promise<{code: number | null; output: string}> {
  return new Promise((resolve, reject) => {
    // Its own process group: a block's background processes (a worker) go with it.
    const child = spawn('bash', ['-euo', 'pipefail', '-c', code], {cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d })
    child.stderr.on('data', (d: Buffer) => { output += d })
    const killGroup = () => { try { process.kill(-child.pid!, 'SIGKILL') } catch { /* gone */ } }
    const timer = setTimeout(() => { output += `\n(killed after ${ms} ms)`; killGroup() }, ms)
    child.on('error', reject)
    child.on('close', code => { clearTimeout(timer); killGroup(); resolve({code, output}) })
  })
}

async function removeBuckets(): Promise<void> {
  for (const b of BUCKETS) await runCli(['rb', `s3://${b}`, '--force', '-q'])
}

describe('the README, run as written', function () {
  const blocks = readmeBlocks()
  const scratch = scratchDirs()
  let work: string
  let env: NodeJS.ProcessEnv
  let cloneEnv: NodeJS.ProcessEnv
  let npmPrefix: string

  before(async function () {
    this.timeout(120_000)
    work = scratch('readme')
    const bin = scratch('readme-bin')
    symlinkSync(join(projectRoot, 'bin', 'run.js'), join(bin, 's3c'))
    npmPrefix = scratch('readme-npm-global')
    env = {...cliEnv(), PATH: `${bin}:${process.env.PATH}`}
    // The global install goes to a scratch prefix, first on the PATH, so `s3c --version` after it is the installed one.
    cloneEnv = {
      ...env, PATH: `${join(npmPrefix, 'bin')}:${env.PATH}`, npm_config_prefix: npmPrefix, npm_config_prefer_offline: 'true',
      npm_config_ignore_scripts: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_loglevel: 'error',
    }
    mkdirSync(work, {recursive: true})
    await removeBuckets()
  })
  after(async function () {
    this.timeout(120_000)
    rmSync(join(projectRoot, 's3c-0.1.0.tgz'), {force: true})
    await removeBuckets()
  })

  it('marks the few blocks it cannot run, each with its reason', function () {
    assert.ok(blocks.length >= 10, `README.md has ${blocks.length} sh blocks`)
    const known = /^(not run: .+|run in the clone|run with redis:\/\/127\.0\.0\.1:6379 pointed at the test's own Redis)$/
    for (const b of blocks) if (b.note) assert.match(b.note, known, `README.md line ${b.line - 1}: a comment this test does not know`)
    const notRun = blocks.filter(b => b.note.startsWith('not run:'))
    assert.ok(notRun.length <= MAX_NOT_RUN, `${notRun.length} blocks not run: ${notRun.map(b => `line ${b.line} (${b.note})`).join(', ')}`)
  })

  it('gives as its test command exactly what CI (.ci/run) runs', function () {
    const testing = blocks.filter(b => b.note === 'not run: this is the test suite itself')
    assert.deepEqual(testing.map(b => b.code), ['npm install-test\n'])
    const ci = readFileSync(join(projectRoot, '.ci', 'run'), 'utf8')
    assert.match(ci, /^npm install-test 2>&1 \| tee /m)
  })

  for (const block of blocks) {
    if (block.note.startsWith('not run:')) continue
    const first = block.code.split('\n').find(l => l.trim() && !l.startsWith('#'))!.replace(/\s+#.*$/, '')
    it(`README.md line ${block.line}: ${first}`, async function () {
      this.timeout(300_000)
      const inClone = block.note === 'run in the clone'
      const code = block.code.replaceAll(LOCAL_REDIS, harness().redis.url)
      const r = await bash(code, inClone ? projectRoot : work, inClone ? cloneEnv : env, 280_000)
      assert.equal(r.code, 0, `the block at README.md line ${block.line} failed:\n${r.output}`)
      if (/npm install -g \.\/s3c-/.test(code))
        assert.ok(existsSync(join(npmPrefix, 'lib', 'node_modules', 's3c', 'bin', 'run.js')), 'npm install -g installed the tarball')
    })
  }
})
