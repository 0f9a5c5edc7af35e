import {Args, Flags} from '@oclif/core'
import {S3cCommand} from '../cli/base.js'
import {locationFlags, s3Flags, transferFlags} from '../cli/flags.js'
import {S3cError} from '../core/errors.js'
import {upload} from '../core/upload.js'
import {ProgressReporter} from '../engine/progress.js'
import {RunStats} from '../engine/stats.js'
import {isS3Url, resolveLocation} from '../s3/url.js'

export default class Upload extends S3cCommand {
  static summary = 'Upload a local folder tree to S3 (walk once, many requests in flight, skip unchanged files).'
  static examples = [
    'S3C_BUCKET=my-bucket <%= config.bin %> upload --thread-count 20 --prefix mirror/pypi',
    '<%= config.bin %> upload ./site s3://my-bucket/site --exclude "**/*.tmp"',
    '<%= config.bin %> upload --local-folder data --bucket my-bucket --prefix data --checksum --json',
  ]
  static args = {
    source: Args.string({description: 'local folder (or use --local-folder)'}),
    destination: Args.string({description: 's3://bucket/prefix (or use --bucket/--prefix)'}),
  }
  static flags = {
    ...locationFlags, ...transferFlags, ...s3Flags,
    'storage-class': Flags.string({description: 'storage class of the new objects (e.g. STANDARD_IA)'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Upload)
    const positional = [args.source, args.destination].filter((a): a is string => a !== undefined)
    const url = positional.find(isS3Url)
    const locals = positional.filter(a => !isS3Url(a))
    if (locals.length > 1) throw new S3cError(`give one local folder and one s3:// destination, got "${locals.join('" and "')}"`)
    if (locals.length === 1 && flags['local-folder']) throw new S3cError('give the local folder once: either DIR or --local-folder')
    const location = resolveLocation({url, bucket: flags.bucket, prefix: flags.prefix})
    const stats = new RunStats()
    const progress = new ProgressReporter(stats, {label: 'upload', enabled: !flags.quiet && !flags['dry-run']})
    progress.start()
    const signal = this.cancelOnSignals()
    try {
      const summary = await upload({
        location, localFolder: locals[0] ?? flags['local-folder'] ?? '.',
        s3: this.s3Config(flags, flags['thread-count']),
        threadCount: flags['thread-count'], maxRetry: flags['max-retry'],
        multipartThreshold: flags['multipart-threshold'], partSize: flags['part-size'],
        include: flags.include, exclude: flags.exclude, force: flags.force, checksum: flags.checksum,
        dryRun: flags['dry-run'], storageClass: flags['storage-class'], stats, signal,
        onPlan: line => this.log(line),
      })
      progress.stop()
      this.report('upload', summary, flags.json)
    } finally {
      progress.stop()
    }
  }
}
