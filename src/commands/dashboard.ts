import {Flags} from '@oclif/core'
import {RedisCommand} from '../cli/base.js'
import {repeatable} from '../cli/flags.js'
import {S3cError} from '../base/errors.js'
import {noRedisError} from '../run/redis.js'
import {parseAuth} from '../dashboard/auth.js'
import {startDashboard} from '../dashboard/server.js'

export default class Dashboard extends RedisCommand {
  static summary = 'Serve a web dashboard: bull-board for the s3c queue, recent runs with their progress, and Prometheus /metrics.'
  static description = 'Pages: / (runs, refreshes every 2 s), /queues (bull-board), /api/runs (JSON), /metrics (Prometheus text). ' +
    'Binds to 127.0.0.1 unless --host says otherwise; answers only to the names of that address (and --allowed-host) in the Host header, and takes writes ' +
    'only from its own pages (same Origin); with --auth every page asks for HTTP basic auth. Runs until Ctrl-C or SIGTERM.'
  static examples = [
    '<%= config.bin %> dashboard --redis redis://127.0.0.1:6379',
    'S3C_DASHBOARD_AUTH=ops:s3cret <%= config.bin %> dashboard --host 0.0.0.0 --port 8080 --read-only',
  ]
  static flags = {
    port: Flags.integer({description: 'TCP port (0: any free port)', default: 3000, min: 0, max: 65535}),
    host: Flags.string({description: 'address to listen on (0.0.0.0: every interface)', default: '127.0.0.1'}),
    auth: Flags.string({description: 'require HTTP basic auth as user:password', env: 'S3C_DASHBOARD_AUTH'}),
    'read-only': Flags.boolean({description: 'hide bull-board\'s actions (retry, clean, pause…) and refuse every non-GET request to it'}),
    runs: Flags.integer({description: 'how many recent runs to show and export', default: 20, min: 1}),
    'allowed-host': repeatable('another name the dashboard answers to in the Host header, e.g. a reverse proxy\'s (name, or name:port; repeatable)'),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Dashboard)
    if (!flags.redis) throw noRedisError()
    const auth = flags.auth === undefined ? undefined : parseAuth(flags.auth)
    const dashboard = await startDashboard({
      redisUrl: flags.redis, port: flags.port, host: flags.host, auth, readOnly: flags['read-only'], runs: flags.runs, allowedHosts: flags['allowed-host'],
      onWarning: line => this.logProblem(line),
    })
    // The one --json object comes now, not at the end: the address is what a caller waits for.
    if (this.jsonEnabled()) this.logJson({command: 'dashboard', url: dashboard.url})
    else this.log(`dashboard: ${dashboard.url}`)
    if (!auth && !/^(127\.|::1$|\[::1\]$|localhost$)/.test(flags.host))
      this.logProblem(`s3c dashboard: listening on ${flags.host} without --auth: anyone who can reach this port can see${flags['read-only'] ? '' : ' and change'} the queue`)
    await new Promise<void>(resolve => {
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
    })
    await dashboard.close()
  }
}
