import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {runFlags} from '../cli/flags.js'
import {readOptions} from '../cli/options.js'
import {withS3} from '../api/connect.js'
import {bucketOfUrl, removeBucket} from '../verbs/buckets.js'

export default class Rb extends S3Command {
  static summary = 'Remove a bucket; one that holds objects is refused (exit 2) unless --force.'
  static description = '--force first deletes every object (DeleteObjects of 1,000 keys) and aborts the incomplete multipart uploads ' +
    '(where the server lists them), then removes the bucket. Versions of a versioned bucket are not deleted.'
  static examples = ['<%= config.bin %> rb s3://old-bucket', '<%= config.bin %> rb s3://scratch-bucket --force']
  static args = {url: Args.string({description: 's3://bucket', required: true})}
  static flags = {
    force: Flags.boolean({description: 'delete every object (and abort incomplete uploads) first'}),
    'thread-count': runFlags['thread-count'],
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Rb)
    const bucket = bucketOfUrl(args.url, 'rb')
    const opts = await readOptions(flags, flags['thread-count'])
    const res = await withS3({s3: opts.s3, maxRetry: opts.maxRetry}, s3 => removeBucket(s3, bucket, {force: flags.force, threadCount: flags['thread-count']}))
    const emptied = flags.force ? ` (${res.objectsDeleted} objects deleted${res.uploadsAborted !== undefined ? `, ${res.uploadsAborted} multipart uploads aborted` : ''})` : ''
    this.log(`rb s3://${bucket}${emptied}`)
    return {bucket, ...res}
  }
}
