import {Args} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {locationFlags, transferFlags} from '../cli/flags.js'
import {runOptions} from '../cli/options.js'
import {downloadAll} from '../verbs/download-all.js'
import {resolveTarRef, tarLocation} from '../s3ci/ref.js'

export default class DownloadAll extends RunCommand {
  static summary = 'Extract a whole bundle or indexed tar into a folder with parallel ranged GETs (no download-then-untar).'
  static examples = [
    'S3C_BUCKET=my-bucket <%= config.bin %> download-all bundle ./restore',
    '<%= config.bin %> download-all s3://my-bucket/archives/x.tar ./x --thread-count 64',
  ]
  static args = {
    bundle: Args.string({description: 'bundle id (under --prefix in --bucket), s3://bucket/key.tar, or a local tar (./x.tar)', required: true}),
    dest: Args.string({description: 'folder to extract into (default: the current directory)'}),
  }
  static flags = {
    ...locationFlags,
    ...(({'multipart-threshold': t, 'part-size': p}) => ({'multipart-threshold': t, 'part-size': p}))(transferFlags),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(DownloadAll)
    const ref = resolveTarRef(args.bundle, {bucket: flags.bucket, prefix: flags.prefix})
    return this.executeTransfer('download-all', {
      ...await runOptions(flags, tarLocation(ref)), ref, dest: args.dest ?? '.',
    }, flags, downloadAll)
  }
}
