import {Args} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {readOptions} from '../cli/options.js'
import {withS3} from '../storage/open.js'
import {parseObjectUrl} from '../verbs/expand.js'
import {statObject} from '../verbs/stat.js'

export default class Head extends S3Command {
  static aliases = ['stat']
  static summary = 'Show an object\'s size, ETag, modification time, content type, storage class and metadata (one HEAD request). Alias: stat.'
  static description = 'The modification time is s3c\'s time rule: the object\'s mtime metadata (s3c\'s and rclone\'s), else Last-Modified in whole seconds ' +
    '("Modified" says which). A missing bucket or key is one line, exit 2.'
  static examples = [
    '<%= config.bin %> head s3://my-bucket/report.pdf',
    '<%= config.bin %> stat s3://my-bucket/report.pdf --json | jq .size',
  ]
  static args = {url: Args.string({description: 's3://bucket/key', required: true})}

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(Head)
    const {bucket, key} = parseObjectUrl(args.url, 'head')
    const opts = await readOptions(flags, 2)
    const info = await withS3({s3: opts.s3, maxRetry: opts.maxRetry}, s3 => statObject(s3, bucket, key))
    const when = (s: string) => new Date(Number(s.split('.')[0]) * 1000).toISOString().replace('.000Z', `${s.includes('.') ? `.${s.split('.')[1]}` : ''}Z`)
    const rows: [string, string][] = [
      ['URL', info.url], ['Size', String(info.size)], ['ETag', info.etag],
      ['Modified', `${when(info.mtime)} (${info.mtimeFrom === 'metadata' ? 'mtime metadata' : 'Last-Modified, whole seconds'})`],
      ['Last-Modified', info.lastModified], ['Content-Type', info.contentType ?? ''], ['Storage-Class', info.storageClass],
      ...Object.entries(info.metadata).map(([k, v]): [string, string] => [`Metadata ${k}`, v]),
    ]
    this.log(rows.map(([k, v]) => `${`${k}:`.padEnd(15)} ${v}`).join('\n'))
    return {...info}
  }
}
