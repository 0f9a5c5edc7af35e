import {Writable} from 'node:stream'
import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {ExitCode, S3cError} from '../base/errors.js'
import {bundleReadFlags} from '../cli/flags.js'
import {readOptions} from '../cli/options.js'
import {downloadSingle} from '../verbs/download-single.js'
import {isLocalTar, resolveTarRef} from '../s3ci/ref.js'

/** process.stdout cannot be ended; this forwards to it and leaves it open. */
function stdoutSink(): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      if (process.stdout.write(chunk)) done()
      else process.stdout.once('drain', () => done())
    },
  })
}

export default class DownloadSingle extends S3Command {
  static summary = 'Fetch one member of a bundle or indexed tar with one ranged GET (two when the index is not cached yet).'
  static examples = [
    'S3C_BUCKET=my-bucket <%= config.bin %> download-single bundle small                # writes ./small',
    '<%= config.bin %> download-single s3://my-bucket/archives/x.tar docs/a.txt --out /tmp/a.txt',
    '<%= config.bin %> download-single bundle logs/ --out ./restore                      # a folder, coalesced GETs',
    '<%= config.bin %> download-single bundle config.json --stdout | jq .',
  ]
  static args = {
    bundle: Args.string({description: 'bundle id (under --prefix in --bucket), s3://bucket/key.tar, or a local tar (./x.tar)', required: true}),
    file: Args.string({description: 'member name as listed by list-files; ending in "/" for a folder', required: true}),
  }
  static flags = {
    ...bundleReadFlags,
    out: Flags.string({char: 'o', description: 'where to write (default: ./<file name>; a folder for FILE/)'}),
    stdout: Flags.boolean({description: 'write the member to standard output', exclusive: ['out']}),
    verbose: Flags.boolean({char: 'v', description: 'print the number of GET requests made', exclusive: ['quiet']}),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(DownloadSingle)
    if (flags.stdout && this.jsonEnabled())
      throw new S3cError('--json and --stdout do not go together: standard output carries the member\'s data (use --out PATH --json)', ExitCode.usage)
    const ref = resolveTarRef(args.bundle, {bucket: flags.bucket, prefix: flags.prefix})
    const res = await downloadSingle({
      ...await readOptions(flags, 8), ref, cache: flags.cache, member: args.file, out: flags.out, stdout: flags.stdout ? stdoutSink() : undefined,
    })
    if (flags.verbose) this.logToStderr(`${res.bytes} bytes, ${res.gets} ${isLocalTar(ref) ? 'read' : 'GET request'}${res.gets === 1 ? '' : 's'}${res.warm ? ' (index from cache)' : ''}`)
    if (!flags.stdout && res.path) this.logToStderr(res.path)
    return {member: args.file, ...res}
  }
}
