import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {readOptions} from '../cli/options.js'
import {cleanup} from '../verbs/cleanup.js'
import {ExitCode, S3cError} from '../base/errors.js'
import {parseLocation, parseS3Url} from '../base/location.js'

const UNIT_MS = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000} as const

export default class Cleanup extends S3Command {
  static summary = 'Abort incomplete multipart uploads and delete s3c\'s temporary objects under a prefix (what a killed run left behind).'
  static description = 'Temporary objects are the staged TOCs and padded temporary objects of tar create (ARCHIVE.s3c-toc-…, ARCHIVE.s3c-tmp-…). ' +
    'S3 does not say who started a multipart upload: every incomplete upload under the prefix is aborted, so do not run this while another upload ' +
    'to the prefix is in progress, or spare recent ones with --older-than. A rerun of the same tar create or bundle cleans its own archive by itself.'
  static examples = [
    '<%= config.bin %> cleanup s3://my-bucket/archives/ --dry-run',
    '<%= config.bin %> cleanup s3://my-bucket/archives/ --older-than 1d --json',
  ]
  static args = {location: Args.string({description: 's3://bucket/prefix (a plain key prefix: s3://b/arch also matches arch2/)', required: true})}
  static flags = {
    'dry-run': Flags.boolean({description: 'list what would be aborted and deleted; change nothing'}),
    'older-than': Flags.string({description: 'only multipart uploads started at least this long ago (e.g. 30m, 12h, 2d)'}),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Cleanup)
    if (parseLocation(args.location).type !== 's3') throw new S3cError(`"${args.location}" is not an s3:// URL: give s3://bucket/prefix`, ExitCode.usage)
    const location = parseS3Url(args.location)
    let olderThanMs: number | undefined
    if (flags['older-than'] !== undefined) {
      const m = /^(\d+)([smhd])$/.exec(flags['older-than'].trim())
      if (!m) throw new S3cError(`--older-than ${flags['older-than']}: write a number and s, m, h or d (e.g. 12h)`, ExitCode.usage)
      olderThanMs = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
    }
    const dryRun = flags['dry-run']
    const where = `s3://${location.bucket}/${location.prefix}`
    const result = await cleanup({
      location, ...await readOptions(flags, 16), dryRun, olderThanMs,
      onItem: dryRun ? line => this.log(line) : undefined,
    })
    const uploads = result.multipartUploads === undefined ? 'multipart uploads not checked (this server does not list them)'
      : dryRun ? `abort ${result.multipartUploads} multipart uploads` : `${result.multipartUploads} multipart uploads aborted`
    this.log(dryRun ? `cleanup (dry run): would delete ${result.temporaryObjects} temporary objects, ${uploads} under ${where}`
      : `cleanup: ${result.temporaryObjects} temporary objects deleted, ${uploads} under ${where}`)
    return {command: 'cleanup', location: where, dryRun, temporaryObjects: result.temporaryObjects, multipartUploads: result.multipartUploads ?? null}
  }
}
