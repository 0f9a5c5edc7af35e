import {Args} from '@oclif/core'
import {formatBytes} from '../base/units.js'
import {RunCommand} from '../cli/base.js'
import {copyFlags, copyOptions} from '../cli/copy-flags.js'
import {objectToStdout} from '../cli/object-stdout.js'
import type {JsonResult} from '../cli/output.js'
import {cp, stdioCopy, type StdioCopy} from '../verbs/cp.js'
import {pipeDefaults, pipeStdin} from '../verbs/pipe.js'
import type {CopyOptions} from '../verbs/cp.js'

export default class Cp extends RunCommand {
  static summary = 'Copy files and objects: local→S3, S3→local, S3→S3 server-side (one object, a folder, or a wildcard); "-" is standard input or output.'
  static description = 'A folder (s3://b/dir/ or ./dir) is copied whole, its names kept under DST; a wildcard (s3://b/logs/*.gz) keeps the part of each name after the wildcard\'s folder. One object or file goes to DST, or into it when DST ends with /. S3→S3 copies never pass the bytes through s3c: CopyObject, or parallel UploadPartCopy parts for objects over 5 GiB; metadata is kept unless --metadata or --content-type is given. ' +
    '"-" as SRC stores standard input as one object (streamed as s3c pipe does, in this process); as DST it writes one object to standard output (as s3c cat; with --json only the JSON object is written).'
  static examples = [
    '<%= config.bin %> cp ./site s3://my-bucket/site/',
    '<%= config.bin %> cp s3://my-bucket/reports/2026.pdf ./',
    '<%= config.bin %> cp "s3://my-bucket/logs/*.gz" s3://archive-bucket/logs/ --storage-class GLACIER_IR',
    '<%= config.bin %> cp -n s3://my-bucket/data/ s3://backup-bucket/data/',
    'tar c ./logs | <%= config.bin %> cp - s3://my-bucket/backups/logs.tar',
    '<%= config.bin %> cp s3://my-bucket/backups/logs.tar - | tar t',
  ]
  static args = {
    source: Args.string({description: 'local file or folder, s3://bucket/key, s3://bucket/prefix/, a wildcard (quote it), or - (standard input)', required: true}),
    destination: Args.string({description: 'local path or s3://bucket/key (ending with / means "into"), or - (standard output)', required: true}),
  }
  static flags = copyFlags

  async run(): Promise<JsonResult | undefined> {
    const {args, flags} = await this.parse(Cp)
    const opts = await copyOptions(flags, args.source, args.destination)
    const stdio = stdioCopy(opts)
    if (stdio) return this.stdio(stdio, opts)
    return this.executeTransfer('cp', {...opts, location: {bucket: '', prefix: ''}}, flags, cp)
  }

  /** `cp - s3://b/key` (s3c pipe's upload: bounded memory, aborted on failure or Ctrl-C) and `cp s3://b/key -` (s3c cat's GET). */
  private async stdio(stdio: StdioCopy, opts: CopyOptions): Promise<JsonResult | undefined> {
    if (stdio.to === 'stdout') {
      const url = `s3://${stdio.from.bucket}/${stdio.from.key}`
      const {bytes, sha256} = await objectToStdout({s3: opts.s3, maxRetry: opts.maxRetry}, stdio.from, {drop: this.jsonEnabled()})
      return this.jsonEnabled() ? {command: 'cp', url, bytes, sha256} : undefined
    }
    const result = await pipeStdin(stdio.to, {s3: opts.s3, maxRetry: opts.maxRetry, partSize: opts.partSize, concurrency: pipeDefaults.concurrency,
      settings: opts.settings, signal: this.cancelOnSignals()})
    this.log(`cp: ${formatBytes(result.bytes)} -> ${result.url}${result.parts ? ` (${result.parts} parts)` : ''}`)
    return {command: 'cp', ...result}
  }
}
