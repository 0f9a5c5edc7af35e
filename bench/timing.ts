/**
 * The one timing module of the benches: the median, a timed child process (whole process, start-up
 * included) and its peak memory. Child processes are spawned asynchronously, so a proxy that lives
 * in the bench process (test/harness/proxy.ts) keeps serving while they run.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {findTool, gnuTimeTool} from '../test/harness/tools.js'

/** The middle value; for an even count the mean of the two middle ones. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export interface TimedOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** 'capture' (default) keeps stdout in the result; 'ignore' drops it (a listing of 100,000 lines). */
  stdout?: 'capture' | 'ignore'
  /** Measure the child's peak resident set size (see peakRssBytes). */
  peakMemory?: boolean
  /** Reject when the command exits non-zero (default true). */
  check?: boolean
  /** Kill the command (SIGKILL) after this many seconds; the result then has timedOut (not an error). */
  timeoutSeconds?: number
}

export interface Timed {
  /** Wall time from spawn to exit, in seconds: the whole process, start-up included. */
  seconds: number
  code: number
  stdout: string
  stderr: string
  /**
   * With peakMemory: the child's peak resident set size in bytes, GNU time's "Maximum resident set
   * size" (wait4's ru_maxrss of the child; the largest of it and the children it waited for).
   */
  peakRssBytes?: number
  /** Killed after TimedOptions.timeoutSeconds. */
  timedOut?: boolean
}

/**
 * Runs `cmd args` and times it. Peak memory comes from GNU time (`time -f %M`, found on the PATH, the
 * kernel's own account of the process' largest RSS, which polling /proc could miss between
 * samples), written to a file of its own so the command's stderr stays as it is. time adds its
 * own exec to the wall time (about a millisecond), so timings with and without peakMemory are
 * not compared with each other.
 */
export function timed(cmd: string, args: string[], opts: TimedOptions = {}): Promise<Timed> {
  let argv = [cmd, ...args]
  let memDir: string | undefined
  if (opts.peakMemory) {
    memDir = mkdtempSync(join(tmpdir(), 's3c-bench-rss-'))
    argv = [findTool(gnuTimeTool), '-f', '%M', '-o', join(memDir, 'rss'), ...argv]
  }
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(argv[0], argv.slice(1), {env: opts.env, cwd: opts.cwd, stdio: ['ignore', opts.stdout === 'ignore' ? 'ignore' : 'pipe', 'pipe']})
    const out: Buffer[] = []
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => { out.push(d) })
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    let timedOut = false
    const timer = opts.timeoutSeconds === undefined ? undefined : setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutSeconds * 1000)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      let peakRssBytes: number | undefined
      if (memDir) {
        const kib = Number(/(\d+)\s*$/.exec(readFileSync(join(memDir, 'rss'), 'utf8'))?.[1])
        rmSync(memDir, {recursive: true, force: true})
        peakRssBytes = Number.isFinite(kib) ? kib * 1024 : undefined
      }
      const result: Timed = {seconds, code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr, peakRssBytes, timedOut}
      if (result.code !== 0 && opts.check !== false && !timedOut)
        reject(new Error(`${cmd} ${args.join(' ')} exited with ${result.code}\n${stderr.slice(-2000)}\n${result.stdout.slice(-2000)}`))
      else resolve(result)
    })
  })
}

/** `n` runs of `fn` (seconds each): the values in run order and their median. */
export async function medianOf(n: number, fn: (round: number) => Promise<number>): Promise<{median: number; values: number[]}> {
  const values: number[] = []
  for (let i = 0; i < n; i++) values.push(await fn(i))
  return {median: median(values), values}
}

/** Seconds as people read them: 480 ms, 2.35 s. */
export const formatSeconds = (s: number): string => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`)
