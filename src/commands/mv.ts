import {Args} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import {copyFlags, copyOptions} from '../cli/copy-flags.js'
import type {JsonResult} from '../cli/output.js'
import {mv} from '../verbs/mv.js'

export default class Mv extends RunCommand {
  static summary = 'Move files and objects: cp, then each source is deleted once its copy is complete (S3→S3 server-side).'
  static examples = [
    '<%= config.bin %> mv s3://my-bucket/incoming/ s3://my-bucket/processed/',
    '<%= config.bin %> mv ./report.pdf s3://my-bucket/reports/',
    '<%= config.bin %> mv "s3://my-bucket/tmp/*.csv" ./csv/',
  ]
  static args = {
    source: Args.string({description: 'local file or folder, s3://bucket/key, s3://bucket/prefix/, or a wildcard (quote it)', required: true}),
    destination: Args.string({description: 'local path or s3://bucket/key; ending with / means "into"', required: true}),
  }
  static flags = copyFlags

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Mv)
    const opts = await copyOptions(flags, args.source, args.destination)
    return this.executeTransfer('mv', {...opts, location: {bucket: '', prefix: ''}}, flags, mv)
  }
}
