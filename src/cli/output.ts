import {Command, Flags, type Interfaces, ux} from '@oclif/core'
import {errorCodeOf, errorMessage} from '../base/errors.js'
import {didYouMeanFlag} from './suggest.js'

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

/** An error of oclif's flag and argument parser (it carries what was parsed). */
interface ParseError extends Error {
  parse: {input?: {flags?: Record<string, {char?: string; allowNo?: boolean; hidden?: boolean}>}}
  flags?: string[]
}

function isParseError(err: Error): err is ParseError {
  return typeof (err as Partial<ParseError>).parse === 'object'
}

/**
 * A flag or argument error as one line: unknown flags with the nearest valid ones
 * ("unknown flag --fooo (did you mean --force?)"), the others in oclif's words, all pointing at --help.
 */
function usageErrorLine(err: ParseError, command: string): string {
  if ((err.constructor.name === 'NonExistentFlagsError' || /^Nonexistent flags?:/.test(err.message)) && err.flags?.length) {
    const valid = ['--help']
    for (const [name, flag] of Object.entries(err.parse.input?.flags ?? {})) {
      if (flag.hidden) continue
      valid.push(`--${name}`)
      if (flag.allowNo) valid.push(`--no-${name}`)
      if (flag.char) valid.push(`-${flag.char}`)
    }
    const typed = err.flags.map(f => f.replace(/=.*$/s, ''))
    const suggested = typed.map(f => `${f}${didYouMeanFlag(f, valid)}`)
    const hint = suggested.every((s, i) => s === typed[i]) ? `; see s3c ${command} --help` : ''
    return `unknown flag${typed.length > 1 ? 's' : ''} ${suggested.join(', ')}${hint}`
  }
  return `${errorLine(err)}; see s3c ${command} --help`
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
    return {command: this.commandName, error: errorLine(err), code: err.oclif ? 'InvalidArgument' : errorCodeOf(err), exitCode: Number(process.exitCode ?? 1), ...this.partialResult}
  }

  /** Only oclif's own errors (flags, arguments) come here; S3cCommand.catch handles the others. */
  protected async catch(err: Interfaces.CommandError & {oclif?: {exit?: number}}): Promise<unknown> {
    if (isParseError(err)) {
      // One line, exit 2 (bad input), instead of oclif's message followed by the whole usage.
      err.message = usageErrorLine(err, this.commandName)
      process.exitCode = 2
      process.stderr.write(`s3c ${this.commandName}: ${err.message}\n`)
      if (this.jsonEnabled()) this.logJson(this.toErrorJson(err))
      return
    }
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
