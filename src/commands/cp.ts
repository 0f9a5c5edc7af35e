import {Args} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import {copyFlags, copyOptions} from '../cli/copy-flags.js'
import type {JsonResult} from '../cli/output.js'
import {cp} from '../verbs/cp.js'

export default class Cp extends RunCommand {
  static summary = 'Copy files and objects: local→S3, S3→local, S3→S3 server-side (one object, a folder, or a wildcard).'
  static description = 'A folder (s3://b/dir/ or ./dir) is copied whole, its names kept under DST; a wildcard (s3://b/logs/*.gz) keeps the part of each name after the wildcard\'s folder. One object or file goes to DST, or into it when DST ends with /. S3→S3 copies never pass the bytes through s3c: CopyObject, or parallel UploadPartCopy parts for objects over 5 GiB; metadata is kept unless --metadata or --content-type is given.'
  static examples = [
    '<%= config.bin %> cp ./site s3://my-bucket/site/',
    '<%= config.bin %> cp s3://my-bucket/reports/2026.pdf ./',
    '<%= config.bin %> cp "s3://my-bucket/logs/*.gz" s3://archive-bucket/logs/ --storage-class GLACIER_IR',
    '<%= config.bin %> cp -n s3://my-bucket/data/ s3://backup-bucket/data/',
  ]
  static args = {
    source: Args.string({description: 'local file or folder, s3://bucket/key, s3://bucket/prefix/, or a wildcard (quote it)', required: true}),
    destination: Args.string({description: 'local path or s3://bucket/key; ending with / means "into"', required: true}),
  }
  static flags = copyFlags

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Cp)
    const opts = await copyOptions(flags, args.source, args.destination)
    return this.executeTransfer('cp', {...opts, location: {bucket: '', prefix: ''}}, flags, cp)
  }
}
