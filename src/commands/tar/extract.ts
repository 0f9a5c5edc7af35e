import {Args, Flags} from '@oclif/core'
import {S3cCommand} from '../../cli/base.js'
import type {JsonResult} from '../../cli/output.js'
import {s3Flags, transferFlags} from '../../cli/flags.js'
import {tarExtract} from '../../core/tar-read.js'
import {resolveTarRef, tarLocation} from '../../bundle/remote.js'
import {resolveS3Config} from '../../s3/config.js'
import {isS3Url, parseS3Url} from '../../s3/url.js'

export default class TarExtract extends S3cCommand {
  static summary = 'Extract members of an archive in S3 to S3 (server-side ranged copies) or to a local folder (ranged GETs); a local tar to a local folder.'
  static strict = false
  static examples = [
    '<%= config.bin %> tar extract -f s3://my-bucket/archive.tar -C s3://my-bucket/restored/',
    '<%= config.bin %> tar extract -f s3://my-bucket/archive.tar -C ./out docs/ README.md',
  ]
  static args = {members: Args.string({description: 'members, or folders ending in "/" (whole path segments); all when none'})}
  static flags = {
    ...s3Flags,
    file: Flags.string({char: 'f', description: 's3://bucket/key.tar or a local tar', required: true}),
    directory: Flags.string({char: 'C', description: 'destination: s3://bucket/prefix/ or a local folder', required: true}),
    ...(({'thread-count': t, 'max-retry': r, 'part-size': p, redis, 'run-id': id, detach}) =>
      ({'thread-count': t, 'max-retry': r, 'part-size': p, redis, 'run-id': id, detach}))(transferFlags),
  }

  async run(): Promise<JsonResult> {
    const {argv, flags} = await this.parse(TarExtract)
    const ref = resolveTarRef(flags.file, {})
    const dest = flags.directory
    return this.executeTransfer('tar extract', {
      ref, dest, select: argv as string[], location: isS3Url(dest) ? parseS3Url(dest) : tarLocation(ref),
      s3: await resolveS3Config(flags, flags['thread-count']), threadCount: flags['thread-count'], maxRetry: flags['max-retry'],
      multipartThreshold: 8 << 20, partSize: flags['part-size'], force: false, checksum: false, dryRun: false,
      redisUrl: flags.redis, runId: flags['run-id'], detach: flags.detach,
    }, flags, tarExtract)
  }
}
