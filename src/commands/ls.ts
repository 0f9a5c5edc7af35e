import {parseS3} from '../base/location.js'
import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import {readOptions} from '../cli/options.js'
import {writeStdout} from '../cli/stdout.js'
import {formatBytes} from '../base/units.js'
import {withS3} from '../storage/open.js'
import {classCode, listBuckets, listUrl, lsDate, type LsEntry} from '../verbs/ls.js'

export default class Ls extends S3Command {
  static summary = 'List buckets, or the objects and folders under an s3:// prefix or wildcard.'
  static description = 'Without an argument: the buckets. s3://bucket/prefix/: one level, folders as "DIR name/" then objects (date UTC, size, name). ' +
    'A wildcard anywhere in the key lists recursively from the text before the first wildcard and keeps what matches: * and ** match any characters ' +
    'including "/", ? one character, [a-z] a class, \\ makes the next character literal. --json prints one JSON object per line (NDJSON). ' +
    'A missing bucket, or nothing found (but in a bucket\'s root), is one line and exit 2.'
  static examples = [
    '<%= config.bin %> ls',
    '<%= config.bin %> ls s3://my-bucket/logs/',
    '<%= config.bin %> ls \'s3://my-bucket/logs/*/2020-*.gz\' --humanize',
    '<%= config.bin %> ls s3://my-bucket/ --json | jq -r .key',
  ]
  static args = {url: Args.string({description: 's3://bucket[/prefix or wildcard]; none: the buckets'})}
  static flags = {
    humanize: Flags.boolean({char: 'H', description: 'sizes in KiB, MiB, GiB'}),
    long: Flags.boolean({char: 'l', description: 'also the ETag and the full storage class name'}),
    etag: Flags.boolean({char: 'e', description: 'also the ETag (as s5cmd -e)'}),
    'all-versions': Flags.boolean({description: 'every version and delete marker (ListObjectVersions), at every depth under the prefix'}),
  }

  async run(): Promise<undefined> {
    const {args, flags} = await this.parse(Ls)
    const opts = await readOptions(flags, 4)
    const json = this.jsonEnabled()
    const show = !this.quiet || json
    await withS3({s3: opts.s3, maxRetry: opts.maxRetry}, async s3 => {
      if (!args.url) {
        const buckets = await listBuckets(s3)
        if (!show) return
        await writeStdout(buckets.map(b => (json ? JSON.stringify({type: 'bucket', name: b.name, url: `s3://${b.name}`, created: b.created?.toISOString()})
          : `${b.created ? lsDate(b.created.getTime()) : ''.padEnd(19)}  s3://${b.name}`) + '\n').join(''))
        return
      }
      const bucket = parseS3(args.url).bucket
      for await (const page of listUrl(s3, args.url, {allVersions: flags['all-versions']})) {
        if (!show) continue
        await writeStdout(page.map(e => (json ? JSON.stringify(jsonEntry(bucket, e)) : this.line(e, flags)) + '\n').join(''))
      }
    })
    return undefined
  }

  /** s5cmd's columns: date, storage class code, [ETag], size (12 wide), name; folders as DIR. */
  private line(e: LsEntry, flags: {humanize: boolean; long: boolean; etag: boolean}): string {
    const etagWidth = flags.long || flags.etag ? 38 : 1
    if (e.type === 'dir') return `${''.padEnd(19)} ${''.padEnd(1)} ${''.padEnd(etagWidth)} ${'DIR'.padStart(12)} ${e.name}`
    const cls = flags.long ? e.storageClass : classCode(e.storageClass)
    const etag = flags.long || flags.etag ? (e.etag ?? '').replace(/"/g, '') : ''
    const size = flags.humanize ? formatBytes(e.size) : String(e.size)
    const version = e.versionId ? ` ${e.versionId}${e.deleteMarker ? ' (delete marker)' : e.isLatest ? ' (latest)' : ''}` : ''
    return `${lsDate(e.lastModifiedMs)} ${cls.padEnd(1)} ${etag.padEnd(etagWidth)} ${size.padStart(12)} ${e.name}${version}`
  }
}

function jsonEntry(bucket: string, e: LsEntry): Record<string, unknown> {
  if (e.type === 'dir') return {type: 'dir', url: `s3://${bucket}/${e.key}`, key: e.key, name: e.name}
  return {
    type: 'object', url: `s3://${bucket}/${e.key}`, key: e.key, name: e.name, size: e.size, lastModified: new Date(e.lastModifiedMs).toISOString(),
    etag: e.etag, storageClass: e.storageClass,
    ...(e.versionId !== undefined ? {versionId: e.versionId, isLatest: e.isLatest, deleteMarker: e.deleteMarker} : {}),
  }
}
