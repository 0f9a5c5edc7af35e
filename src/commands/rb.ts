import {Args, Flags} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {runOptions} from '../cli/options.js'
import {ExitCode, S3cError} from '../base/errors.js'
import {withS3} from '../storage/open.js'
import {bucketOfUrl, removeBucket} from '../verbs/buckets.js'
import {rm} from '../verbs/rm.js'

export default class Rb extends RunCommand {
  static summary = 'Remove a bucket; one that holds objects is refused (exit 2) unless --force.'
  static description = '--force first deletes every object (DeleteObjects of 1,000 keys; with --redis on `s3c worker` processes) and aborts the incomplete multipart uploads ' +
    '(where the server lists them), then removes the bucket; on a versioned bucket it also deletes every older version and delete marker.'
  static examples = ['<%= config.bin %> rb s3://old-bucket', '<%= config.bin %> rb s3://scratch-bucket --force']
  static args = {url: Args.string({description: 's3://bucket', required: true})}
  static flags = {
    force: Flags.boolean({description: 'delete every object, version and delete marker (and abort incomplete uploads) first'}),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Rb)
    const bucket = bucketOfUrl(args.url, 'rb')
    if (flags.detach) throw new S3cError('rb --detach: the bucket can be removed only once its objects are gone; run rb without --detach (or s3c rm --detach \'s3://BUCKET/*\' first)', ExitCode.usage)
    const opts = await runOptions(flags, {bucket, prefix: ''})
    const url = `s3://${bucket}/*`
    const remove = (o: typeof opts) => withS3({s3: o.s3, maxRetry: o.maxRetry}, s3 => removeBucket(s3, bucket, {
      force: flags.force, threadCount: o.threadCount,
      // The emptying is a run of its own (rm's), so --redis puts its DeleteObjects on the workers.
      empty: async () => (await rm({...o, urls: [url], label: 'rb --force'})).summary,
    }))
    const {result: res, runId} = flags.force ? await this.executeRun('rb', opts, {}, remove) : {result: await remove(opts), runId: undefined}
    const emptied = flags.force ? ` (${res.objectsDeleted} objects deleted${res.versionsDeleted ? `, ${res.versionsDeleted} older versions and delete markers` : ''}${res.uploadsAborted !== undefined ? `, ${res.uploadsAborted} multipart uploads aborted` : ''})` : ''
    this.log(`rb s3://${bucket}${emptied}`)
    return {bucket, ...res, ...(runId ? {runId} : {})}
  }
}
