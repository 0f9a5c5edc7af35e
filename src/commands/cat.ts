import {pipeline} from 'node:stream/promises'
import {Writable} from 'node:stream'
import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import {readOptions} from '../cli/options.js'
import {ExitCode, S3cError} from '../base/errors.js'
import {withS3} from '../api/connect.js'
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
  static flags = {
    range: Flags.string({description: 'bytes START-END (inclusive), START- or -LAST_N; also as bytes=…'}),
  }

  async run(): Promise<undefined> {
    const {args, flags} = await this.parse(Cat)
    if (this.jsonEnabled()) throw new S3cError('cat writes the object to standard output: --json does not go with it (use s3c head --json)', ExitCode.usage)
    const {bucket, key} = parseObjectUrl(args.url, 'cat')
    const range = flags.range !== undefined ? parseRange(flags.range) : undefined
    const opts = await readOptions(flags, 2)
    await withS3({s3: opts.s3, maxRetry: opts.maxRetry}, async s3 => {
      // What cat writes is data, not a message: -q keeps it (as download-single --stdout).
      await pipeline(await openObject(s3, bucket, key, range), stdoutSink())
    })
    return undefined
  }
}
