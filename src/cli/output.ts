import {Command, Flags, type Interfaces, ux} from '@oclif/core'
import {errorMessage} from '../base/errors.js'

/** `--json` and `-q`: declared here once, for every command (oclif's baseFlags). */
export const outputFlags = {
  json: Flags.boolean({
    description: 'print one JSON object on stdout at the end: the result, or {"error", "exitCode"} on failure',
    helpGroup: 'OUTPUT',
  }),
  quiet: Flags.boolean({
    char: 'q',
    description: 'print nothing but errors and warnings: no progress, no summary, no information lines (the exit code tells)',
    helpGroup: 'OUTPUT',
  }),
}

// oclif's FlagOutput / ArgOutput, which its index does not export.
type FlagOutput = {[name: string]: any} // eslint-disable-line @typescript-eslint/no-explicit-any
type ArgOutput = {[name: string]: any} // eslint-disable-line @typescript-eslint/no-explicit-any

/** A result printed with --json: one object. */
export type JsonResult = Record<string, unknown>

/** The one-line message of any error a command ends with: what S3cCommand.catch writes, or oclif's parse error. */
export function errorLine(err: Error & {oclif?: unknown}): string {
  const message = err.oclif ? err.message : errorMessage(err)
  // oclif's messages span lines ("Missing 1 required arg:\nbundle  …\nSee more help with --help").
  return message.split('\n').map(l => l.trim()).filter(l => l && !/^See more help with/.test(l)).join(' ').replace(/\s+/g, ' ')
}

/**
 * Output of every s3c command, in one place. stdout carries the result: text, or with --json
 * exactly one JSON object (the value `run()` returns, or `{error, exitCode}` when the command
 * fails); stderr carries progress, information and problems. -q leaves problems only.
 */
export abstract class OutputCommand extends Command {
  static enableJsonFlag = true
  static baseFlags = outputFlags

  /** -q / --quiet, set once the flags are parsed. */
  protected quiet = false
  /** Fields of a run that had started when the command failed (its counts so far), for the --json error object. */
  protected partialResult?: JsonResult
  private jsonPrinted = false

  protected get commandName(): string {
    return (this.id ?? '').replaceAll(':', ' ')
  }

  protected async parse<F extends FlagOutput, B extends FlagOutput, A extends ArgOutput>(
    options?: Interfaces.Input<F, B, A>, argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const parsed = await super.parse(options, argv)
    this.quiet = (parsed.flags as {quiet?: boolean}).quiet === true
    return parsed
  }

  /** Text on stdout: not with --json (oclif drops it then) and not with -q. */
  log(message = '', ...args: unknown[]): void {
    if (!this.quiet) super.log(message, ...args)
  }

  /**
   * Information on stderr (run id, where a file went): not with -q. Unlike oclif's, it stays
   * with --json, which is about stdout.
   */
  logToStderr(message = '', ...args: unknown[]): void {
    if (!this.quiet) ux.stderr(message, ...(args as string[]))
  }

  /** Failed files and warnings: on stderr whatever the flags. */
  protected logProblem(line: string): void {
    process.stderr.write(line + '\n')
  }

  /** The one JSON object, on one line (oclif would pretty-print it over many). */
  protected logJson(json: unknown): void {
    this.jsonPrinted = true
    process.stdout.write(JSON.stringify(json) + '\n')
  }

  protected toSuccessJson(result: unknown): unknown {
    return {command: this.commandName, ...(result as JsonResult)}
  }

  protected toErrorJson(err: Error & {oclif?: unknown}): JsonResult {
    return {command: this.commandName, error: errorLine(err), exitCode: Number(process.exitCode ?? 1), ...this.partialResult}
  }

  /** Only oclif's own errors (flags, arguments) come here; S3cCommand.catch handles the others. */
  protected async catch(err: Interfaces.CommandError & {oclif?: {exit?: number}}): Promise<unknown> {
    if (!this.jsonEnabled()) return super.catch(err)
    process.exitCode = err.oclif?.exit ?? 2
    process.stderr.write(`s3c: ${errorLine(err)}\n`)
    this.logJson(this.toErrorJson(err))
  }

  /** With --json a command that failed still ends with one object: the error and its exit code. */
  protected async finally(err: Error | undefined): Promise<unknown> {
    if (err && this.jsonEnabled() && !this.jsonPrinted) this.logJson(this.toErrorJson(err))
    return super.finally(err)
  }
}
