import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {readOptions} from '../cli/options.js'
import {formatBytes} from '../base/units.js'
import {withS3} from '../storage/open.js'
import {diskUsage} from '../verbs/du.js'

export default class Du extends S3Command {
  static summary = 'Count the objects and bytes under an s3:// prefix or wildcard (from the listing alone).'
  static description = 's3://bucket/name counts the object "name" and everything under "name/"; wildcards as in ls (* crosses "/"). ' +
    'Nothing found (but in a bucket\'s root) is one line, exit 2.'
  static examples = [
    '<%= config.bin %> du s3://my-bucket/logs/ --humanize',
    '<%= config.bin %> du \'s3://my-bucket/logs/*.gz\' --group --json',
  ]
  static args = {url: Args.string({description: 's3://bucket[/prefix or wildcard]', required: true})}
  static flags = {
    humanize: Flags.boolean({char: 'H', description: 'sizes in KiB, MiB, GiB'}),
    group: Flags.boolean({char: 'g', description: 'one line per storage class'}),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Du)
    const opts = await readOptions(flags, 4)
    const res = await withS3({s3: opts.s3, maxRetry: opts.maxRetry}, s3 => diskUsage(s3, args.url))
    const size = (n: number) => (flags.humanize ? formatBytes(n) : `${n} bytes`)
    // s5cmd's line: "N bytes in M objects: URL [CLASS]".
    if (flags.group) for (const g of res.groups) this.log(`${size(g.size)} in ${g.count} objects: ${res.source} [${g.storageClass}]`)
    else this.log(`${size(res.size)} in ${res.count} objects: ${res.source}`)
    return {...res}
  }
}
