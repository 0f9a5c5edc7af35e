import {Flags} from '@oclif/core'
import {S3Command} from '../../cli/base.js'
import type {JsonResult} from '../../cli/output.js'
import {bundleReadFlags} from '../../cli/flags.js'
import {readOptions} from '../../cli/options.js'
import {tarList} from '../../verbs/tar-list.js'
import {resolveTarRef} from '../../s3ci/ref.js'
import {csvLine} from '../../base/csv.js'

export default class TarList extends S3Command {
  static summary = 'List an archive (in S3 or local): from its s3c index, its s3tar toc.csv, or its headers (any tar).'
  static examples = [
    '<%= config.bin %> tar list -f s3://my-bucket/archive.tar',
    '<%= config.bin %> tar list -f s3://my-bucket/archive.tar --extended      # name,offset,size,etag',
  ]
  static flags = {
    ...bundleReadFlags,
    file: Flags.string({char: 'f', description: 's3://bucket/key.tar or a local tar', required: true}),
    extended: Flags.boolean({description: 'name,offset,size,etag (CSV, offset of the data in the archive)'}),
  }

  async run(): Promise<JsonResult | undefined> {
    const {flags} = await this.parse(TarList)
    const listed = await tarList({...await readOptions(flags), ref: resolveTarRef(flags.file, {})})
    if (this.jsonEnabled()) {
      return {from: listed.from, members: listed.members.map(m => ({name: m.name, offset: m.dataOffset, size: m.size, etag: listed.etags.get(m.name)}))}
    }
    if (this.quiet) return
    const out: string[] = []
    for (const m of listed.members) {
      out.push(flags.extended ? csvLine([m.name, String(m.dataOffset), String(m.size), listed.etags.get(m.name) ?? '']) : m.name)
      if (out.length >= 4096) this.log(out.splice(0).join('\n'))
    }
    if (out.length) this.log(out.join('\n'))
  }
}
