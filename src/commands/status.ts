import {Args} from '@oclif/core'
import {RedisCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {ExitCode, S3cError} from '../base/errors.js'
import {formatBytes} from '../base/units.js'
import {runStatus, workersOn} from '../run/status.js'

export default class Status extends RedisCommand {
  static summary = 'Show the progress of a distributed run (files done / failed / pending, bytes, rate).'
  static examples = ['<%= config.bin %> status 20261124-1a2b3c4d --redis redis://127.0.0.1:6379']
  static args = {runId: Args.string({description: 'run id (printed by upload/download --redis)', required: true})}
  static flags = {
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Status)
    return this.withRedis(flags.redis, async redis => {
      const s = await runStatus(redis, args.runId)
      if (!s) throw new S3cError(`no run "${args.runId}" in this Redis: see s3c runs`, ExitCode.usage)
      this.log(`${s.runId} ${s.state}: ${s.description}`)
      this.log(`  ${s.filesDone} done, ${s.filesSkipped} skipped, ${s.filesFailed} failed, ${s.jobsPending} jobs pending; ` +
        `${formatBytes(s.bytes)} at ${formatBytes(s.bytesPerSecond)}/s; started ${s.createdAt}`)
      if (s.fatal) this.log(`  stopped: ${s.fatal}`)
      for (const f of s.failures.slice(0, 20)) this.log(`  failed: ${f.key}: ${f.error}`)
      const workers = await workersOn(redis)
      if (workers !== undefined && (s.state === 'running' || s.state === 'enqueuing')) this.log(`  ${workers} worker${workers === 1 ? '' : 's'} connected`)
      return {...s, ...(workers !== undefined && {workers})}
    })
  }
}
