import {Args, Flags} from '@oclif/core'
import {S3cCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {baseFlagSets, repeatable, runFlags} from '../cli/flags.js'
import {s3Options} from '../cli/options.js'
import {replayOf} from '../verbs/retry.js'
import {planRetry} from '../run/retry-plan.js'
import {workerRoots} from '../run/trust.js'

export default class Retry extends S3cCommand {
  static summary = 'Run the failed work of a finished distributed run again (same command, same run id).'
  static description = 'Replays the run\'s own command (upload, download, bundle, download-all, tar create, tar extract, cp/mv/sync S3→S3, rm, sync --delete) with its stored options, ' +
    'limited to what failed: upload/download send the failed files (skipped if they arrived meanwhile), download-all and tar extract the failed members, ' +
    'bundle and tar create build the failed archive(s) again, rm deletes the keys that failed. A run that was stopped (fatal error, Ctrl-C) runs whole again. ' +
    'A stored command naming a local path outside the --root folders is refused (docs/USAGE.md, "Safety").'
  static examples = ['<%= config.bin %> retry 20261124-1a2b3c4d --redis redis://127.0.0.1:6379']
  static args = {runId: Args.string({description: 'run id (see s3c runs)', required: true})}
  static baseFlags = baseFlagSets.s3Redis
  static flags = {
    detach: runFlags.detach,
    root: repeatable('a folder whose files the retried command may read, write or delete (repeatable; default: the working folder); a stored command naming a path outside is refused'),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Retry)
    // Checked before Redis, as a worker's: a missing folder is a usage error at once.
    const roots = workerRoots(flags.root ?? [process.cwd()])
    const s3 = await s3Options(flags, 8)
    const {command, failures} = await this.withRedis(flags.redis, redis => planRetry(redis, args.runId, roots))
    const replay = replayOf(command, failures)
    const opts = {...replay.options, s3: {...s3, maxSockets: Math.max(s3.maxSockets, replay.options.threadCount)}, redisUrl: flags.redis, runId: args.runId, detach: flags.detach}
    return this.executeTransfer(replay.label, opts, flags, replay.run)
  }
}
