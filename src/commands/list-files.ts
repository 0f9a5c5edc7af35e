import {Args, Flags} from '@oclif/core'
import {S3Command} from '../cli/base.js'
import type {JsonResult} from '../cli/output.js'
import {bundleReadFlags} from '../cli/flags.js'
import {readOptions} from '../cli/options.js'
import {listFiles} from '../verbs/list-files.js'
import {resolveTarRef} from '../s3ci/ref.js'

const TYPE_CHAR = {file: '-', dir: 'd', symlink: 'l', hardlink: 'h', other: '?'} as const
/** The 'other' members ls can name (devices, FIFOs). */
const OTHER_CHAR: Record<string, string> = {CharacterDevice: 'c', BlockDevice: 'b', FIFO: 'p'}

function modeString(type: keyof typeof TYPE_CHAR, mode: number, tarType?: string): string {
  const rwx = (n: number) => `${n & 4 ? 'r' : '-'}${n & 2 ? 'w' : '-'}${n & 1 ? 'x' : '-'}`
  return (OTHER_CHAR[tarType ?? ''] ?? TYPE_CHAR[type]) + rwx(mode >> 6) + rwx(mode >> 3) + rwx(mode)
}

export default class ListFiles extends S3Command {
  static summary = 'List the members of a bundle or indexed tar from its index alone (the tar is not read).'
  static examples = [
    'S3C_BUCKET=my-bucket <%= config.bin %> list-files bundle',
    '<%= config.bin %> list-files s3://my-bucket/archives/x.tar docs --long',
  ]
  static args = {
    bundle: Args.string({description: 'bundle id (under --prefix in --bucket), s3://bucket/key.tar, or a local tar (./x.tar)', required: true}),
    prefix: Args.string({description: 'only members under this folder (whole path segments)'}),
  }
  static flags = {
    ...bundleReadFlags,
    long: Flags.boolean({char: 'l', description: 'mode, size, modification time, name'}),
  }

  async run(): Promise<JsonResult | undefined> {
    const {args, flags} = await this.parse(ListFiles)
    const members = await listFiles({
      ...await readOptions(flags), ref: resolveTarRef(args.bundle, {bucket: flags.bucket, prefix: flags.prefix}), cache: flags.cache, prefix: args.prefix,
    })
    if (this.jsonEnabled()) {
      return {members: members.map(m => ({name: m.name, type: m.type, size: m.size, mode: m.mode, mtime: new Date(m.mtime * 1000).toISOString(), offset: m.dataOffset, linkname: m.linkname,
        ...(m.sparse ? {sparse: true} : {}), ...(m.tarType ? {tarType: m.tarType} : {})}))}
    }
    if (this.quiet) return
    const out: string[] = []
    for (const m of members) {
      if (flags.long) out.push(`${modeString(m.type, m.mode, m.tarType)} ${String(m.size).padStart(12)} ${new Date(m.mtime * 1000).toISOString().slice(0, 19).replace('T', ' ')} ${m.name}${m.linkname ? ` -> ${m.linkname}` : ''}`)
      else out.push(m.name)
      if (out.length >= 4096) this.log(out.splice(0).join('\n'))
    }
    if (out.length) this.log(out.join('\n'))
  }
}
