import {Args, Flags} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {runOptions} from '../cli/options.js'
import {writeStdout} from '../cli/stdout.js'
import {ExitCode} from '../base/errors.js'
import {noMatchError} from '../verbs/expand.js'
import {rm} from '../verbs/rm.js'

export default class Rm extends RunCommand {
  static summary = 'Remove objects: keys, prefixes ending in "/" (everything under them) and wildcards, in DeleteObjects of 1,000 keys.'
  static description = 's3://b/key removes that key (not checked first: S3 deletes idempotently); s3://b/dir/ everything under dir/; ' +
    's3://b/logs/*.gz what the wildcard matches (* crosses "/"); s3://b alone is refused (write s3://b/*). ' +
    'A prefix or wildcard that matches nothing is named on stderr and the exit code is 2; keys S3 did not delete are listed, exit 1. ' +
    'With --redis the DeleteObjects run on `s3c worker` processes (s3c retry RUN deletes the keys that failed).'
  static strict = false
  static examples = [
    '<%= config.bin %> rm s3://my-bucket/tmp/',
    '<%= config.bin %> rm \'s3://my-bucket/logs/*.gz\' s3://my-bucket/old.txt --dry-run',
    '<%= config.bin %> rm s3://my-bucket/scratch/ --redis redis://127.0.0.1:6379',
  ]
  static args = {url: Args.string({description: 's3:// URLs (as many as you like)', required: true})}
  static flags = {
    'dry-run': Flags.boolean({description: 'print what would be removed; delete nothing'}),
  }

  async run(): Promise<JsonResult> {
    const {argv, flags} = await this.parse(Rm)
    const urls = argv as string[]
    const opts = await runOptions(flags, {bucket: '', prefix: ''})
    const dryRun = flags['dry-run']
    const lines: string[] = []
    const flush = async () => {
      if (lines.length) await writeStdout(lines.splice(0).join('\n') + '\n')
    }
    const {result: {summary}, runId} = await this.executeRun('rm', {...opts, urls}, flags, o => rm({
      ...o,
      onRemoved: dryRun && !this.quiet && !this.jsonEnabled() ? url => {
        // Written in blocks as the listing goes: a dry run over millions of keys keeps memory flat.
        if (lines.push(`rm ${url}`) >= 4096) process.stdout.write(lines.splice(0).join('\n') + '\n')
      } : undefined,
    }))
    await flush()
    if (flags.detach && !dryRun) {
      this.log(String(runId))
      return {command: 'rm', runId}
    }
    for (const u of summary.unmatched) this.logProblem(`s3c: ${noMatchError(u).message}`)
    for (const f of summary.failures.slice(0, 50)) this.logProblem(`failed: ${f.url}: ${f.error}`)
    if (summary.failures.length > 50) this.logProblem(`… and ${summary.failed - 50} more not removed (--json lists them)`)
    this.log(dryRun ? `rm (dry run): would remove ${summary.removed} objects` : `rm: ${summary.removed} removed, ${summary.failed} failed`)
    if (summary.failed > 0) process.exitCode = ExitCode.filesFailed
    else if (summary.unmatched.length > 0) process.exitCode = ExitCode.usage
    return {...summary, ...(runId ? {runId} : {})}
  }
}
