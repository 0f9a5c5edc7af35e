import {Args} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import {syncFlags, syncOptions} from '../cli/copy-flags.js'
import type {JsonResult} from '../cli/output.js'
import {sync, type SyncSummary} from '../verbs/sync.js'

export default class Sync extends RunCommand {
  static summary = 'Make DST hold what SRC holds: local→S3, S3→local, S3→S3 (server-side); unchanged files are skipped as upload and download do.'
  static description = 'A file is unchanged when its counterpart has the same size and the same modification time (the time rule of upload and download; S3→S3 also the same ETag). --delete then removes from DST what SRC does not have (only names the filters select), in batches of 1,000 keys per request.'
  static examples = [
    '<%= config.bin %> sync ./pypi s3://my-bucket/mirror/pypi/ --delete',
    '<%= config.bin %> sync s3://my-bucket/mirror/ s3://backup-bucket/mirror/ --delete --dry-run',
    '<%= config.bin %> sync s3://my-bucket/site/ ./site --size-only',
  ]
  static args = {
    source: Args.string({description: 'local folder or s3://bucket/prefix/', required: true}),
    destination: Args.string({description: 'local folder or s3://bucket/prefix/', required: true}),
  }
  static flags = syncFlags

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Sync)
    const opts = await syncOptions(flags, args.source, args.destination)
    let deleted = 0
    const result = await this.executeTransfer('sync', {...opts, location: {bucket: '', prefix: ''}}, flags,
    async opts => {
      const summary: SyncSummary = await sync(opts)
      deleted = summary.deleted
      return summary
    })
    // A dry run's deletes are in its summary line.
    if (flags.delete && !flags['dry-run']) this.log(`sync: ${deleted} deleted`)
    return result
  }
}
