import {Args, Flags} from '@oclif/core'
import {S3cCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {s3Flags} from '../cli/flags.js'
import {download} from '../core/download.js'
import {upload} from '../core/upload.js'
import {prepareRetry} from '../queue/retry.js'
import {resolveS3Config} from '../s3/config.js'

export default class Retry extends S3cCommand {
  static summary = 'Send the failed files of a finished distributed run again (same run id).'
  static examples = ['<%= config.bin %> retry 20261124-1a2b3c4d --redis redis://127.0.0.1:6379']
  static args = {runId: Args.string({description: 'run id (see s3c runs)', required: true})}
  static flags = {
    redis: Flags.string({description: 'Redis URL', env: 'REDIS_URL'}),
    detach: Flags.boolean({description: 'return once the jobs are enqueued'}),
    ...s3Flags,
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Retry)
    const command = await this.withRedis(flags.redis, redis => prepareRetry(redis, args.runId))
    const o = command.options
    const opts = {
      ...o, localFolder: command.localFolder, s3: await resolveS3Config(flags, o.threadCount),
      force: false, dryRun: false, redisUrl: flags.redis, runId: args.runId, detach: flags.detach,
    }
    return this.executeTransfer(command.kind, opts, flags, command.kind === 'upload' ? upload : download)
  }
}
