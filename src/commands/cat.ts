import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import {readOptions} from '../cli/options.js'
import type {JsonResult} from '../cli/output.js'
import {objectToStdout} from '../cli/object-stdout.js'
import {parseObjectUrl} from '../verbs/expand.js'
import {parseRange} from '../verbs/cat.js'

export default class Cat extends S3Command {
  static summary = 'Write an object (or a byte range of it) to standard output.'
  static examples = [
    '<%= config.bin %> cat s3://my-bucket/config.json | jq .',
    '<%= config.bin %> cat s3://my-bucket/big.log --range 0-1023',
    '<%= config.bin %> cat s3://my-bucket/big.log --range bytes=-4096      # the last 4 KiB',
  ]
  static args = {url: Args.string({description: 's3://bucket/key', required: true})}
  static description = 'With --json nothing but one object is written: {url, bytes, sha256} of what cat read. With -q the object is read and dropped ' +
    '(the exit code says whether it could be read whole), as for every command.'
  static flags = {
    range: Flags.string({description: 'bytes START-END (inclusive), START- or -LAST_N; also as bytes=…'}),
  }

  async run(): Promise<JsonResult | undefined> {
    const {args, flags} = await this.parse(Cat)
    const {bucket, key} = parseObjectUrl(args.url, 'cat')
    const range = flags.range !== undefined ? parseRange(flags.range) : undefined
    const opts = await readOptions(flags, 2)
    // stdout carries either the data or, with --json, the one object (the bytes' count and SHA-256,
    // the data read and not written); -q reads and drops the data, as grep -q: the exit code tells.
    const {bytes, sha256} = await objectToStdout(opts, {bucket, key}, {range, drop: this.jsonEnabled() || this.quiet})
    return this.jsonEnabled() ? {url: args.url, bytes, sha256, ...(flags.range ? {range: flags.range} : {})} : undefined
  }
}
