import {Parser} from '@oclif/core'
import {ExitCode, S3cError} from '../base/errors.js'
import {formatBytes} from '../base/units.js'
import type {RunSummary} from '../run/stats.js'
import {cp} from '../verbs/cp.js'
import {mv} from '../verbs/mv.js'
import type {CommandLine, LineOutcome} from '../verbs/run.js'
import {sync} from '../verbs/sync.js'
import {removeObjects} from '../verbs/rm.js'
import {withS3} from '../storage/open.js'
import {readOptions} from './options.js'
import {transferDefaults} from '../run/defaults.js'
import {copyFlags, copyOptions, syncFlags, syncOptions, type CopyFlagValues} from './copy-flags.js'
import {baseFlagSets} from './flags.js'
import {errorLine} from './output.js'

/** What a line may name: the verb's flags and how a parsed line runs (the verb function itself). */
interface LineVerb {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  flags: Record<string, any>
  /** How many arguments the verb takes; -1: one or more (rm). */
  args: number
  run(flags: CopyFlagValues & Record<string, unknown>, args: string[], signal?: AbortSignal): Promise<RunSummary & {deleted?: number}>
}

/**
 * The verbs a `run` line may call, in this process. Each is the same function its command calls,
 * with flags parsed by the command's own definitions. Add a verb here to make it available in
 * run files.
 */
export const lineVerbs: Record<string, LineVerb> = {
  cp: {flags: copyFlags, args: 2, run: async (f, [s, d], signal) => cp({...await copyOptions(f, s, d), signal})},
  mv: {flags: copyFlags, args: 2, run: async (f, [s, d], signal) => mv({...await copyOptions(f, s, d), signal})},
  sync: {flags: syncFlags, args: 2, run: async (f, [s, d], signal) => sync({...await syncOptions(f, s, d), signal})},
  rm: {flags: {'dry-run': syncFlags['dry-run']}, args: -1, run: async (f, urls) => {
    const opts = await readOptions(f as never, Number(f['thread-count'] ?? transferDefaults.threadCount))
    const started = Date.now()
    const r = await withS3({s3: opts.s3, maxRetry: opts.maxRetry}, s3 => removeObjects(s3, urls, {threadCount: Number(f['thread-count'] ?? transferDefaults.threadCount), dryRun: !!f['dry-run']}))
    if (r.unmatched.length > 0 && r.removed === 0 && r.failed === 0) throw new S3cError(`rm: nothing matches ${r.unmatched.join(', ')}`, ExitCode.usage)
    const failures = [...r.failures.map(x => ({key: x.url, path: x.url, error: x.error})), ...r.unmatched.map(u => ({key: u, path: u, error: 'matches nothing'}))]
    return {filesDone: r.removed, filesSkipped: 0, filesFailed: r.failed + r.unmatched.length, bytes: 0, seconds: (Date.now() - started) / 1000, failures, skippedBy: {}, skips: []}
  }},
}

/** The one-line summary of a line's run, as the command prints it. */
function summaryLine(verb: string, s: RunSummary & {deleted?: number}): string {
  return `${verb}: ${s.filesDone} done, ${s.filesSkipped} skipped, ${s.filesFailed} failed, ${formatBytes(s.bytes)}${s.deleted ? `, ${s.deleted} deleted` : ''}`
}

/**
 * Runs one line: its verb's flags parsed (the run command's S3 flags are the defaults), the verb
 * called, its summary and failed files as output lines.
 */
export async function executeLine(cmd: CommandLine, defaults: Record<string, unknown>, signal?: AbortSignal): Promise<LineOutcome> {
  const [name, ...rest] = cmd.argv
  const verb = lineVerbs[name ?? '']
  if (!verb) throw new S3cError(`"${name ?? ''}" is not a command run can call: use ${Object.keys(lineVerbs).join(', ')}`, ExitCode.usage)
  let parsed
  try {
    parsed = await Parser.parse(rest, {flags: {...baseFlagSets.run, ...verb.flags}, args: {}, strict: false, '--': true})
  } catch (error) {
    throw new S3cError(`${name}: ${errorLine(error as Error)}`, ExitCode.usage)
  }
  const {flags, argv} = parsed
  const args = (argv as string[]).filter(a => typeof a === 'string')
  const unknown = args.find(a => a.startsWith('-') && a !== '-')
  if (unknown) throw new S3cError(`${name}: unknown flag ${unknown}`, ExitCode.usage)
  if (verb.args >= 0 ? args.length !== verb.args : args.length === 0)
    throw new S3cError(`${name} takes ${verb.args >= 0 ? verb.args : 'one or more'} arguments, got ${args.length}`, ExitCode.usage)
  const given = Object.fromEntries(Object.entries(flags).filter(([k]) => rest.some(a => a === `--${k}` || a.startsWith(`--${k}=`))))
  const summary = await verb.run({...flags, ...defaults, ...given} as CopyFlagValues & Record<string, unknown>, args, signal)
  const lines = [summaryLine(name, summary), ...summary.failures.slice(0, 50).map(f => `failed: ${f.key}: ${f.error}`)]
  return {ok: summary.filesFailed === 0, lines, result: {command: name, ...summary}}
}
