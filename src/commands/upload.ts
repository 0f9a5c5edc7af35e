import {Args, Flags} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {locationFlags, stateFlags, transferFlags} from '../cli/flags.js'
import {upload} from '../verbs/upload.js'

export default class Upload extends RunCommand {
  static summary = 'Upload a local folder tree (or one file) to S3 (walk once, many requests in flight, skip unchanged files).'
  static examples = [
    'S3C_BUCKET=my-bucket <%= config.bin %> upload --thread-count 20 --prefix mirror/pypi',
    '<%= config.bin %> upload ./site s3://my-bucket/site --exclude "**/*.tmp"',
    '<%= config.bin %> upload --local-folder data --bucket my-bucket --prefix data --checksum --json',
    '<%= config.bin %> upload report.pdf s3://my-bucket/reports/2026.pdf',
  ]
  static args = {
    source: Args.string({description: 'local folder (or use --local-folder), or one file'}),
    destination: Args.string({description: 's3://bucket/prefix (or use --bucket/--prefix); for one file, its key (or the prefix it goes under, when it ends with /)'}),
  }
  static flags = {
    ...locationFlags, ...transferFlags, ...stateFlags,
    'storage-class': Flags.string({description: 'storage class of the new objects (e.g. STANDARD_IA)'}),
    'follow-symlinks': Flags.boolean({description: 'upload what symbolic links point to, also outside the folder (loops are detected); default: links are skipped'}),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Upload)
    return this.runTransfer('upload', [args.source, args.destination], flags,
      opts => upload({...opts, storageClass: flags['storage-class'], followSymlinks: flags['follow-symlinks']}))
  }
}
