import {Args, Flags} from '@oclif/core'
import {RunCommand} from '../cli/base.js'
import {copyFlags, copySettings} from '../cli/copy-flags.js'
import type {JsonResult} from '../cli/output.js'
import {runOptions} from '../cli/options.js'
import {isS3Url, parseS3Url} from '../s3/url.js'
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
  static flags = {
    include: copyFlags.include, exclude: copyFlags.exclude,
    delete: Flags.boolean({description: 'delete what the destination has and the source does not (names the filters select only)'}),
    'size-only': Flags.boolean({description: 'a counterpart of the same size is unchanged (no time compare)'}),
    'exact-timestamps': Flags.boolean({description: 'S3→S3: a same-size object is unchanged only when its time is the source\'s (not merely older than its copy)'}),
    force: Flags.boolean({description: 'transfer everything, even unchanged files'}),
    checksum: Flags.boolean({description: 'local↔S3: compare content (sha256) instead of size and modification time'}),
    'follow-symlinks': Flags.boolean({description: 'local→S3: upload what symbolic links point to'}),
    'dry-run': copyFlags['dry-run'],
    'storage-class': copyFlags['storage-class'], sse: copyFlags.sse, 'sse-kms-key-id': copyFlags['sse-kms-key-id'], acl: copyFlags.acl,
    'multipart-threshold': copyFlags['multipart-threshold'], 'part-size': copyFlags['part-size'],
    'copy-threshold': copyFlags['copy-threshold'], 'copy-part-size': copyFlags['copy-part-size'],
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Sync)
    const s3 = [args.source, args.destination].find(isS3Url)
    const {location: _location, ...base} = await runOptions(flags, s3 ? parseS3Url(s3) : {bucket: '', prefix: ''})
    let deleted = 0
    const result = await this.executeTransfer('sync', {...base, location: {bucket: '', prefix: ''}, source: args.source, destination: args.destination,
      delete: flags.delete, sizeOnly: flags['size-only'], exactTimestamps: flags['exact-timestamps'], settings: copySettings(flags),
      followSymlinks: flags['follow-symlinks'], copyThreshold: flags['copy-threshold'], copyPartSize: flags['copy-part-size']}, flags,
    async opts => {
      const summary: SyncSummary = await sync(opts)
      deleted = summary.deleted
      return summary
    })
    if (flags.delete) this.log(`sync: ${deleted} ${flags['dry-run'] ? 'to delete' : 'deleted'}`)
    return result
  }
}
