import {Flags} from '@oclif/core'
import {S3cCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {baseFlagSets, repeatable} from '../cli/flags.js'
import {s3Options} from '../cli/options.js'
import {ExitCode, S3cError} from '../base/errors.js'
import {noRedisError, redactUrl} from '../run/redis.js'
import {startWorker} from '../run/worker.js'
import {jobKey, workerRoots} from '../run/trust.js'
import {transferDefaults} from '../run/defaults.js'

export default class Worker extends S3cCommand {
  static summary = 'Run s3c jobs from Redis (BullMQ); start as many as you like, on any machine.'
  static description = 'Workers upload and download with their own S3 settings (flags and environment) and need the local paths the run names (the same machine or a shared file system). ' +
    'A worker acts only on paths under its --root folders, and with a job key (S3C_JOB_KEY or S3C_JOB_KEY_FILE) only on jobs signed with it (docs/USAGE.md, "Safety"). ' +
    'SIGTERM or Ctrl-C: stop taking jobs, finish the ones in hand (at most --grace-seconds), exit. With Redis unreachable it exits at once with code 3: ' +
    'the jobs in hand return to the queue once their locks lapse.'
  static examples = [
    'S3C_REDIS_URL=redis://127.0.0.1:6379 <%= config.bin %> worker',
    'S3C_REDIS_URL=redis://127.0.0.1:6379 <%= config.bin %> worker --concurrency 32',
  ]
  static baseFlags = baseFlagSets.s3Redis
  static flags = {
    concurrency: Flags.integer({char: 'c', min: 1, description: 'requests in flight at once: files or parts being transferred (a batch job\'s files share them; sockets are sized from it). ' +
      'Default: found by measuring, from 64 up to 128 (parts of large files: 128 MiB of them at most), as an upload or download without --thread-count'}),
    'stalled-seconds': Flags.integer({description: 'how soon the jobs of a worker that died go to other workers', default: 15, min: 1}),
    root: repeatable('a folder whose files jobs may read, write or delete (repeatable; default: the working folder); a job naming a path outside is refused'),
    'grace-seconds': Flags.integer({description: 'on SIGTERM, how long to wait for the jobs in hand before exiting anyway (keep it below your supervisor\'s kill timeout)', default: 30, min: 0}),
  }

  async run(): Promise<JsonResult> {
    const {flags} = await this.parse(Worker)
    if (!flags.redis) throw noRedisError()
    // Checked before Redis: a missing folder or an unreadable job key file is a usage error at once.
    const roots = workerRoots(flags.root ?? [process.cwd()])
    const key = jobKey()
    // Listening from the start: a signal while Redis does not answer ends the wait.
    const stopping = new AbortController()
    const onSignal = () => stopping.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    // What this worker did, for the --json object at the end.
    const done = {jobs: 0, filesDone: 0, filesSkipped: 0, filesFailed: 0}
    const worker = await startWorker({
      redisUrl: flags.redis, concurrency: flags.concurrency, roots, jobKey: key, s3: await s3Options(flags, flags.concurrency ?? transferDefaults.threadCount), stalledSeconds: flags['stalled-seconds'],
      signal: stopping.signal, onWarning: line => this.logProblem(line),
      onJob: (_job, result) => {
        done.jobs++
        for (const f of result.files ?? []) {
          if (f.status === 'done') done.filesDone++
          else if (f.status === 'skipped') done.filesSkipped++
          else done.filesFailed++
        }
      },
    })
    this.logToStderr(`s3c worker: ready (${flags.concurrency ? `${flags.concurrency} requests in flight` : `requests in flight found by measuring, from ${transferDefaults.adaptiveStart}`})`)
    if (!stopping.signal.aborted) await new Promise(resolve => stopping.signal.addEventListener('abort', resolve, {once: true}))
    if (!worker.redisLost()) this.logToStderr(`s3c worker: stopping, finishing the ${worker.active()} jobs in hand`)
    const outcome = await worker.close(flags['grace-seconds'] * 1000)
    if (!outcome.forced) return done
    const inHand = outcome.abandoned ? `; its ${outcome.abandoned} jobs in hand return to the queue when their locks lapse` : ''
    const error = outcome.redisLost
      ? new S3cError(`cannot reach Redis at ${redactUrl(flags.redis)} (${outcome.redisLost}): the worker stopped${inHand}`, ExitCode.fatal)
      : new S3cError(`stopped after --grace-seconds ${flags['grace-seconds']}${inHand}`, ExitCode.interrupted)
    // The jobs left in hand may still hold a request or a dead connection's timers: nothing is
    // left to wait for, so the worker exits now rather than when they give up.
    process.stderr.write(`s3c: ${error.message}\n`)
    process.exit(error.exitCode)
  }
}
