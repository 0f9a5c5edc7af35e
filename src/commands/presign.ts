import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {readOptions} from '../cli/options.js'
import {withS3} from '../storage/open.js'
import {parseExpiry, presignUrl} from '../verbs/presign.js'

export default class Presign extends S3Command {
  static summary = 'Print a presigned GET URL of an object: anyone holding it can download the object until it expires.'
  static description = 'Signed here with the configured credentials (SigV4, query string); nothing is sent to S3, so the object is not checked.'
  static examples = ['<%= config.bin %> presign s3://my-bucket/report.pdf --expire 1h', 'curl -o report.pdf "$(<%= config.bin %> presign s3://my-bucket/report.pdf)"']
  static args = {url: Args.string({description: 's3://bucket/key', required: true})}
  static flags = {
    expire: Flags.string({description: 'how long the URL works: 30m, 1h, 2h30m, 7d (at most 7 days)', default: '1h'}),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Presign)
    const seconds = parseExpiry(flags.expire)
    const opts = await readOptions(flags, 1)
    const url = await withS3({s3: opts.s3, maxRetry: opts.maxRetry}, s3 => presignUrl(s3, args.url, seconds))
    this.log(url)
    return {url, expiresInSeconds: seconds, expires: new Date(Date.now() + seconds * 1000).toISOString()}
  }
}
