import type {ChildProcess} from 'node:child_process'
import {spawnCli, type CliOptions, type CliResult} from './cli.js'
import {harness} from './hooks.js'

/**
 * Runs the CLI and kills it if it has not exited within `ms`: the assertion is that it exits at
 * all (a hang fails the test with what it printed, instead of stalling the suite).
 */
export function runCliWithin(args: string[], opts: CliOptions = {}, ms = 60_000): Promise<CliResult & {timedOut: boolean}> {
  return within(spawnCli(args, opts), ms)
}

/** Waits for a spawned CLI, killing it after `ms` (see runCliWithin). */
export async function within(p: {child: ChildProcess; done: Promise<CliResult>}, ms = 60_000): Promise<CliResult & {timedOut: boolean}> {
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; p.child.kill('SIGKILL') }, ms)
  try {
    return {...(await p.done), timedOut}
  } finally {
    clearTimeout(timer)
  }
}

/** `s3c worker` against the harness' Redis, its S3 requests to `endpoint`. */
export function startWorker(endpoint: string, extra: string[] = []) {
  return spawnCli(['worker', '--concurrency', '16', '--stalled-seconds', '2', ...extra], {env: {AWS_ENDPOINT_URL: endpoint, S3C_REDIS_URL: harness().redis.url}})
}

/** The run id a command printed on stderr ("run ID" or "resuming run ID"). */
export function runIdOf(stderr: string): string {
  const m = /(?:^|\n)(?:resuming )?run (\d{8}-[0-9a-f]{8})/.exec(stderr)
  if (!m) throw new Error(`no run id in: ${stderr}`)
  return m[1]
}
