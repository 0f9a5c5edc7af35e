import {Flags} from '@oclif/core'
import {RedisCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {recentRuns, workersOn} from '../run/status.js'

export default class Runs extends RedisCommand {
  static summary = 'List recent distributed runs, newest first.'
  static examples = ['<%= config.bin %> runs --redis redis://127.0.0.1:6379 --limit 10']
  static flags = {
    limit: Flags.integer({description: 'how many runs', default: 20, min: 1}),
  }

  async run(): Promise<JsonResult> {
    const {flags} = await this.parse(Runs)
    return this.withRedis(flags.redis, async redis => {
      const runs = await recentRuns(redis, flags.limit)
      for (const s of runs) {
        this.log(`${s.runId}  ${s.state.padEnd(9)} ${s.filesDone} done ${s.filesSkipped} skipped ${s.filesFailed} failed  ${s.createdAt}  ${s.description}`)
      }
      const workers = await workersOn(redis)
      return {runs: runs.map(({failures: _failures, ...rest}) => rest), ...(workers !== undefined && {workers})}
    })
  }
}
