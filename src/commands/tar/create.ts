import {Args, Flags} from '@oclif/core'
import {RunCommand} from '../../cli/base.js'
import type {JsonResult} from '../../cli/output.js'
import {transferFlags} from '../../cli/flags.js'
import {runOptions} from '../../cli/options.js'
import {parseSize} from '../../base/units.js'
import {ExitCode, S3cError} from '../../base/errors.js'
import {tarCreate, type TarMode} from '../../verbs/tar-create.js'
import type {RequestCounts} from '../../tar/plan.js'
import {parseLocation, parseS3Url} from '../../base/location.js'

export default class TarCreate extends RunCommand {
  static summary = 'Build a tar of S3 objects inside S3: objects ≥ 5 MiB by UploadPartCopy (never downloaded), smaller ones packed in memory.'
  static examples = [
    '<%= config.bin %> tar create -f s3://my-bucket/archive.tar s3://my-bucket/files/',
    '<%= config.bin %> tar create -f s3://my-bucket/archive.tar -m manifest.csv --size-limit 1GiB',
    '<%= config.bin %> tar create -f s3://my-bucket/a.tar s3://my-bucket/files/ --dry-run',
  ]
  static args = {source: Args.string({description: 's3://bucket/prefix of the objects (or -m MANIFEST)'})}
  static flags = {
    file: Flags.string({char: 'f', description: 's3://bucket/key.tar of the archive to write', required: true}),
    manifest: Flags.string({char: 'm', description: 'CSV of bucket,key,size[,etag] (local file or s3:// URL), as s3tar takes'}),
    mode: Flags.string({description: 'auto: copy objects ≥ 5 MiB, fetch smaller ones; copy or memory: one way for all', options: ['auto', 'copy', 'memory'], default: 'auto'}),
    format: Flags.string({description: 'tar format', options: ['pax', 'gnu'], default: 'pax'}),
    toc: Flags.boolean({description: "write s3tar's toc.csv as the first member", default: true, allowNo: true}),
    'mtime-metadata': Flags.boolean({description: "members take each object's mtime metadata (s3c's and rclone's modification time), one HEAD per object; --no-mtime-metadata: Last-Modified from the listing, no HEADs", default: true, allowNo: true}),
    'size-limit': Flags.string({description: 'split into archive.01.tar, archive.02.tar, … of at most this size (e.g. 1GiB)'}),
    'storage-class': Flags.string({description: 'storage class of the archive'}),
    stats: Flags.boolean({description: 'print the S3 requests by kind and the bytes downloaded'}),
    ...(({'part-size': p, 'dry-run': d}) => ({'part-size': p, 'dry-run': d}))(transferFlags),
  }

  async run(): Promise<JsonResult> {
    const {args, flags} = await this.parse(TarCreate)
    if (parseLocation(flags.file).type !== 's3') throw new S3cError(`-f ${flags.file} is not an s3:// URL: the archive is written to S3`, ExitCode.usage)
    if (!args.source && !flags.manifest) throw new S3cError('give the objects to archive: an s3://bucket/prefix argument or -m manifest.csv', ExitCode.usage)
    if (args.source && flags.manifest) throw new S3cError('give either an s3://bucket/prefix or -m manifest.csv, not both', ExitCode.usage)
    if (args.source && parseLocation(args.source).type !== 's3') throw new S3cError(`"${args.source}" is not an s3:// URL: tar create archives objects already in S3 (use s3c bundle for a local folder)`, ExitCode.usage)
    const counts: {archive: string; counts: RequestCounts; members: number; size: number}[] = []
    const printCounts = () => {
      for (const c of counts) {
        const r = c.counts
        const line =
          `${c.archive}: ${c.members} members, ${c.size} bytes; requests: ${r.HeadObject} HeadObject, ${r.CreateMultipartUpload} CreateMultipartUpload, ${r.UploadPart} UploadPart, ` +
          `${r.UploadPartCopy} UploadPartCopy, ${r.CompleteMultipartUpload} CompleteMultipartUpload, ${r.GetObject} GetObject, ${r.PutObject} PutObject, ` +
          `${r.DeleteObjects} DeleteObjects (${r.temporaryObjects} temporary objects); ${r.bytesDownloaded} bytes downloaded`
        this.log(line)
      }
    }
    const shown = flags['dry-run'] || flags.stats
    return this.executeTransfer('tar create', {
      archive: flags.file, source: args.source, manifest: flags.manifest, mode: flags.mode as TarMode, format: flags.format as 'pax' | 'gnu',
      toc: flags.toc, mtimeMetadata: flags['mtime-metadata'], sizeLimit: flags['size-limit'] ? parseSize(flags['size-limit']) : undefined, storageClass: flags['storage-class'],
      ...await runOptions(flags, {bucket: parseS3Url(flags.file).bucket, prefix: ''}),
      onCounts: (archive: string, c: RequestCounts, members: number, size: number) => counts.push({archive, counts: c, members, size}),
    }, flags, async opts => {
      const summary = await tarCreate(opts)
      if (shown) printCounts()
      return summary
    }, () => (shown ? {archives: counts.map(c => ({archive: c.archive, members: c.members, size: c.size, requests: c.counts}))} : {}))
  }
}
