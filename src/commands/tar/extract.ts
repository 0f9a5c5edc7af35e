import {Args, Flags} from '@oclif/core'
import {RunCommand} from '../../cli/base.js'
import type {JsonResult} from '../../cli/output.js'
import {transferFlags} from '../../cli/flags.js'
import {runOptions} from '../../cli/options.js'
import {tarExtract} from '../../verbs/tar-extract.js'
import {resolveTarRef, tarLocation} from '../../s3ci/ref.js'
import {parseLocation, parseS3Url} from '../../base/location.js'

export default class TarExtract extends RunCommand {
  static summary = 'Extract members of an archive in S3 to S3 (server-side ranged copies) or to a local folder (ranged GETs); a local tar to a local folder.'
  static strict = false
  static examples = [
    '<%= config.bin %> tar extract -f s3://my-bucket/archive.tar -C s3://my-bucket/restored/',
    '<%= config.bin %> tar extract -f s3://my-bucket/archive.tar -C ./out docs/ README.md',
  ]
  static args = {members: Args.string({description: 'members, or folders ending in "/" (whole path segments); all when none'})}
  static flags = {
    file: Flags.string({char: 'f', description: 's3://bucket/key.tar or a local tar', required: true}),
    directory: Flags.string({char: 'C', description: 'destination: s3://bucket/prefix/ or a local folder', required: true}),
    'part-size': transferFlags['part-size'],
  }

  async run(): Promise<JsonResult> {
    const {argv, flags} = await this.parse(TarExtract)
    const ref = resolveTarRef(flags.file, {})
    const dest = flags.directory
    return this.executeTransfer('tar extract', {
      ...await runOptions(flags, parseLocation(dest).type === 's3' ? parseS3Url(dest) : tarLocation(ref)), ref, dest, select: argv as string[],
    }, flags, tarExtract)
  }
}
