import {Args, Flags} from '@oclif/core'
import {ExitCode} from '../base/errors.js'
import {RunCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {executeLine, lineVerbs} from '../cli/run-verbs.js'
import {commandLines, runLines} from '../verbs/run.js'
import {readableStdin} from '../local/stdin.js'

export default class Run extends RunCommand {
  static summary = 'Run a file of s3c commands (one a line) in parallel in this one process.'
  static description = `Lines are split as a shell would (quotes, backslashes; # comments and blank lines are skipped; no pipes or redirections). Each line's output is printed when it ends, prefixed with its line number. The exit code is 1 when any line failed. Verbs: ${Object.keys(lineVerbs).join(', ')}. The S3 flags given to run (--endpoint-url, --profile, …) apply to every line that does not give its own.`
  static examples = [
    '<%= config.bin %> run commands.txt --jobs 32',
    'printf "cp s3://b/a.txt s3://b/copy/\\nmv s3://b/tmp/x s3://b/done/\\n" | <%= config.bin %> run -',
  ]
  static args = {file: Args.string({description: 'a file of s3c command lines, or - for stdin', required: true})}
  static flags = {
    jobs: Flags.integer({char: 'j', description: 'lines running at once (s5cmd\'s --numworkers)', default: 16, min: 1, max: 1024}),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Run)
    const signal = this.cancelOnSignals()
    // The run's own S3 settings are every line's defaults.
    const defaults = Object.fromEntries(Object.entries({'endpoint-url': flags['endpoint-url'], region: flags.region, profile: flags.profile,
      'path-style': flags['path-style'], redis: flags.redis}).filter(([, v]) => v !== undefined))
    const results: JsonResult[] = []
    const {lines, failed} = await runLines(commandLines(args.file === '-' ? readableStdin('s3c command lines') : args.file), {
      jobs: flags.jobs, signal,
      execute: cmd => executeLine(cmd, defaults, signal),
      onOutcome: (l, outcome) => {
        for (const line of outcome.lines) (outcome.ok ? this.log(`${l.line}: ${line}`) : this.logProblem(`${l.line}: ${line}`))
        if (this.jsonEnabled()) results.push({line: l.line, ok: outcome.ok, ...(outcome.result ?? {error: outcome.lines[0]})})
      },
    })
    this.log(`run: ${lines} lines, ${lines - failed} ok, ${failed} failed`)
    if (failed > 0) process.exitCode = ExitCode.filesFailed
    if (signal.aborted) process.exitCode = ExitCode.interrupted
    return {command: 'run', lines, failed, results}
  }
}
