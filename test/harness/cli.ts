import {spawn, type ChildProcess} from 'node:child_process'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {harness} from './hooks.js'
import {projectRoot} from './servers.js'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  /** stdout as bytes (binary output, e.g. download-single --stdout). */
  stdoutBytes: Buffer
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  /**
   * Run without the capabilities that let root read any file (setpriv from util-linux), so a
   * chmod 000 file is unreadable to the CLI even when the tests run as root.
   */
  noFileOverride?: boolean
  /** Bytes for the CLI's stdin (else stdin is closed). */
  input?: Buffer
  /** A worker or retry without --root keeps its own default (its working folder) instead of the harness's folders. */
  ownRoots?: boolean
}

/** Runs the real CLI (bin/run.js) as a child process against the harness' servers. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, opts).done
}

/** The environment the CLI runs in: the harness' S3 server, nothing from the caller's shell that would send it elsewhere. */
export function cliEnv(opts: CliOptions = {}): NodeJS.ProcessEnv {
  const {s3} = harness()
  const env: Record<string, string | undefined> = {
    ...process.env,
    AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region,
    AWS_ENDPOINT_URL: s3.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ENDPOINT_URL_S3: undefined, S3C_REDIS_URL: undefined, S3_ENDPOINT_URL: undefined, S3C_BUCKET: undefined, AWS_PROFILE: undefined,
    ...opts.env,
  }
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k]
  return env as NodeJS.ProcessEnv
}

/**
 * A worker, and s3c retry, act only on paths under their --root folders (default: the working
 * folder): the tests' workers and retries get the system's temporary folder (scratch folders are
 * there) and their working folder, unless a test names its own.
 */
function workerRoots(args: string[], opts: CliOptions): string[] {
  return (args[0] === 'worker' || args[0] === 'retry') && !args.includes('--root') && !opts.ownRoots ? ['--root', tmpdir(), '--root', opts.cwd ?? projectRoot] : []
}

/** Like runCli, with the child process at hand (to send it signals). */
export function spawnCli(args: string[], opts: CliOptions = {}): {child: ChildProcess; done: Promise<CliResult>} {
  const argv = [process.execPath, join(projectRoot, 'bin', 'run.js'), ...args, ...workerRoots(args, opts)]
  if (opts.noFileOverride) argv.unshift('setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--')
  const child = spawn(argv[0], argv.slice(1), {cwd: opts.cwd ?? projectRoot, env: cliEnv(opts), stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe']})
  if (opts.input) child.stdin!.end(opts.input)
  const done = new Promise<CliResult>((resolve, reject) => {
    const chunks: Buffer[] = []
    let stderr = ''
    child.stdout!.on('data', (d: Buffer) => { chunks.push(d) })
    child.stderr!.on('data', d => { stderr += d })
    child.on('error', reject)
    child.on('close', code => {
      const stdoutBytes = Buffer.concat(chunks)
      resolve({code: code ?? -1, stdout: stdoutBytes.toString('utf8'), stderr, stdoutBytes})
    })
  })
  return {child, done}
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), 200 columns wide, as a user at a
 * terminal sees it: stdout and stderr both arrive, with their escape codes, in `output()`.
 */
export function spawnCliInPty(args: string[], opts: CliOptions = {}): {child: ChildProcess; output(): string; done: Promise<CliResult>} {
  const command = ['stty cols 200 rows 50;', 'exec', ...[process.execPath, join(projectRoot, 'bin', 'run.js'), ...args].map(shellQuote)].join(' ')
  const child = spawn('script', ['-qfec', command, '/dev/null'], {cwd: opts.cwd ?? projectRoot, env: cliEnv(opts), stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  let stderr = ''
  child.stdout.on('data', d => { output += d })
  child.stderr.on('data', d => { stderr += d })
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code => resolve({code: code ?? -1, stdout: output, stderr, stdoutBytes: Buffer.from(output)}))
  })
  return {child, output: () => output, done}
}
