import {Command} from '@oclif/core'
import {ExitCode, S3cError, describeError} from '../core/errors.js'
import {formatBytes} from '../core/format.js'
import type {RunSummary} from '../engine/stats.js'
import {resolveS3Config, type S3ConfigFlags} from '../s3/config.js'

/** Every s3c command: one-line errors with documented exit codes. */
export abstract class S3cCommand extends Command {
  protected s3Config(flags: S3ConfigFlags, concurrency: number) {
    return resolveS3Config(flags, concurrency)
  }

  /** Ctrl-C or SIGTERM stops the run cleanly; a second Ctrl-C exits at once. */
  protected cancelOnSignals(): AbortSignal {
    const controller = new AbortController()
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(ExitCode.interrupted)
      process.stderr.write('\ns3c: stopping (Ctrl-C again to quit at once)\n')
      controller.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    return controller.signal
  }

  /** Prints the final summary; failed files make the exit code 1. */
  protected report(label: string, summary: RunSummary, json: boolean): void {
    if (json) {
      this.log(JSON.stringify({command: label, ...summary}))
    } else {
      const rate = summary.seconds > 0 ? `, ${formatBytes(Math.round(summary.bytes / summary.seconds))}/s` : ''
      this.log(`${label}: ${summary.filesDone} done, ${summary.filesSkipped} skipped, ${summary.filesFailed} failed, ` +
        `${formatBytes(summary.bytes)} in ${summary.seconds.toFixed(1)}s${rate}`)
      for (const f of summary.failures.slice(0, 50)) this.logToStderr(`failed: ${f.key}: ${f.error}`)
      if (summary.failures.length > 50) this.logToStderr(`… and ${summary.failures.length - 50} more failed files`)
    }
    if (summary.filesFailed > 0) process.exitCode = ExitCode.filesFailed
  }

  protected async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (err instanceof S3cError) {
      process.stderr.write(`s3c: ${err.message}\n`)
      process.exitCode = err.exitCode
      return
    }
    // oclif's own errors (bad flags, --help, exit) keep their handling.
    if (err.oclif) return super.catch(err)
    process.stderr.write(`s3c: ${describeError(err)}\n`)
    process.exitCode = ExitCode.fatal
  }
}
