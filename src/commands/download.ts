import {Args} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {locationFlags, stateFlags, transferFlags} from '../cli/flags.js'
import {download} from '../verbs/download.js'

export default class Download extends RunCommand {
  static summary = 'Download an S3 prefix into a local folder tree (list once, many requests in flight, skip unchanged files).'
  static examples = [
    '<%= config.bin %> download s3://my-bucket/mirror/pypi ./pypi',
    '<%= config.bin %> download s3://my-bucket/reports/2026.pdf ./report.pdf',
    'S3C_BUCKET=my-bucket <%= config.bin %> download --prefix mirror/pypi --local-folder my_local_mirror_dir --thread-count 20',
  ]
  static args = {
    source: Args.string({description: 's3://bucket/prefix (or use --bucket/--prefix), or one object\'s key'}),
    destination: Args.string({description: 'local folder (or use --local-folder); created if missing. For one object: the file, or the folder it goes into (an existing one, or a path ending in /)'}),
  }
  static flags = {...locationFlags, ...transferFlags, ...stateFlags}

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Download)
    return this.runTransfer('download', [args.source, args.destination], flags, download)
  }
}
