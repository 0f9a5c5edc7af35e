import {Flags} from '@oclif/core'
import {S3cCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {s3Flags} from '../cli/flags.js'
import {S3cError} from '../core/errors.js'
import {startWorker} from '../queue/worker.js'
import {resolveS3Config} from '../s3/config.js'

export default class Worker extends S3cCommand {
  static summary = 'Run s3c jobs from Redis (BullMQ); start as many as you like, on any machine.'
  static description = 'Workers upload and download with their own S3 settings (flags and environment) and need the local paths the run names (the same machine or a shared file system). SIGTERM or Ctrl-C: stop taking jobs, finish the ones in hand, exit.'
  static examples = [
    'REDIS_URL=redis://127.0.0.1:6379 <%= config.bin %> worker --concurrency 32',
  ]
  static flags = {
    redis: Flags.string({description: 'Redis URL', env: 'REDIS_URL'}),
    concurrency: Flags.integer({char: 'c', description: 'jobs in hand at once', default: 16, min: 1}),
    'stalled-seconds': Flags.integer({description: 'how soon the jobs of a worker that died go to other workers', default: 15, min: 1}),
    ...s3Flags,
  }

  async run(): Promise<JsonResult> {
    const {flags} = await this.parse(Worker)
    if (!flags.redis) throw new S3cError('no Redis given: pass --redis redis://host:6379 or set REDIS_URL')
    // What this worker did, for the --json object at the end.
    const done = {jobs: 0, filesDone: 0, filesSkipped: 0, filesFailed: 0}
    const worker = await startWorker({
      redisUrl: flags.redis, concurrency: flags.concurrency, s3: await resolveS3Config(flags, flags.concurrency), stalledSeconds: flags['stalled-seconds'],
      onJob: (_job, result) => {
        done.jobs++
        for (const f of result.files ?? []) {
          if (f.status === 'done') done.filesDone++
          else if (f.status === 'skipped') done.filesSkipped++
          else done.filesFailed++
        }
      },
    })
    this.logToStderr(`s3c worker: ready (concurrency ${flags.concurrency})`)
    await new Promise<void>(resolve => {
      const stop = () => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    this.logToStderr('s3c worker: stopping, finishing the jobs in hand')
    await worker.close()
    return done
  }
}
