import {pipeline} from 'node:stream/promises'
import {Writable} from 'node:stream'
import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import {readOptions} from '../cli/options.js'
import {createHash} from 'node:crypto'
import type {JsonResult} from '../cli/output.js'
import {withS3} from '../storage/open.js'
import {parseObjectUrl} from '../verbs/expand.js'
import {openObject, parseRange} from '../verbs/cat.js'

/** process.stdout cannot be ended; this forwards to it and leaves it open. */
function stdoutSink(): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      if (process.stdout.write(chunk)) done()
      else process.stdout.once('drain', () => done())
    },
  })
}

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
    const digest = createHash('sha256')
    let bytes = 0
    const counter = new Writable({
      write(chunk: Buffer, _enc, done) {
        digest.update(chunk)
        bytes += chunk.length
        done()
      },
    })
    await withS3({s3: opts.s3, maxRetry: opts.maxRetry}, async s3 => {
      await pipeline(await openObject(s3, bucket, key, range), this.jsonEnabled() || this.quiet ? counter : stdoutSink())
    })
    return this.jsonEnabled() ? {url: args.url, bytes, sha256: digest.digest('hex'), ...(flags.range ? {range: flags.range} : {})} : undefined
  }
}
