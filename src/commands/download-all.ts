import {Args} from '@oclif/core'
import {S3cCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {locationFlags, s3Flags, transferFlags} from '../cli/flags.js'
import {downloadAll} from '../core/bundle-read.js'
import {resolveTarRef, tarLocation} from '../bundle/remote.js'
import {resolveS3Config} from '../s3/config.js'

export default class DownloadAll extends S3cCommand {
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
    ...locationFlags, ...s3Flags,
    ...(({'local-folder': _l, checksum: _c, include: _i, exclude: _e, 'dry-run': _d, force: _f, ...rest}) => rest)(transferFlags),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(DownloadAll)
    const ref = resolveTarRef(args.bundle, {bucket: flags.bucket, prefix: flags.prefix})
    return this.executeTransfer('download-all', {
      ref, dest: args.dest ?? '.', location: tarLocation(ref),
      s3: await resolveS3Config(flags, flags['thread-count']), threadCount: flags['thread-count'], maxRetry: flags['max-retry'],
      multipartThreshold: flags['multipart-threshold'], partSize: flags['part-size'],
      force: false, checksum: false, dryRun: false, redisUrl: flags.redis, runId: flags['run-id'], detach: flags.detach,
    }, flags, downloadAll)
  }
}
