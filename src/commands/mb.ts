import {Args} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {readOptions} from '../cli/options.js'
import {withS3} from '../storage/open.js'
import {bucketOfUrl, makeBucket} from '../verbs/buckets.js'

export default class Mb extends S3Command {
  static summary = 'Make a bucket (an existing one is refused, exit 2).'
  static examples = ['<%= config.bin %> mb s3://my-new-bucket', '<%= config.bin %> mb s3://my-new-bucket --region eu-west-1']
  static args = {url: Args.string({description: 's3://bucket', required: true})}

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Mb)
    const bucket = bucketOfUrl(args.url, 'mb')
    const opts = await readOptions(flags, 2)
    // LocationConstraint goes to AWS only (us-east-1 takes none); custom servers decide their own placement.
    const locationConstraint = !opts.s3.endpoint && opts.s3.region !== 'us-east-1' ? opts.s3.region : undefined
    await withS3({s3: opts.s3, maxRetry: opts.maxRetry}, s3 => makeBucket(s3, bucket, {locationConstraint}))
    this.log(`mb s3://${bucket}`)
    return {bucket}
  }
}
