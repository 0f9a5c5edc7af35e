import {errorMessage, ExitCode, exitCodeOf, S3cError} from '../base/errors.js'
import {formatBytes} from '../base/units.js'
import type {TransferOptions} from '../run/session.js'
import {ProgressReporter} from '../run/progress.js'
import {RunStats, summarize, type RunSummary} from '../run/stats.js'
import {parseLocation, resolveLocation, STDIO_INSTEAD} from '../base/location.js'
import type {Redis} from 'ioredis'
import {checkRedis, connectRedis, noRedisError} from '../run/redis.js'
import {OutputCommand, type JsonResult} from './output.js'
import {baseFlagSets} from './flags.js'
import {runOptions, type RunFlagValues} from './options.js'

/** How long a command may take to stop after Ctrl-C / SIGTERM before it exits anyway. */
const STOP_GRACE_MS = 15_000

/** Every s3c command: one-line errors with documented exit codes; --json and -q from OutputCommand. */
export abstract class S3cCommand extends OutputCommand {
  /**
   * Runs an upload or download: the s3:// argument and the local folder may come in either
   * order (or as flags); progress, Ctrl-C and the summary are handled here.
   */
  protected async runTransfer(
    label: 'upload' | 'download', positional: (string | undefined)[], flags: RunFlagValues & {bucket?: string; prefix?: string; 'local-folder'?: string},
    run: (opts: TransferOptions & {localFolder: string}) => Promise<RunSummary>,
  ): Promise<JsonResult> {
    const given = positional.filter((a): a is string => a !== undefined)
    if (given.some(a => parseLocation(a).type === 'stdio')) throw new S3cError(`${label} takes a folder and an s3:// prefix, not "-": ${STDIO_INSTEAD}`, ExitCode.usage)
    const url = given.find(a => parseLocation(a).type === 's3')
    const locals = given.filter(a => parseLocation(a).type !== 's3')
    if (locals.length > 1) throw new S3cError(`give one local folder and one s3:// URL, got "${locals.join('" and "')}"`)
    if (locals.length === 1 && flags['local-folder']) throw new S3cError('give the local folder once: either as an argument or with --local-folder')
    const opts: TransferOptions & {localFolder: string} = {
      ...await runOptions(flags, resolveLocation({url, bucket: flags.bucket, prefix: flags.prefix})),
      localFolder: locals[0] ?? flags['local-folder'] ?? '.',
    }
    return this.executeTransfer(label, opts, flags, run)
  }

  /**
   * Progress, Ctrl-C, the run id and the summary around one run; returns the --json result
   * (`extra()`, the command's own fields, goes into it and into the error object of a failed run).
   */
  protected async executeTransfer<O extends TransferOptions>(
    label: string, opts: O, flags: {'dry-run'?: boolean; detach?: boolean},
    run: (opts: O) => Promise<RunSummary>, extra: () => JsonResult = () => ({}),
  ): Promise<JsonResult> {
    const stats = new RunStats()
    const progress = new ProgressReporter(stats, {label, enabled: !this.quiet && !flags['dry-run']})
    let runId: string | undefined
    // With --json the plan of a dry run goes into the one object; without, its lines go out a
    // thousand at a time (a line per key through this.log was half the CPU of a dry run of 100,000 keys).
    const plan: string[] = []
    const flushPlan = () => {
      if (!this.jsonEnabled() && plan.length > 0) process.stdout.write(`${plan.splice(0).join('\n')}\n`)
    }
    const full: O = {
      ...opts, stats, signal: this.cancelOnSignals(), onPlan: (line: string) => {
        plan.push(line)
        if (plan.length >= 1000) flushPlan()
      },
      onNotice: (line: string) => this.logToStderr(`s3c: ${line}`),
      onRunId: (id: string, resumed: boolean) => {
        runId = id
        if (!flags.detach || resumed) this.logToStderr(`${resumed ? 'resuming run' : 'run'} ${id}`)
      },
    }
    const fields = () => ({...extra(), ...(runId ? {runId} : {}), ...(plan.length > 0 ? {plan} : {})})
    progress.start()
    try {
      const summary = await run(full)
      flushPlan()
      progress.stop()
      if (flags.detach) {
        this.log(String(runId))
        return {command: label, runId}
      }
      return {command: label, ...fields(), ...this.report(label, summary, this.jsonEnabled(), flags['dry-run'])}
    } catch (error) {
      flushPlan()
      this.partialResult = {command: label, ...fields(), ...summarize(stats)}
      throw error
    } finally {
      progress.stop()
    }
  }

  /**
   * Progress, Ctrl-C and the run id around a run whose command prints its own summary (rm,
   * rb --force): returns what the run returned and, with --redis, the run's id.
   */
  protected async executeRun<O extends TransferOptions, R>(label: string, opts: O, flags: {'dry-run'?: boolean; detach?: boolean},
    run: (opts: O) => Promise<R>): Promise<{result: R; runId?: string}> {
    const stats = new RunStats()
    const progress = new ProgressReporter(stats, {label, enabled: !this.quiet && !flags['dry-run'] && !flags.detach})
    let runId: string | undefined
    const full: O = {
      ...opts, stats, signal: this.cancelOnSignals(), onNotice: (line: string) => this.logToStderr(`s3c: ${line}`),
      onRunId: (id: string, resumed: boolean) => {
        runId = id
        if (!flags.detach || resumed) this.logToStderr(`${resumed ? 'resuming run' : 'run'} ${id}`)
      },
    }
    progress.start()
    try {
      const result = await run(full)
      return {result, runId}
    } catch (error) {
      this.partialResult = {command: label, ...(runId ? {runId} : {}), ...summarize(stats)}
      throw error
    } finally {
      progress.stop()
    }
  }

  /** Opens the run's Redis (checked for noeviction) for one command and closes it after. */
  protected async withRedis<T>(url: string | undefined, fn: (redis: Redis) => Promise<T>): Promise<T> {
    if (!url) throw noRedisError()
    const redis = connectRedis(url)
    try {
      await checkRedis(redis, url)
      return await fn(redis)
    } finally {
      redis.disconnect()
    }
  }

  /**
   * Ctrl-C or SIGTERM stops the run cleanly; a second Ctrl-C exits at once, and so does a run
   * that has not stopped STOP_GRACE_MS after the signal (a request that never answers must not
   * keep a stopped command alive).
   */
  protected cancelOnSignals(): AbortSignal {
    const controller = new AbortController()
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(ExitCode.interrupted)
      process.stderr.write('\ns3c: stopping (Ctrl-C again to quit at once)\n')
      controller.abort()
      setTimeout(() => {
        process.stderr.write(`s3c: interrupted; did not stop within ${STOP_GRACE_MS / 1000} s, exiting (run the same command again to resume)\n`)
        process.exit(ExitCode.interrupted)
      }, STOP_GRACE_MS).unref()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    return controller.signal
  }

  /** Prints the final summary (text unless --json or -q) and the failed files; failed files make the exit code 1. */
  protected report(label: string, summary: RunSummary, json: boolean, dryRun = false): JsonResult {
    // The verbs that count their plan (upload, download, cp, mv, sync); bundle and tar print their own.
    const planned = dryRun ? summary.planned : undefined
    if (planned) {
      // As rm --dry-run: the plan named only what would change; one line sums it up.
      if (!json) {
        const acts = Object.entries(planned).map(([action, n]) => `${action} ${n}`).join(', ') || 'change nothing'
        const bytes = summary.plannedBytes ? ` (${formatBytes(summary.plannedBytes)})` : ''
        this.log(`${label} (dry run): would ${acts}${bytes}; ${summary.filesSkipped} unchanged`)
      }
      for (const f of summary.failures.slice(0, 50)) this.logProblem(`failed: ${f.key}: ${f.error}`)
      if (summary.filesFailed > 0) process.exitCode = ExitCode.filesFailed
      return {command: label, ...summary, dryRun: true, planned, plannedBytes: summary.plannedBytes ?? 0}
    }
    if (!json) {
      const rate = summary.seconds > 0 ? `, ${formatBytes(Math.round(summary.bytes / summary.seconds))}/s` : ''
      // Reasons are spelled out once something other than unchanged files was skipped.
      const reasons = Object.entries(summary.skippedBy ?? {}).sort(([a], [b]) => (a === 'unchanged' ? -1 : b === 'unchanged' ? 1 : a < b ? -1 : 1))
      const why = reasons.some(([r]) => r !== 'unchanged') ? ` (${reasons.map(([r, n]) => `${n} ${r}`).join(', ')})` : ''
      this.log(`${label}: ${summary.filesDone} done, ${summary.filesSkipped} skipped${why}, ${summary.filesFailed} failed, ` +
        `${formatBytes(summary.bytes)} in ${summary.seconds.toFixed(1)}s${rate}`)
      const named = (summary.skips ?? []).filter(s => s.reason !== 'symlink')
      for (const f of named.slice(0, 50)) this.logToStderr(`skipped: ${f.key}: ${f.reason}`)
      if (named.length > 50) this.logToStderr(`… and ${named.length - 50} more skipped files (--json lists them)`)
    }
    for (const f of summary.failures.slice(0, 50)) this.logProblem(`failed: ${f.key}: ${f.error}`)
    if (summary.failures.length > 50) this.logProblem(`… and ${summary.failures.length - 50} more failed files`)
    const links = summary.skippedBy?.symlink ?? 0
    if (links > 0) this.logToStderr(`s3c: ${links} symbolic link${links === 1 ? '' : 's'} skipped (use --follow-symlinks to upload what they point to)`)
    if (summary.filesFailed > 0) process.exitCode = ExitCode.filesFailed
    return {command: label, ...summary}
  }

  protected async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // oclif's own errors (bad flags, --help, exit) keep their handling.
    if (err.oclif) return super.catch(err)
    process.stderr.write(`s3c: ${errorMessage(err)}\n`)
    process.exitCode = exitCodeOf(err)
  }
}

/** Commands that read the runs in Redis: --redis (S3C_REDIS_URL) with the output flags. */
export abstract class RedisCommand extends S3cCommand {
  static baseFlags = baseFlagSets.redis
}

/** Commands that send S3 requests themselves, outside a run: the S3 flags and --max-retry. */
export abstract class S3Command extends S3cCommand {
  static baseFlags = baseFlagSets.s3
}

/** Commands that are runs: S3, --max-retry, --thread-count and where the jobs run (--redis, --run-id, --detach). */
export abstract class RunCommand extends S3cCommand {
  static baseFlags = baseFlagSets.run
}
