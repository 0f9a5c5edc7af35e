import {Args, Flags} from '@oclif/core'
import {ExitCode, S3cError} from '../base/errors.js'
import {formatBytes, parseSize} from '../base/units.js'
import {S3Command} from '../cli/base.js'
import {copyFlags, copySettings} from '../cli/copy-flags.js'
import type {JsonResult} from '../cli/output.js'
import {s3Options} from '../cli/options.js'
import {parseLocation, parseS3Url} from '../base/location.js'
import {pipeDefaults, pipeStdin} from '../verbs/pipe.js'

const size = Flags.custom<number>({parse: async input => parseSize(input)})

export default class Pipe extends S3Command {
  static summary = 'Stream stdin into one object: a streamed multipart upload of unknown length, bounded memory (a small stream is one PUT).'
  static examples = [
    'tar c ./logs | <%= config.bin %> pipe s3://my-bucket/backups/logs.tar',
    'pg_dump mydb | gzip | <%= config.bin %> pipe s3://my-bucket/db/mydb.sql.gz --storage-class STANDARD_IA',
  ]
  static args = {destination: Args.string({description: 's3://bucket/key', required: true})}
  static flags = {
    'part-size': size({description: 'size of the first parts (≥ 5MiB; doubled every 1,000 parts so any stream fits)', default: pipeDefaults.partSize}),
    concurrency: Flags.integer({char: 'c', description: 'parts uploading at once (memory: this many parts plus one)', default: pipeDefaults.concurrency, min: 1, max: 64}),
    'content-type': copyFlags['content-type'], metadata: copyFlags.metadata, 'storage-class': copyFlags['storage-class'],
    sse: copyFlags.sse, 'sse-kms-key-id': copyFlags['sse-kms-key-id'], acl: copyFlags.acl,
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Pipe)
    if (parseLocation(args.destination).type !== 's3') throw new S3cError(`pipe writes to S3: give s3://bucket/key, not "${args.destination}"`, ExitCode.usage)
    const {bucket, prefix: key} = parseS3Url(args.destination)
    if (!key || key.endsWith('/')) throw new S3cError(`pipe needs the object's key: s3://${bucket}/${key}NAME`, ExitCode.usage)
    const result = await pipeStdin({bucket, key}, {
      s3: await s3Options(flags, flags.concurrency), maxRetry: flags['max-retry'], partSize: flags['part-size'], concurrency: flags.concurrency,
      settings: copySettings(flags), signal: this.cancelOnSignals(),
    })
    this.log(`pipe: ${formatBytes(result.bytes)} -> ${result.url}${result.parts ? ` (${result.parts} parts)` : ''}`)
    return {command: 'pipe', ...result}
  }
}
