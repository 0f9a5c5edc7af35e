import {Args} from '@oclif/core'
import {S3cCommand} from '../cli/base.js'
import {locationFlags, s3Flags, transferFlags} from '../cli/flags.js'
import {S3cError} from '../core/errors.js'
import {download} from '../core/download.js'
import {ProgressReporter} from '../engine/progress.js'
import {RunStats} from '../engine/stats.js'
import {isS3Url, resolveLocation} from '../s3/url.js'

export default class Download extends S3cCommand {
  static summary = 'Download an S3 prefix into a local folder tree (list once, many requests in flight, skip unchanged files).'
  static examples = [
    '<%= config.bin %> download s3://my-bucket/mirror/pypi ./pypi',
    'S3C_BUCKET=my-bucket <%= config.bin %> download --prefix mirror/pypi --local-folder my_local_mirror_dir --thread-count 20',
  ]
  static args = {
    source: Args.string({description: 's3://bucket/prefix (or use --bucket/--prefix)'}),
    destination: Args.string({description: 'local folder (or use --local-folder); created if missing'}),
  }
  static flags = {...locationFlags, ...transferFlags, ...s3Flags}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Download)
    const positional = [args.source, args.destination].filter((a): a is string => a !== undefined)
    const url = positional.find(isS3Url)
    const locals = positional.filter(a => !isS3Url(a))
    if (locals.length > 1) throw new S3cError(`give one s3:// source and one local folder, got "${locals.join('" and "')}"`)
    if (locals.length === 1 && flags['local-folder']) throw new S3cError('give the local folder once: either DIR or --local-folder')
    const location = resolveLocation({url, bucket: flags.bucket, prefix: flags.prefix})
    const stats = new RunStats()
    const progress = new ProgressReporter(stats, {label: 'download', enabled: !flags.quiet && !flags['dry-run']})
    progress.start()
    const signal = this.cancelOnSignals()
    try {
      const summary = await download({
        location, localFolder: locals[0] ?? flags['local-folder'] ?? '.',
        s3: this.s3Config(flags, flags['thread-count']),
        threadCount: flags['thread-count'], maxRetry: flags['max-retry'],
        multipartThreshold: flags['multipart-threshold'], partSize: flags['part-size'],
        include: flags.include, exclude: flags.exclude, force: flags.force, checksum: flags.checksum,
        dryRun: flags['dry-run'], stats, signal, onPlan: line => this.log(line),
      })
      progress.stop()
      this.report('download', summary, flags.json)
    } finally {
      progress.stop()
    }
  }
}
