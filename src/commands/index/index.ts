import {Args} from '@oclif/core'
import {S3Command} from '../../cli/base.js'
import type {JsonResult} from '../../cli/output.js'
import {bundleReadFlags} from '../../cli/flags.js'
import {readOptions} from '../../cli/options.js'
import {indexTar} from '../../verbs/index-tar.js'
import {formatBytes} from '../../base/units.js'
import {resolveTarRef} from '../../s3ci/ref.js'
import {parseLocation} from '../../base/location.js'

export default class Index extends S3Command {
  static summary = 'Build the s3c index of any uncompressed tar (in S3 or local) so download-single and list-files work on it.'
  static examples = [
    '<%= config.bin %> index s3://my-bucket/archives/x.tar          # writes s3://my-bucket/archives/x.tar.s3ci',
    '<%= config.bin %> index ./backup.tar                           # writes ./backup.tar.s3ci',
  ]
  static args = {target: Args.string({description: 's3://bucket/key.tar or a local .tar file', required: true})}
  static flags = {...bundleReadFlags}

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Index)
    const ref = parseLocation(args.target).type === 's3' ? resolveTarRef(args.target, {}) : undefined
    const r = await indexTar({target: args.target, ref, ...await readOptions(flags)})
    this.log(`index ${r.indexedAt}: ${r.members} members; read ${formatBytes(r.bytesRead)} of ${formatBytes(r.tarSize)} in ${r.reads} request${r.reads === 1 ? '' : 's'}`)
    return {...r}
  }
}
