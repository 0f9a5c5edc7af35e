import {Args, Flags} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {locationFlags, transferFlags} from '../cli/flags.js'
import {runOptions} from '../cli/options.js'
import {bundle} from '../verbs/bundle.js'
import {resolveLocation} from '../base/location.js'

export default class Bundle extends RunCommand {
  static summary = 'Pack a local folder into one indexed tar in S3 (<prefix>/<id>/bundle.tar + .s3ci index), parts built in parallel.'
  static examples = [
    'S3C_BUCKET=my-bucket <%= config.bin %> bundle ./site bundle',
    '<%= config.bin %> bundle ./data --bucket my-bucket --prefix bundles          # prints the new bundle id',
  ]
  static args = {
    dir: Args.string({description: 'local folder to pack', required: true}),
    bundleId: Args.string({description: 'bundle id (default: a new id, printed)'}),
  }
  static flags = {
    ...locationFlags,
    ...(({'local-folder': _l, checksum: _c, ...rest}) => rest)(transferFlags),
    format: Flags.string({description: 'tar format for long names and large sizes', options: ['pax', 'gnu'], default: 'pax'}),
    'storage-class': Flags.string({description: 'storage class of the tar'}),
    'follow-symlinks': Flags.boolean({description: 'store what symbolic links point to (loops are detected); default: links are stored as links, as tar does'}),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Bundle)
    const made: {bundle?: string; tar?: string} = {}
    return this.executeTransfer('bundle', {
      ...await runOptions(flags, resolveLocation({bucket: flags.bucket, prefix: flags.prefix})),
      localFolder: args.dir, bundleId: args.bundleId, format: flags.format as 'pax' | 'gnu', storageClass: flags['storage-class'], followSymlinks: flags['follow-symlinks'],
    }, flags, opts => bundle(opts, (ref, id) => {
      made.bundle = id
      made.tar = `s3://${ref.bucket}/${ref.tarKey}`
      // Printed before the upload: a new id is known even if the run is stopped.
      this.log(`bundle ${id} -> ${made.tar}`)
    }), () => made)
  }
}
